/*
 * regloop.S for riscv64: sc_regloop (regloop.h says what and why).
 *
 * uint64_t sc_regloop(sc_regs *r)   a0 = r throughout, t0 the scratch
 *
 * Offsets into sc_regs (regloop.h checks them with _Static_assert):
 *   0 want[58]  464 got[58]  928 left  936 check  944 features
 *   952 halt  960 savectl  968 inner  976 live
 *
 * Held: a1-a7, t1-t6, s1-s11; fcsr's rounding mode; f0-f31 (64 bits).
 * This port has no asynchronous preemption: the loop checks that
 * whatever interrupts it (signals, the kernel) gives the registers back.
 */
#if !defined(__riscv) || __riscv_xlen != 64 || !defined(__ELF__)
#error "regloop.S: this file is for riscv64 ELF only"
#endif

	.text
	.globl	sc_regloop
	.type	sc_regloop, @function
	.p2align 2
sc_regloop:
	addi	sp, sp, -208
	sd	ra, 0(sp)
	sd	s1, 8(sp)
	sd	s2, 16(sp)
	sd	s3, 24(sp)
	sd	s4, 32(sp)
	sd	s5, 40(sp)
	sd	s6, 48(sp)
	sd	s7, 56(sp)
	sd	s8, 64(sp)
	sd	s9, 72(sp)
	sd	s10, 80(sp)
	sd	s11, 88(sp)
	fsd	fs0, 96(sp)
	fsd	fs1, 104(sp)
	fsd	fs2, 112(sp)
	fsd	fs3, 120(sp)
	fsd	fs4, 128(sp)
	fsd	fs5, 136(sp)
	fsd	fs6, 144(sp)
	fsd	fs7, 152(sp)
	fsd	fs8, 160(sp)
	fsd	fs9, 168(sp)
	fsd	fs10, 176(sp)
	fsd	fs11, 184(sp)
	frcsr	t0
	sd	t0, 960(a0)
.Lround:
	ld	t0, 192(a0)
	fscsr	t0
	fld	f0, 200(a0)
	fld	f1, 208(a0)
	fld	f2, 216(a0)
	fld	f3, 224(a0)
	fld	f4, 232(a0)
	fld	f5, 240(a0)
	fld	f6, 248(a0)
	fld	f7, 256(a0)
	fld	f8, 264(a0)
	fld	f9, 272(a0)
	fld	f10, 280(a0)
	fld	f11, 288(a0)
	fld	f12, 296(a0)
	fld	f13, 304(a0)
	fld	f14, 312(a0)
	fld	f15, 320(a0)
	fld	f16, 328(a0)
	fld	f17, 336(a0)
	fld	f18, 344(a0)
	fld	f19, 352(a0)
	fld	f20, 360(a0)
	fld	f21, 368(a0)
	fld	f22, 376(a0)
	fld	f23, 384(a0)
	fld	f24, 392(a0)
	fld	f25, 400(a0)
	fld	f26, 408(a0)
	fld	f27, 416(a0)
	fld	f28, 424(a0)
	fld	f29, 432(a0)
	fld	f30, 440(a0)
	fld	f31, 448(a0)
	ld	t0, 976(a0)		/* vectors in place: say so */
	beqz	t0, 4f
	li	a1, 1
	sw	a1, 0(t0)
4:
	ld	t0, 936(a0)
	sd	t0, 968(a0)
	ld	a1, 0(a0)
	ld	a2, 8(a0)
	ld	a3, 16(a0)
	ld	a4, 24(a0)
	ld	a5, 32(a0)
	ld	a6, 40(a0)
	ld	a7, 48(a0)
	ld	t1, 56(a0)
	ld	t2, 64(a0)
	ld	t3, 72(a0)
	ld	t4, 80(a0)
	ld	t5, 88(a0)
	ld	t6, 96(a0)
	ld	s1, 104(a0)
	ld	s2, 112(a0)
	ld	s3, 120(a0)
	ld	s4, 128(a0)
	ld	s5, 136(a0)
	ld	s6, 144(a0)
	ld	s7, 152(a0)
	ld	s8, 160(a0)
	ld	s9, 168(a0)
	ld	s10, 176(a0)
	ld	s11, 184(a0)
