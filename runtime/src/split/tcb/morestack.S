/*
 * morestack.S (x86-64, tcb mode): __morestack, where a failed -fsplit-stack
 * check goes. The runtime owns this symbol, so libgcc's (which would grow
 * a segmented stack) is never linked. G stacks never grow: like Go's
 * morestack, this one asks the runtime what the failure means (split_miss,
 * tcb.c: preemption, overflow, a split at a bad time, or a stale word) and,
 * when it returns, resumes the function's body on the same stack.
 *
 * The prologue block that calls it (clang, x86-64 small code model):
 *
 *     mov   $frame, %r10        bytes the function's frame needs
 *     mov   $args, %r11         bytes of its stack arguments (unused)
 *     call  __morestack
 *     ret                       libgcc's __morestack returns here when the
 *     jmp   body                body, run on a new segment, has returned;
 *                               ours skips the ret: one byte
 *
 * Frame, from the top (addresses fall downwards):
 *
 *   16(%rbp)   the function's return address: its entry sp
 *    8(%rbp)   our return address: the `ret` above
 *    0(%rbp)   the caller's rbp
 *   -8 ... -200(%rbp)   the argument registers, 16-byte aligned for movaps:
 *     0(%rsp) rdi   8 rsi  16 rdx  24 rcx  32 r8  40 r9  48 rax  56 pad
 *    64(%rsp) xmm0 ... 176(%rsp) xmm7
 *
 * Saved: every register that can carry an argument into the function
 * (rdi, rsi, rdx, rcx, r8, r9; rax, the vector count of a variadic call;
 * xmm0-xmm7), because split_miss may park the G and run others before the
 * body starts. Not saved: r10 and r11 (the prologue's scratch), and the
 * upper halves of ymm/zmm registers: a function taking __m256 or __m512
 * arguments by value, built with the runtime's flags, could lose them if
 * its check yields. Callee-saved registers are split_miss's to keep.
 * Alignment: the function was entered with rsp = 8 mod 16, the call here
 * made it 0, the push 8, and the 200-byte area 0 again for the call.
 *
 * Like the rest of the runtime's code it lives in sq_rt_text (runtime.h):
 * a G interrupted here is not at an asynchronous safe point (preempt.c);
 * its request is split_miss's to honour.
 */
#if !defined(__x86_64__) || !defined(__ELF__)
#error "morestack.S: this file is for x86-64 ELF only"
#endif

	.section sq_rt_text,"ax",@progbits
	.globl	__morestack
	.type	__morestack, @function
	.align	16
__morestack:
	.cfi_startproc
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset rbp, -16
	movq	%rsp, %rbp
	.cfi_def_cfa_register rbp
	subq	$200, %rsp
	movq	%rdi, 0(%rsp)		/* integer arguments */
	movq	%rsi, 8(%rsp)
	movq	%rdx, 16(%rsp)
	movq	%rcx, 24(%rsp)
	movq	%r8, 32(%rsp)
	movq	%r9, 40(%rsp)
	movq	%rax, 48(%rsp)		/* variadic calls: vector register count */
	movaps	%xmm0, 64(%rsp)		/* floating-point arguments */
	movaps	%xmm1, 80(%rsp)
	movaps	%xmm2, 96(%rsp)
	movaps	%xmm3, 112(%rsp)
	movaps	%xmm4, 128(%rsp)
	movaps	%xmm5, 144(%rsp)
	movaps	%xmm6, 160(%rsp)
	movaps	%xmm7, 176(%rsp)
	leaq	16(%rbp), %rdi		/* the function's entry sp */
	subq	%r10, %rdi		/* less its frame: the sp it asked for */
	call	split_miss		/* returns when the body may run */
	movaps	176(%rsp), %xmm7
	movaps	160(%rsp), %xmm6
	movaps	144(%rsp), %xmm5
	movaps	128(%rsp), %xmm4
	movaps	112(%rsp), %xmm3
	movaps	96(%rsp), %xmm2
	movaps	80(%rsp), %xmm1
	movaps	64(%rsp), %xmm0
	movq	48(%rsp), %rax
	movq	40(%rsp), %r9
	movq	32(%rsp), %r8
	movq	24(%rsp), %rcx
	movq	16(%rsp), %rdx
	movq	8(%rsp), %rsi
	movq	0(%rsp), %rdi
	movq	%rbp, %rsp
	popq	%rbp
	.cfi_def_cfa rsp, 8
	popq	%r11			/* the `ret` in the prologue block */
	incq	%r11			/* step over it, onto `jmp body` */
	jmp	*%r11			/* rsp is the function's entry sp again */
	.cfi_endproc
	.size	__morestack, .-__morestack

	.section .note.GNU-stack,"",@progbits
