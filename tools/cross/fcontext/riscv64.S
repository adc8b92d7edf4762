/*
 * fcontext/riscv64.S: Boost.Context's C entry points (make_fcontext,
 * jump_fcontext: the fcontext_t / transfer_t ABI of Boost 1.61 and later)
 * for riscv64 LP64D ELF, for test programs built where libboost_context is
 * not installed (cross arches, musl). No runtime code: a foreign stack
 * switch, exactly what rt_callback's "boost" stacks need.
 *
 * Context frame at the saved sp, 208 bytes, lowest address first:
 *
 *   +0   fs0 .. fs11    (12 x 8)
 *   +96  s0 .. s11      (12 x 8)
 *   +192 ra: the resume pc
 *   +200 pad
 *
 * transfer_t jump_fcontext(fcontext_t to, void *vp): save here, resume `to`,
 * which sees {the saved context, vp} as its return value (a0, a1) or, for a
 * fresh context, as the argument of its entry function (a0, a1 too).
 */
#if !defined(__riscv) || __riscv_xlen != 64 || !defined(__riscv_float_abi_double) || !defined(__ELF__)
#error "fcontext/riscv64.S: this file is for riscv64 LP64D ELF only"
#endif

	.text

	.globl	jump_fcontext
	.type	jump_fcontext, @function
	.p2align 2
jump_fcontext:
	addi	sp, sp, -208		/* room for the frame */
	fsd	fs0, 0(sp)		/* callee-saved fp registers */
	fsd	fs1, 8(sp)
	fsd	fs2, 16(sp)
	fsd	fs3, 24(sp)
	fsd	fs4, 32(sp)
	fsd	fs5, 40(sp)
	fsd	fs6, 48(sp)
	fsd	fs7, 56(sp)
	fsd	fs8, 64(sp)
	fsd	fs9, 72(sp)
	fsd	fs10, 80(sp)
	fsd	fs11, 88(sp)
	sd	s0, 96(sp)		/* callee-saved GPRs */
	sd	s1, 104(sp)
	sd	s2, 112(sp)
	sd	s3, 120(sp)
	sd	s4, 128(sp)
	sd	s5, 136(sp)
	sd	s6, 144(sp)
	sd	s7, 152(sp)
	sd	s8, 160(sp)
	sd	s9, 168(sp)
	sd	s10, 176(sp)
	sd	s11, 184(sp)
	sd	ra, 192(sp)		/* the resume pc */
	mv	t0, sp			/* the context we leave */
	mv	sp, a0			/* onto the one we resume */
	fld	fs0, 0(sp)		/* its fp registers */
	fld	fs1, 8(sp)
	fld	fs2, 16(sp)
	fld	fs3, 24(sp)
	fld	fs4, 32(sp)
	fld	fs5, 40(sp)
	fld	fs6, 48(sp)
	fld	fs7, 56(sp)
	fld	fs8, 64(sp)
	fld	fs9, 72(sp)
	fld	fs10, 80(sp)
	fld	fs11, 88(sp)
	ld	s0, 96(sp)		/* its GPRs */
	ld	s1, 104(sp)
	ld	s2, 112(sp)
	ld	s3, 120(sp)
	ld	s4, 128(sp)
	ld	s5, 136(sp)
	ld	s6, 144(sp)
	ld	s7, 152(sp)
	ld	s8, 160(sp)
	ld	s9, 168(sp)
	ld	s10, 176(sp)
	ld	s11, 184(sp)
	ld	ra, 192(sp)		/* its resume pc */
	addi	sp, sp, 208		/* pop the frame */
	mv	a0, t0			/* transfer_t.fctx = where we came from */
	ret				/* a1 = transfer_t.data = vp, unchanged */
	.size	jump_fcontext, .-jump_fcontext

/* First code of a fresh context: s1 = fn, a0/a1 = the transfer_t. */
	.type	fcontext_start, @function
	.p2align 2
fcontext_start:
	jalr	s1			/* fn(transfer_t) */
	li	a0, 0			/* fn returned: Boost ends the process */
	call	_exit			/* _exit(0) */
	.size	fcontext_start, .-fcontext_start

/* fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t))
 * a0 = top of the stack, a1 = its size (unused), a2 = fn. */
	.globl	make_fcontext
	.type	make_fcontext, @function
	.p2align 2
make_fcontext:
	andi	a0, a0, -16		/* 16-align the top */
	addi	a0, a0, -208		/* the frame */
	sd	zero, 96(a0)		/* fp = 0 ends the frame chain */
	sd	a2, 104(a0)		/* s1 = fn */
	lla	t0, fcontext_start	/* resume pc: the start code above */
	sd	t0, 192(a0)		/* ... into ra's slot */
	ret				/* a0 = the context */
	.size	make_fcontext, .-make_fcontext

	.section .note.GNU-stack,"",@progbits
