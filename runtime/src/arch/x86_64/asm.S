/*
 * asm.S for x86-64 (System V psABI, ELF): the runtime's stack switches.
 *
 * Saved context, at the saved sp, 64 bytes, lowest address first:
 *
 *   +0   mxcsr (4) | x87 control word (2) | pad (2)
 *   +8   r15
 *   +16  r14
 *   +24  r13
 *   +32  r12
 *   +40  rbx
 *   +48  rbp
 *   +56  resume pc (pushed by the call into the switch, popped by RESUME)
 *
 * Only callee-saved state is kept: every switch is a function call as far as
 * the compiler is concerned, so caller-saved registers are already dead. The
 * mxcsr control bits and the x87 control word are callee-saved by the ABI;
 * mxcsr's sticky exception flags (bits 0-5) are not, and are cleared in
 * every context as it is resumed: an ldmxcsr that changes them makes the
 * next stmxcsr stall for tens of nanoseconds, so contexts that differ only
 * in stale flags would make every switch slow. They are cleared in the
 * saved word just before the ldmxcsr rather than right after the stmxcsr
 * that wrote it, which would wait for the stmxcsr. A resume loads both
 * words whatever they are: on x86 reading them is the dear part (stmxcsr
 * about 3 ns here, ldmxcsr, fnstcw and fldcw together well under 1 ns), so
 * comparing first, as the aarch64 port does with FPCR, would not pay
 * (docs/bench.md, "Where a switch goes").
 *
 * A switch resumes the other context with pop and an indirect jmp, not ret,
 * as Boost.Context's jump_fcontext does: the return-stack predictor would
 * send every ret back to the call site of the context that just left, a
 * mispredicted return per switch (about 6 ns here), while the indirect
 * predictor learns where the resumed contexts go.
 * Every new stack pointer handed to a call is 16-byte aligned (psABI 3.2.2).
 *
 *   sq_mcall_switch  save the context, switch to g0, call fn(arg): make+jump
 *   sq_ctx_swap      save the context, resume another one:         jump
 *   sq_gogo_switch   resume a saved context:                      jump
 *   sq_ctx_make      lay out a fresh context that starts at entry: make
 *   sq_oncall        call fn(arg) on another stack and come back:  on-top
 *   sq_asyncpreempt  entered from a signal, as if the interrupted
 *                    instruction had called it; saves and restores the
 *                    whole register state around asyncpreempt2
 *
 * Asynchronous preemption frame, on the G's stack, lowest address first
 * (the signal handler made the first slot, arch_asyncpreempt_inject):
 *
 *   area     xsave/fxsave save area, sq_fpsize bytes, 64-byte aligned
 *   pad      0-63 bytes
 *   +0       r15   <- rbp while asyncpreempt2 runs
 *   +8       r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax
 *   +120     rflags
 *   +128     the interrupted pc
 *   +136     the interrupted code's red zone (128 bytes, untouched)
 *   +264     the interrupted sp
 *
 * The runtime's code lives in its own section, sq_rt_text (runtime.h), so
 * that the signal handler can tell it from the program's.
 */
#if !defined(__x86_64__) || !defined(__ELF__)
#error "asm.S: this file is for x86-64 ELF only"
#endif

	.section sq_rt_text,"ax",@progbits

/* Push the callee-saved state in the layout above; rsp ends at +0. */
.macro SAVE_CONTEXT
	pushq	%rbp			/* callee-saved registers, in layout order */
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp		/* room for the fp control words */
	stmxcsr	(%rsp)			/* as they are, sticky flags too */
	fnstcw	4(%rsp)
.endm

/* Pop a context saved by SAVE_CONTEXT at rsp; rsp ends at the resume pc. */
.macro RESTORE_CONTEXT
	andl	$0xffc0, (%rsp)		/* keep control bits, drop sticky flags */
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
.endm

/* Resume at the pc on top of the stack: ret without the return-stack
 * predictor (see above). r11 is scratch in every psABI call. */
.macro RESUME
	popq	%r11
	jmp	*%r11
.endm

/* void sq_mcall_switch(uintptr_t *save, uintptr_t g0sp, void (*fn)(void *), void *arg)
 * rdi = where to store the saved sp, rsi = g0 stack top (16-aligned),
 * rdx = fn, rcx = arg. fn must not return: we trap if it does. */
	.globl	sq_mcall_switch
	.type	sq_mcall_switch, @function
	.align	16
sq_mcall_switch:
	.cfi_startproc
	SAVE_CONTEXT
	movq	%rsp, (%rdi)		/* publish the saved context */
	movq	%rsi, %rsp		/* now on g0 */
	xorl	%ebp, %ebp		/* end the frame chain for debuggers */
	movq	%rcx, %rdi		/* fn(arg) */
	call	*%rdx
	ud2				/* fn returned: impossible by contract */
	.cfi_endproc
	.size	sq_mcall_switch, .-sq_mcall_switch

/* void sq_ctx_swap(uintptr_t *save, uintptr_t to)
 * Save the current context (published at *save) and resume the one saved
 * at to. Returns when someone resumes the saved context.
 *
 * sq_ctx_swap_alt is the same code at another address, so its jmp has a
 * predictor entry of its own. The scheduler's direct yield leaves through
 * one copy on even switches of its P and the other on odd ones: in a
 * two-G ping-pong each copy then always resumes the same G, and its jump
 * is predicted, where one shared jmp alternating between two targets was
 * mispredicted every time (about 7 ns a switch here; docs/bench.md). */
.macro CTX_SWAP name
	.globl	\name
	.type	\name, @function
	.align	16
