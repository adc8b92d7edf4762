/*
 * asm.S for aarch64 (AAPCS64, ELF, Linux): the runtime's stack switches.
 *
 * Saved context, at the saved sp, 176 bytes, lowest address first (the
 * CTX_* offsets come from arch.h, the one copy of this table):
 *
 *   +0    x19  | +8    x20
 *   +16   x21  | +24   x22
 *   +32   x23  | +40   x24
 *   +48   x25  | +56   x26
 *   +64   x27  | +72   x28
 *   +80   x29 (fp)
 *   +88   x30 (lr): the resume pc
 *   +96   d8   | +104  d9
 *   +112  d10  | +120  d11
 *   +128  d12  | +136  d13
 *   +144  d14  | +152  d15
 *   +160  FPCR | +168  pad
 *
 * Only callee-saved state is kept: every switch is a function call as far as
 * the compiler is concerned, so x0-x18, the upper halves of v8-v15 and all
 * of v0-v7/v16-v31 are already dead (AAPCS64 6.1.1, 6.1.2). FPCR's mode
 * bits have global scope (AAPCS64 6.1.3): kept per context. Writing FPCR
 * can stall some cores, so a resume writes it only when it differs; reading
 * it is cheap. sp is 16-byte aligned at all times (AAPCS64 6.4.5.1), and the
 * frame is a multiple of 16 so it stays so.
 *
 * Frames are pushed with sp lowered first and stored above it, and popped
 * by loading first and raising sp last: a signal handler that runs on this
 * stack (one without SA_ONSTACK) never writes over a live context.
 *
 *   sq_mcall_switch  save the context, switch to g0, call fn(arg): make+jump
 *   sq_ctx_swap      save the context, resume another one:         jump
 *   sq_gogo_switch   resume a saved context:                      jump
 *   sq_ctx_make      lay out a fresh context that starts at entry: make
 *   sq_oncall        call fn(arg) on another stack and come back:  on-top
 */
#if !defined(__aarch64__) || !defined(__ELF__)
#error "asm.S: this file is for aarch64 ELF only"
#endif

#include "arch.h"

