/*
 * regloop.S for x86-64: sc_regloop (regloop.h says what and why).
 *
 * uint64_t sc_regloop(sc_regs *r)   rdi = r throughout
 *
 * Offsets into sc_regs (regloop.h checks them with _Static_assert):
 *   0 want[296]  2368 got[296]  4736 left  4744 check  4752 features
 *   4760 halt  4768 savectl  4776 inner  4784 live  4800 fx[512]
 *
 * Every round: load every register from want, spin `check` iterations
 * (a memory counter: no register is free), then store every register into
 * got (flags first, before anything changes them), compare got with want
 * word by word (now every register is free: the values are in memory),
 * and go round again. halt ends it after one more check. A G preempted anywhere in between must come back
 * with every register as it left it. The caller's callee-saved registers,
 * mxcsr and x87 control word, and an empty x87 stack and clear DF, are
 * what it gets back.
 */
#if !defined(__x86_64__) || !defined(__ELF__)
#error "regloop.S: this file is for x86-64 ELF only"
#endif

	.text
	.globl	sc_regloop
	.type	sc_regloop, @function
	.align	16
sc_regloop:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	stmxcsr	4768(%rdi)		/* the caller's control words */
	fnstcw	4772(%rdi)

.Lround:
	/* ---- load: vectors, x87, control words, general registers, DF */
	testq	$2, 4752(%rdi)
	jz	1f
	vmovdqu64	128(%rdi), %zmm0
	vmovdqu64	192(%rdi), %zmm1
	vmovdqu64	256(%rdi), %zmm2
	vmovdqu64	320(%rdi), %zmm3
	vmovdqu64	384(%rdi), %zmm4
	vmovdqu64	448(%rdi), %zmm5
	vmovdqu64	512(%rdi), %zmm6
	vmovdqu64	576(%rdi), %zmm7
	vmovdqu64	640(%rdi), %zmm8
	vmovdqu64	704(%rdi), %zmm9
	vmovdqu64	768(%rdi), %zmm10
	vmovdqu64	832(%rdi), %zmm11
	vmovdqu64	896(%rdi), %zmm12
	vmovdqu64	960(%rdi), %zmm13
	vmovdqu64	1024(%rdi), %zmm14
	vmovdqu64	1088(%rdi), %zmm15
	vmovdqu64	1152(%rdi), %zmm16
	vmovdqu64	1216(%rdi), %zmm17
	vmovdqu64	1280(%rdi), %zmm18
	vmovdqu64	1344(%rdi), %zmm19
	vmovdqu64	1408(%rdi), %zmm20
	vmovdqu64	1472(%rdi), %zmm21
	vmovdqu64	1536(%rdi), %zmm22
	vmovdqu64	1600(%rdi), %zmm23
	vmovdqu64	1664(%rdi), %zmm24
	vmovdqu64	1728(%rdi), %zmm25
	vmovdqu64	1792(%rdi), %zmm26
	vmovdqu64	1856(%rdi), %zmm27
	vmovdqu64	1920(%rdi), %zmm28
	vmovdqu64	1984(%rdi), %zmm29
	vmovdqu64	2048(%rdi), %zmm30
	vmovdqu64	2112(%rdi), %zmm31
	kmovw	2184(%rdi), %k1
	kmovw	2192(%rdi), %k2
	kmovw	2200(%rdi), %k3
	kmovw	2208(%rdi), %k4
	kmovw	2216(%rdi), %k5
	kmovw	2224(%rdi), %k6
	kmovw	2232(%rdi), %k7
	jmp	3f
1:	testq	$1, 4752(%rdi)
	jz	2f
	vmovdqu	128(%rdi), %ymm0
	vmovdqu	192(%rdi), %ymm1
	vmovdqu	256(%rdi), %ymm2
	vmovdqu	320(%rdi), %ymm3
	vmovdqu	384(%rdi), %ymm4
	vmovdqu	448(%rdi), %ymm5
	vmovdqu	512(%rdi), %ymm6
	vmovdqu	576(%rdi), %ymm7
	vmovdqu	640(%rdi), %ymm8
	vmovdqu	704(%rdi), %ymm9
	vmovdqu	768(%rdi), %ymm10
	vmovdqu	832(%rdi), %ymm11
	vmovdqu	896(%rdi), %ymm12
	vmovdqu	960(%rdi), %ymm13
	vmovdqu	1024(%rdi), %ymm14
	vmovdqu	1088(%rdi), %ymm15
	jmp	3f
2:
	movdqu	128(%rdi), %xmm0
	movdqu	192(%rdi), %xmm1
	movdqu	256(%rdi), %xmm2
	movdqu	320(%rdi), %xmm3
	movdqu	384(%rdi), %xmm4
	movdqu	448(%rdi), %xmm5
	movdqu	512(%rdi), %xmm6
	movdqu	576(%rdi), %xmm7
	movdqu	640(%rdi), %xmm8
	movdqu	704(%rdi), %xmm9
	movdqu	768(%rdi), %xmm10
	movdqu	832(%rdi), %xmm11
	movdqu	896(%rdi), %xmm12
	movdqu	960(%rdi), %xmm13
	movdqu	1024(%rdi), %xmm14
	movdqu	1088(%rdi), %xmm15
