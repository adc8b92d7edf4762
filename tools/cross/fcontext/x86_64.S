/*
 * fcontext/x86_64.S: Boost.Context's C entry points (make_fcontext,
 * jump_fcontext: the fcontext_t / transfer_t ABI of Boost 1.61 and later)
 * for x86-64 SysV ELF, for test programs built where libboost_context is
 * not usable (musl: Debian's is built against glibc). No runtime code: a
 * foreign stack switch, exactly what rt_callback's "boost" stacks need.
 *
 * Context frame at the saved sp, 64 bytes, lowest address first:
 *
 *   +0   mxcsr (4) | x87 control word (2) | pad (2)
 *   +8   r12  +16 r13  +24 r14  +32 r15
 *   +40  rbx  +48 rbp
 *   +56  the resume pc (pushed by the call into jump_fcontext)
 *
 * transfer_t jump_fcontext(fcontext_t to, void *vp): save here, resume `to`,
 * which sees {the saved context, vp} as its return value (rax, rdx) or, for
 * a fresh context, as the argument of its entry function (rdi, rsi).
 */
#if !defined(__x86_64__) || !defined(__ELF__)
#error "fcontext/x86_64.S: this file is for x86-64 ELF only"
#endif

	.text

	.globl	jump_fcontext
	.type	jump_fcontext, @function
	.p2align 4
jump_fcontext:
	leaq	-56(%rsp), %rsp		/* room for the frame below the pc */
	stmxcsr	(%rsp)			/* fp control words */
	fnstcw	4(%rsp)
	movq	%r12, 8(%rsp)		/* callee-saved GPRs */
	movq	%r13, 16(%rsp)
	movq	%r14, 24(%rsp)
	movq	%r15, 32(%rsp)
	movq	%rbx, 40(%rsp)
	movq	%rbp, 48(%rsp)
	movq	%rsp, %rax		/* the context we leave */
	movq	%rdi, %rsp		/* onto the one we resume */
	ldmxcsr	(%rsp)			/* its fp control words */
	fldcw	4(%rsp)
	movq	8(%rsp), %r12		/* its GPRs */
	movq	16(%rsp), %r13
	movq	24(%rsp), %r14
	movq	32(%rsp), %r15
	movq	40(%rsp), %rbx
	movq	48(%rsp), %rbp
	movq	56(%rsp), %r8		/* its resume pc */
	leaq	64(%rsp), %rsp		/* pop the frame and the pc */
	movq	%rsi, %rdx		/* transfer_t.data = vp, as returned */
	movq	%rax, %rdi		/* ... and as a fresh context's argument */
	jmp	*%r8			/* rax = transfer_t.fctx */
	.size	jump_fcontext, .-jump_fcontext

/* First code of a fresh context: rbx = fn, rdi/rsi = the transfer_t,
 * rsp 16-aligned. */
	.type	fcontext_start, @function
	.p2align 4
fcontext_start:
	call	*%rbx			/* fn(transfer_t) */
	xorl	%edi, %edi		/* fn returned: Boost ends the process */
	call	_exit			/* _exit(0) */
	hlt				/* not reached */
	.size	fcontext_start, .-fcontext_start

/* fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t))
 * rdi = top of the stack, rsi = its size (unused), rdx = fn. */
	.globl	make_fcontext
	.type	make_fcontext, @function
	.p2align 4
make_fcontext:
	movq	%rdi, %rax		/* the top of the stack */
	andq	$-16, %rax		/* 16-align the top */
	leaq	-64(%rax), %rax		/* the frame; the pc pops to top */
	stmxcsr	(%rax)			/* inherit the fp control words */
	fnstcw	4(%rax)
	movq	%rdx, 40(%rax)		/* rbx = fn */
	movq	$0, 48(%rax)		/* rbp = 0 ends the frame chain */
	leaq	fcontext_start(%rip), %rcx	/* pc-relative: PIE-safe */
	movq	%rcx, 56(%rax)		/* resume pc: the start code above */
	ret				/* rax = the context */
	.size	make_fcontext, .-make_fcontext

	.section .note.GNU-stack,"",@progbits