.Lspin:
	lw	t0, 952(a0)		/* halt */
	bnez	t0, 1f
	ld	t0, 968(a0)
	addi	t0, t0, -1
	sd	t0, 968(a0)
	bnez	t0, .Lspin
	j	2f
1:	li	t0, 1
	sd	t0, 968(a0)		/* halted: one last check, then out */
2:
	sd	a1, 464(a0)
	sd	a2, 472(a0)
	sd	a3, 480(a0)
	sd	a4, 488(a0)
	sd	a5, 496(a0)
	sd	a6, 504(a0)
	sd	a7, 512(a0)
	sd	t1, 520(a0)
	sd	t2, 528(a0)
	sd	t3, 536(a0)
	sd	t4, 544(a0)
	sd	t5, 552(a0)
	sd	t6, 560(a0)
	sd	s1, 568(a0)
	sd	s2, 576(a0)
	sd	s3, 584(a0)
	sd	s4, 592(a0)
	sd	s5, 600(a0)
	sd	s6, 608(a0)
	sd	s7, 616(a0)
	sd	s8, 624(a0)
	sd	s9, 632(a0)
	sd	s10, 640(a0)
	sd	s11, 648(a0)
	fsd	f0, 664(a0)
	fsd	f1, 672(a0)
	fsd	f2, 680(a0)
	fsd	f3, 688(a0)
	fsd	f4, 696(a0)
	fsd	f5, 704(a0)
	fsd	f6, 712(a0)
	fsd	f7, 720(a0)
	fsd	f8, 728(a0)
	fsd	f9, 736(a0)
	fsd	f10, 744(a0)
	fsd	f11, 752(a0)
	fsd	f12, 760(a0)
	fsd	f13, 768(a0)
	fsd	f14, 776(a0)
	fsd	f15, 784(a0)
	fsd	f16, 792(a0)
	fsd	f17, 800(a0)
	fsd	f18, 808(a0)
	fsd	f19, 816(a0)
	fsd	f20, 824(a0)
	fsd	f21, 832(a0)
	fsd	f22, 840(a0)
	fsd	f23, 848(a0)
	fsd	f24, 856(a0)
	fsd	f25, 864(a0)
	fsd	f26, 872(a0)
	fsd	f27, 880(a0)
	fsd	f28, 888(a0)
	fsd	f29, 896(a0)
	fsd	f30, 904(a0)
	fsd	f31, 912(a0)
	frcsr	t0
	andi	t0, t0, 0xe0
	sd	t0, 656(a0)
	li	t0, 0
	addi	a2, a0, 464
1:	slli	a3, t0, 3
	add	a4, a0, a3
	add	a5, a2, a3
	ld	a4, 0(a4)
	ld	a5, 0(a5)
	bne	a4, a5, 2f
	addi	t0, t0, 1
	li	a3, 58
	bltu	t0, a3, 1b
	ld	a1, 968(a0)
	bnez	a1, .Ldone
	ld	a1, 936(a0)
	ld	a2, 928(a0)
	bleu	a2, a1, .Ldone
	sub	a2, a2, a1
	sd	a2, 928(a0)
	j	.Lround
2:	addi	a1, t0, 1
	j	.Lout
.Ldone:
	li	a1, 0
.Lout:
	ld	t0, 960(a0)
	fscsr	t0
	mv	a0, a1
	ld	ra, 0(sp)
	ld	s1, 8(sp)
	ld	s2, 16(sp)
	ld	s3, 24(sp)
	ld	s4, 32(sp)
	ld	s5, 40(sp)
	ld	s6, 48(sp)
	ld	s7, 56(sp)
	ld	s8, 64(sp)
	ld	s9, 72(sp)
	ld	s10, 80(sp)
	ld	s11, 88(sp)
	fld	fs0, 96(sp)
	fld	fs1, 104(sp)
	fld	fs2, 112(sp)
	fld	fs3, 120(sp)
	fld	fs4, 128(sp)
	fld	fs5, 136(sp)
	fld	fs6, 144(sp)
	fld	fs7, 152(sp)
	fld	fs8, 160(sp)
	fld	fs9, 168(sp)
	fld	fs10, 176(sp)
	fld	fs11, 184(sp)
	addi	sp, sp, 208
	ret
	.size	sc_regloop, .-sc_regloop

	.section .note.GNU-stack,"",@progbits