3:	movq	4784(%rdi), %rax	/* vectors in place: say so (rax is loaded below) */
	testq	%rax, %rax
	jz	4f
	movl	$1, (%rax)
4:	fninit				/* an empty x87 stack, then st7 .. st0 */
	fldt	2352(%rdi)
	fldt	2336(%rdi)
	fldt	2320(%rdi)
	fldt	2304(%rdi)
	fldt	2288(%rdi)
	fldt	2272(%rdi)
	fldt	2256(%rdi)
	fldt	2240(%rdi)
	fldcw	124(%rdi)
	ldmxcsr	120(%rdi)
	pushq	%rax			/* the inner counter, from check */
	movq	4744(%rdi), %rax
	movq	%rax, 4776(%rdi)
	popq	%rax
	movq	0(%rdi), %rax
	movq	8(%rdi), %rbx
	movq	16(%rdi), %rcx
	movq	24(%rdi), %rdx
	movq	32(%rdi), %rsi
	movq	40(%rdi), %rbp
	movq	48(%rdi), %r8
	movq	56(%rdi), %r9
	movq	64(%rdi), %r10
	movq	72(%rdi), %r11
	movq	80(%rdi), %r12
	movq	88(%rdi), %r13
	movq	96(%rdi), %r14
	movq	104(%rdi), %r15
	std

	/* ---- spin: no register changes but flags, in memory only */
.Lspin:
	cmpl	$0, 4760(%rdi)		/* halt */
	jne	1f
	subq	$1, 4776(%rdi)
	jnz	.Lspin
	jmp	2f
1:	movq	$1, 4776(%rdi)		/* halted: one last check, then out */
2:

	/* ---- store: flags first, then general registers, then the rest */
	pushfq
	movq	%rax, 2368(%rdi)
	movq	%rbx, 2376(%rdi)
	movq	%rcx, 2384(%rdi)
	movq	%rdx, 2392(%rdi)
	movq	%rsi, 2400(%rdi)
	movq	%rbp, 2408(%rdi)
	movq	%r8, 2416(%rdi)
	movq	%r9, 2424(%rdi)
	movq	%r10, 2432(%rdi)
	movq	%r11, 2440(%rdi)
	movq	%r12, 2448(%rdi)
	movq	%r13, 2456(%rdi)
	movq	%r14, 2464(%rdi)
	movq	%r15, 2472(%rdi)
	popq	%rax
	andq	$0x400, %rax
	movq	%rax, 2480(%rdi)
	cld
	fxsave64 4800(%rdi)
	movl	4800+24(%rdi), %eax	/* mxcsr */
	andl	$0xffc0, %eax
	movzwl	4800(%rdi), %ecx	/* x87 control word */
	shlq	$32, %rcx
	orq	%rcx, %rax
	movq	%rax, 2488(%rdi)
	movq	4832(%rdi), %rax
	movq	%rax, 4608(%rdi)
	movzwl	4840(%rdi), %eax
	movq	%rax, 4616(%rdi)
	movq	4848(%rdi), %rax
	movq	%rax, 4624(%rdi)
	movzwl	4856(%rdi), %eax
	movq	%rax, 4632(%rdi)
	movq	4864(%rdi), %rax
	movq	%rax, 4640(%rdi)
	movzwl	4872(%rdi), %eax
	movq	%rax, 4648(%rdi)
	movq	4880(%rdi), %rax
	movq	%rax, 4656(%rdi)
	movzwl	4888(%rdi), %eax
	movq	%rax, 4664(%rdi)
	movq	4896(%rdi), %rax
	movq	%rax, 4672(%rdi)
	movzwl	4904(%rdi), %eax
	movq	%rax, 4680(%rdi)
	movq	4912(%rdi), %rax
	movq	%rax, 4688(%rdi)
	movzwl	4920(%rdi), %eax
	movq	%rax, 4696(%rdi)
	movq	4928(%rdi), %rax
	movq	%rax, 4704(%rdi)
	movzwl	4936(%rdi), %eax
	movq	%rax, 4712(%rdi)
	movq	4944(%rdi), %rax
	movq	%rax, 4720(%rdi)
	movzwl	4952(%rdi), %eax
	movq	%rax, 4728(%rdi)
	testq	$2, 4752(%rdi)
	jz	1f
	vmovdqu64	%zmm0, 2496(%rdi)
	vmovdqu64	%zmm1, 2560(%rdi)
	vmovdqu64	%zmm2, 2624(%rdi)
	vmovdqu64	%zmm3, 2688(%rdi)
	vmovdqu64	%zmm4, 2752(%rdi)
	vmovdqu64	%zmm5, 2816(%rdi)
	vmovdqu64	%zmm6, 2880(%rdi)
	vmovdqu64	%zmm7, 2944(%rdi)
	vmovdqu64	%zmm8, 3008(%rdi)
	vmovdqu64	%zmm9, 3072(%rdi)
	vmovdqu64	%zmm10, 3136(%rdi)
	vmovdqu64	%zmm11, 3200(%rdi)
	vmovdqu64	%zmm12, 3264(%rdi)
	vmovdqu64	%zmm13, 3328(%rdi)
	vmovdqu64	%zmm14, 3392(%rdi)
	vmovdqu64	%zmm15, 3456(%rdi)
	vmovdqu64	%zmm16, 3520(%rdi)
	vmovdqu64	%zmm17, 3584(%rdi)
	vmovdqu64	%zmm18, 3648(%rdi)
	vmovdqu64	%zmm19, 3712(%rdi)
	vmovdqu64	%zmm20, 3776(%rdi)
	vmovdqu64	%zmm21, 3840(%rdi)
	vmovdqu64	%zmm22, 3904(%rdi)
	vmovdqu64	%zmm23, 3968(%rdi)
	vmovdqu64	%zmm24, 4032(%rdi)
	vmovdqu64	%zmm25, 4096(%rdi)
	vmovdqu64	%zmm26, 4160(%rdi)
	vmovdqu64	%zmm27, 4224(%rdi)
	vmovdqu64	%zmm28, 4288(%rdi)
	vmovdqu64	%zmm29, 4352(%rdi)
	vmovdqu64	%zmm30, 4416(%rdi)
	vmovdqu64	%zmm31, 4480(%rdi)
	kmovw	%k1, 4552(%rdi)
	kmovw	%k2, 4560(%rdi)
	kmovw	%k3, 4568(%rdi)
	kmovw	%k4, 4576(%rdi)
	kmovw	%k5, 4584(%rdi)
	kmovw	%k6, 4592(%rdi)
	kmovw	%k7, 4600(%rdi)
	jmp	3f