\name:
	.cfi_startproc
	SAVE_CONTEXT
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp		/* the other context */
	RESTORE_CONTEXT
	RESUME
	.cfi_endproc
	.size	\name, .-\name
.endm

	CTX_SWAP sq_ctx_swap
	CTX_SWAP sq_ctx_swap_alt

/* void sq_gogo_switch(uintptr_t sp): resume the context saved at sp. */
	.globl	sq_gogo_switch
	.type	sq_gogo_switch, @function
	.align	16
sq_gogo_switch:
	.cfi_startproc
	movq	%rdi, %rsp		/* abandon the current stack */
	RESTORE_CONTEXT
	RESUME				/* to the resume pc */
	.cfi_endproc
	.size	sq_gogo_switch, .-sq_gogo_switch

/* uintptr_t sq_ctx_make(uintptr_t top, void (*entry)(void))
 * rdi = stack top (16-aligned), rsi = entry. Lays out a context whose resume
 * pc is entry, entered as if called: after the switch's ret, rsp = top - 8,
 * which is 8 mod 16 as the psABI requires at a function's first instruction,
 * and the slot there holds a zero return address so unwinders stop.
 * Returns the context's sp (top - 72). */
	.globl	sq_ctx_make
	.type	sq_ctx_make, @function
	.align	16
sq_ctx_make:
	.cfi_startproc
	leaq	-72(%rdi), %rax		/* 64-byte context + entry's return slot */
	movq	$0, 64(%rax)		/* entry's return address: none */
	movq	%rsi, 56(%rax)		/* resume pc */
	movq	$0, 48(%rax)		/* rbp */
	movq	$0, 40(%rax)		/* rbx */
	movq	$0, 32(%rax)		/* r12 */
	movq	$0, 24(%rax)		/* r13 */
	movq	$0, 16(%rax)		/* r14 */
	movq	$0, 8(%rax)		/* r15 */
	stmxcsr	(%rax)			/* inherit the caller's fp control words */
	andl	$0xffc0, (%rax)		/* but none of its sticky flags */
	fnstcw	4(%rax)
	ret
	.cfi_endproc
	.size	sq_ctx_make, .-sq_ctx_make

/* uintptr_t sq_oncall(uintptr_t sp, void (*fn)(void *), void *arg, uintptr_t *oldsp)
 * Call fn(arg) with the stack pointer set to sp (16-aligned) and return on the
 * original stack. If oldsp is non-NULL the original sp is stored there first,
 * so code on the other stack can find the frames we left. Nothing touches
 * the return register after the call: fn's value is ours. */
	.globl	sq_oncall
	.type	sq_oncall, @function
	.align	16
sq_oncall:
	.cfi_startproc
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset rbp, -16
	movq	%rsp, %rbp		/* rbp is callee-saved: it carries us back */
	.cfi_def_cfa_register rbp
	testq	%rcx, %rcx
	jz	1f
	movq	%rsp, (%rcx)
1:	movq	%rdi, %rsp
	movq	%rdx, %rdi
	call	*%rsi
	movq	%rbp, %rsp
	popq	%rbp
	.cfi_def_cfa rsp, 8
	ret
	.cfi_endproc
	.size	sq_oncall, .-sq_oncall

/* void sq_asyncpreempt(void): see the frame above and arch.h. No
 * register may change before it is saved, and none after it is restored:
 * only pushes, pops and the stores into the save area touch nothing else
 * than memory below the interrupted red zone. */
	.globl	sq_asyncpreempt
	.type	sq_asyncpreempt, @function
	.align	16
sq_asyncpreempt:
	.cfi_startproc
	.cfi_signal_frame
	pushfq				/* flags first: the pushes below keep them */
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rbx
	pushq	%rbp
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rbp		/* the frame: rbp is callee-saved over the call */
	cld				/* the psABI's DF=0 at calls; rflags is saved */
	movl	sq_fpsize(%rip), %eax
	subq	%rax, %rsp		/* the save area */
	andq	$-64, %rsp		/* xsave wants 64-byte alignment */
	movq	sq_fpmask(%rip), %rax
	testq	%rax, %rax
	jz	1f
	xorl	%ecx, %ecx		/* xsave's header must be zero but for what xsave writes */
2:	movq	$0, 512(%rsp,%rcx,8)
	incl	%ecx
	cmpl	$8, %ecx
	jb	2b
	movq	%rax, %rdx
	shrq	$32, %rdx		/* edx:eax = the component mask */
	xsave64	(%rsp)
	jmp	3f
1:	fxsave64 (%rsp)
3:	call	asyncpreempt2		/* reschedules; returns on whatever thread runs us next */
	movq	sq_fpmask(%rip), %rax
	testq	%rax, %rax
	jz	4f
	movq	%rax, %rdx
	shrq	$32, %rdx
	xrstor64 (%rsp)
	jmp	5f
4:	fxrstor64 (%rsp)
5:	movq	%rbp, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rbp
	popq	%rbx
	popq	%rdx
	popq	%rcx
	popq	%rax
	popfq				/* DF and the arithmetic flags as they were */
	ret	$128			/* to the interrupted pc; skip the red zone */
	.cfi_endproc
	.size	sq_asyncpreempt, .-sq_asyncpreempt

/* Set once before any signal (arch_asyncpreempt_probe). */
	.data
	.globl	sq_fpmask
	.type	sq_fpmask, @object
	.align	8
sq_fpmask:
	.quad	0
	.size	sq_fpmask, 8
	.globl	sq_fpsize
	.type	sq_fpsize, @object
	.align	4
sq_fpsize:
	.long	512
	.size	sq_fpsize, 4

	.section .note.GNU-stack,"",@progbits