/* Push a context frame: sp -= CTX_SIZE, callee-saved registers into it. */
.macro	SAVE_CTX
	sub	sp, sp, #CTX_SIZE	/* room for the frame; stays 16-aligned */
	.cfi_adjust_cfa_offset CTX_SIZE
	stp	x19, x20, [sp, #CTX_X19]	/* callee-saved GPRs, in layout order */
	stp	x21, x22, [sp, #CTX_X21]
	stp	x23, x24, [sp, #CTX_X23]
	stp	x25, x26, [sp, #CTX_X25]
	stp	x27, x28, [sp, #CTX_X27]
	stp	x29, x30, [sp, #CTX_FP]	/* fp, and lr: where this context resumes */
	.cfi_rel_offset x29, CTX_FP
	.cfi_rel_offset x30, CTX_PC
	stp	d8, d9, [sp, #CTX_D8]	/* callee-saved low halves of v8-v15 */
	stp	d10, d11, [sp, #CTX_D10]
	stp	d12, d13, [sp, #CTX_D12]
	stp	d14, d15, [sp, #CTX_D14]
	mrs	x9, fpcr		/* fp mode bits (x9: caller-saved scratch) */
	str	x9, [sp, #CTX_FPCR]	/* into the frame */
.endm

/* Pop the context frame at sp and return into it. */
.macro	LOAD_CTX
	ldr	x9, [sp, #CTX_FPCR]	/* the context's fp mode bits */
	mrs	x10, fpcr		/* the current ones */
	cmp	x9, x10			/* same? (almost always) */
	b.eq	1f			/* then skip the costly write */
	msr	fpcr, x9		/* install the context's mode */
1:	ldp	d8, d9, [sp, #CTX_D8]	/* callee-saved fp registers */
	ldp	d10, d11, [sp, #CTX_D10]
	ldp	d12, d13, [sp, #CTX_D12]
	ldp	d14, d15, [sp, #CTX_D14]
	ldp	x19, x20, [sp, #CTX_X19]	/* callee-saved GPRs */
	ldp	x21, x22, [sp, #CTX_X21]
	ldp	x23, x24, [sp, #CTX_X23]
	ldp	x25, x26, [sp, #CTX_X25]
	ldp	x27, x28, [sp, #CTX_X27]
	ldp	x29, x30, [sp, #CTX_FP]	/* fp, and the resume pc into lr */
	add	sp, sp, #CTX_SIZE	/* drop the frame only once it is read */
	.cfi_adjust_cfa_offset -CTX_SIZE
	.cfi_restore x29
	.cfi_restore x30
	ret				/* to the resume pc */
.endm

	.text

/* void sq_mcall_switch(uintptr_t *save, uintptr_t g0sp, void (*fn)(void *), void *arg)
 * x0 = where to store the saved sp, x1 = g0 stack top (16-aligned),
 * x2 = fn, x3 = arg. fn must not return: we trap if it does. */
	.globl	sq_mcall_switch
	.type	sq_mcall_switch, %function
	.p2align 4
sq_mcall_switch:
	.cfi_startproc
	SAVE_CTX			/* frame on the G's stack */
	mov	x9, sp			/* sp cannot be stored directly */
	str	x9, [x0]		/* publish the saved context */
	mov	sp, x1			/* now on g0 */
	.cfi_def_cfa sp, 0		/* the G's frames are no longer reachable: */
	.cfi_undefined x30		/* unwinding stops here */
	mov	x29, xzr		/* end the frame chain for debuggers */
	mov	x0, x3			/* fn(arg) */
	blr	x2			/* ... on g0; never comes back */
	udf	#0			/* fn returned: impossible by contract (SIGILL) */
	.cfi_endproc
	.size	sq_mcall_switch, .-sq_mcall_switch

/* void sq_ctx_swap(uintptr_t *save, uintptr_t to)
 * Save the current context (published at *save) and resume the one saved
 * at to. Returns when someone resumes the saved context. Both frames have
 * the same layout, so one set of CFI rules describes either. */
	.globl	sq_ctx_swap
	.type	sq_ctx_swap, %function
	.p2align 4
sq_ctx_swap:
	.cfi_startproc
	SAVE_CTX			/* frame on the current stack */
	mov	x9, sp			/* sp cannot be stored directly */
	str	x9, [x0]		/* publish the saved context */
	mov	sp, x1			/* the other context */
	LOAD_CTX			/* ... and into it */
	.cfi_endproc
	.size	sq_ctx_swap, .-sq_ctx_swap

/* void sq_gogo_switch(uintptr_t sp): resume the context saved at sp. */
	.globl	sq_gogo_switch
	.type	sq_gogo_switch, %function
	.p2align 4
sq_gogo_switch:
	.cfi_startproc
	mov	sp, x0			/* abandon the current stack */
	.cfi_def_cfa sp, CTX_SIZE	/* now described by the saved frame */
	.cfi_rel_offset x29, CTX_FP
	.cfi_rel_offset x30, CTX_PC
	LOAD_CTX			/* pops it and returns to its pc */
	.cfi_endproc
	.size	sq_gogo_switch, .-sq_gogo_switch

/* The first instructions of every context sq_ctx_make lays out: enter the
 * entry function (x19) with lr = 0 and fp = 0 (from the frame), so that
 * frame-pointer walkers and CFI unwinders both stop at it. */
	.type	sq_ctx_start, %function
	.p2align 4
sq_ctx_start:
	.cfi_startproc
	.cfi_undefined x30		/* no caller */
	mov	x30, xzr		/* a zero return address */
	br	x19			/* entry(); it never returns */
	.cfi_endproc
	.size	sq_ctx_start, .-sq_ctx_start

/* uintptr_t sq_ctx_make(uintptr_t top, void (*entry)(void))
 * x0 = stack top (16-aligned), x1 = entry. Lays out a context whose resume
 * pc is sq_ctx_start with x19 = entry: after the switch pops the frame, sp =
 * top (16-aligned, as AAPCS64 requires at a call) and entry runs with
 * lr = 0 and fp = 0. Every other register starts zero; FPCR is inherited
 * from the caller. Returns the context's sp (top - CTX_SIZE). Leaf: runs on
 * any stack, touches only the new frame. */
	.globl	sq_ctx_make
	.type	sq_ctx_make, %function
	.p2align 4
sq_ctx_make:
	.cfi_startproc
	sub	x0, x0, #CTX_SIZE	/* the frame, at the top of the new stack */
	stp	x1, xzr, [x0, #CTX_X19]	/* x19 = entry, x20 = 0 */
	stp	xzr, xzr, [x0, #CTX_X21]	/* x21, x22 */
	stp	xzr, xzr, [x0, #CTX_X23]	/* x23, x24 */
	stp	xzr, xzr, [x0, #CTX_X25]	/* x25, x26 */
	stp	xzr, xzr, [x0, #CTX_X27]	/* x27, x28 */
	adr	x9, sq_ctx_start	/* resume pc: the trampoline above */
	stp	xzr, x9, [x0, #CTX_FP]	/* fp = 0 ends the frame chain */
	stp	xzr, xzr, [x0, #CTX_D8]	/* d8, d9 */
	stp	xzr, xzr, [x0, #CTX_D10]	/* d10, d11 */
	stp	xzr, xzr, [x0, #CTX_D12]	/* d12, d13 */
	stp	xzr, xzr, [x0, #CTX_D14]	/* d14, d15 */
	mrs	x9, fpcr		/* inherit the caller's fp mode */
	stp	x9, xzr, [x0, #CTX_FPCR]	/* FPCR, pad */
	ret				/* x0 = the context's sp */
	.cfi_endproc
	.size	sq_ctx_make, .-sq_ctx_make

/* uintptr_t sq_oncall(uintptr_t sp, void (*fn)(void *), void *arg, uintptr_t *oldsp)
 * Call fn(arg) with the stack pointer set to sp (16-aligned) and return on the
 * original stack. If oldsp is non-NULL the original sp is stored there first,
 * so code on the other stack can find the frames we left. Nothing touches
 * the return register after the call: fn's value is ours. x29 is
 * callee-saved: fn preserves it, and it carries us back. */
	.globl	sq_oncall
	.type	sq_oncall, %function
	.p2align 4
sq_oncall:
	.cfi_startproc
	stp	x29, x30, [sp, #-16]!	/* frame record on the original stack */
	.cfi_def_cfa_offset 16
	.cfi_offset x29, -16
	.cfi_offset x30, -8
	mov	x29, sp			/* fp = the record: the way back */
	.cfi_def_cfa_register x29	/* unwinders follow fp across stacks */
	cbz	x3, 1f			/* oldsp wanted? */
	mov	x9, sp			/* sp cannot be stored directly */
	str	x9, [x3]		/* *oldsp = the original sp */
1:	mov	sp, x0			/* onto the other stack */
	mov	x0, x2			/* fn(arg) */
	blr	x1			/* ... on the other stack */
	mov	sp, x29			/* back on the original stack */
	.cfi_def_cfa_register sp
	ldp	x29, x30, [sp], #16	/* pop the frame record */
	.cfi_def_cfa_offset 0
	.cfi_restore x29
	.cfi_restore x30
	ret				/* to our caller */
	.cfi_endproc
	.size	sq_oncall, .-sq_oncall

	.section .note.GNU-stack,"",%progbits