1:	testq	$1, 4752(%rdi)
	jz	2f
	vmovdqu	%ymm0, 2496(%rdi)
	vmovdqu	%ymm1, 2560(%rdi)
	vmovdqu	%ymm2, 2624(%rdi)
	vmovdqu	%ymm3, 2688(%rdi)
	vmovdqu	%ymm4, 2752(%rdi)
	vmovdqu	%ymm5, 2816(%rdi)
	vmovdqu	%ymm6, 2880(%rdi)
	vmovdqu	%ymm7, 2944(%rdi)
	vmovdqu	%ymm8, 3008(%rdi)
	vmovdqu	%ymm9, 3072(%rdi)
	vmovdqu	%ymm10, 3136(%rdi)
	vmovdqu	%ymm11, 3200(%rdi)
	vmovdqu	%ymm12, 3264(%rdi)
	vmovdqu	%ymm13, 3328(%rdi)
	vmovdqu	%ymm14, 3392(%rdi)
	vmovdqu	%ymm15, 3456(%rdi)
	jmp	3f
2:
	movdqu	%xmm0, 2496(%rdi)
	movdqu	%xmm1, 2560(%rdi)
	movdqu	%xmm2, 2624(%rdi)
	movdqu	%xmm3, 2688(%rdi)
	movdqu	%xmm4, 2752(%rdi)
	movdqu	%xmm5, 2816(%rdi)
	movdqu	%xmm6, 2880(%rdi)
	movdqu	%xmm7, 2944(%rdi)
	movdqu	%xmm8, 3008(%rdi)
	movdqu	%xmm9, 3072(%rdi)
	movdqu	%xmm10, 3136(%rdi)
	movdqu	%xmm11, 3200(%rdi)
	movdqu	%xmm12, 3264(%rdi)
	movdqu	%xmm13, 3328(%rdi)
	movdqu	%xmm14, 3392(%rdi)
	movdqu	%xmm15, 3456(%rdi)
3:
	/* ---- compare */
	xorl	%ecx, %ecx
1:	movq	(%rdi,%rcx,8), %rax
	cmpq	2368(%rdi,%rcx,8), %rax
	jne	2f
	incq	%rcx
	cmpq	$296, %rcx
	jb	1b
	cmpq	$0, 4776(%rdi)		/* halted */
	jne	.Ldone
	movq	4744(%rdi), %rax	/* left -= check; done when it runs out */
	subq	%rax, 4736(%rdi)
	jbe	.Ldone
	jmp	.Lround
2:	leaq	1(%rcx), %rax
	jmp	.Lout

.Ldone:
	xorl	%eax, %eax
.Lout:
	cld
	fninit
	fldcw	4772(%rdi)
	ldmxcsr	4768(%rdi)
	testq	$3, 4752(%rdi)
	jz	1f
	vzeroupper
1:	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	sc_regloop, .-sc_regloop

	.section .note.GNU-stack,"",@progbits
