/*
 * asm.S for riscv64 (RISC-V psABI, LP64D, ELF, Linux): the runtime's stack
 * switches.
 *
 * Saved context, at the saved sp, 208 bytes, lowest address first (the
 * CTX_* offsets come from arch.h, the one copy of this table):
 *
 *   +0    s0 (fp)  | +8    s1
 *   +16   s2       | +24   s3
 *   +32   s4       | +40   s5
 *   +48   s6       | +56   s7
 *   +64   s8       | +72   s9
 *   +80   s10      | +88   s11
 *   +96   ra: the resume pc
 *   +104  frm (dynamic rounding mode)
 *   +112  fs0      | +120  fs1
 *   ...            |
 *   +192  fs10     | +200  fs11
 *
 * Only callee-saved state is kept: every switch is a function call as far as
 * the compiler is concerned, so ra's old value, t0-t6, a0-a7, ft0-ft11 and
 * fa0-fa7 are already dead (psABI "Integer/Floating-point register
 * convention"). frm is per-context mode: a resume writes it only when it
 * differs (a CSR write may serialize). sp is 16-byte aligned (psABI), and
 * the frame is a multiple of 16 so it stays so.
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
#if !defined(__riscv) || __riscv_xlen != 64 || !defined(__riscv_float_abi_double) || !defined(__ELF__)
#error "asm.S: this file is for riscv64 LP64D ELF only"
#endif

#include "arch.h"

/* Push a context frame: sp -= CTX_SIZE, callee-saved registers into it. */
.macro	SAVE_CTX
	addi	sp, sp, -CTX_SIZE	/* room for the frame; stays 16-aligned */
	.cfi_adjust_cfa_offset CTX_SIZE
	sd	s0, CTX_S0(sp)		/* callee-saved GPRs, in layout order */
	sd	s1, CTX_S1(sp)
	sd	s2, CTX_S2(sp)
	sd	s3, CTX_S3(sp)
	sd	s4, CTX_S4(sp)
	sd	s5, CTX_S5(sp)
	sd	s6, CTX_S6(sp)
	sd	s7, CTX_S7(sp)
	sd	s8, CTX_S8(sp)
	sd	s9, CTX_S9(sp)
	sd	s10, CTX_S10(sp)
	sd	s11, CTX_S11(sp)
	sd	ra, CTX_PC(sp)		/* where this context resumes */
	.cfi_rel_offset s0, CTX_S0
	.cfi_rel_offset ra, CTX_PC
	frrm	t0			/* rounding mode (t0: caller-saved scratch) */
	sd	t0, CTX_FRM(sp)		/* into the frame */
	fsd	fs0, CTX_FS0(sp)	/* callee-saved fp registers */
	fsd	fs1, CTX_FS1(sp)
	fsd	fs2, CTX_FS2(sp)
	fsd	fs3, CTX_FS3(sp)
	fsd	fs4, CTX_FS4(sp)
	fsd	fs5, CTX_FS5(sp)
	fsd	fs6, CTX_FS6(sp)
	fsd	fs7, CTX_FS7(sp)
	fsd	fs8, CTX_FS8(sp)
	fsd	fs9, CTX_FS9(sp)
	fsd	fs10, CTX_FS10(sp)
	fsd	fs11, CTX_FS11(sp)
.endm

/* Pop the context frame at sp and return into it. */
.macro	LOAD_CTX
	ld	t0, CTX_FRM(sp)		/* the context's rounding mode */
	frrm	t1			/* the current one */
	beq	t0, t1, 1f		/* same? (almost always) skip the write */
	fsrm	t0			/* install the context's mode */
1:	fld	fs0, CTX_FS0(sp)	/* callee-saved fp registers */
	fld	fs1, CTX_FS1(sp)
	fld	fs2, CTX_FS2(sp)
	fld	fs3, CTX_FS3(sp)
	fld	fs4, CTX_FS4(sp)
	fld	fs5, CTX_FS5(sp)
	fld	fs6, CTX_FS6(sp)
	fld	fs7, CTX_FS7(sp)
	fld	fs8, CTX_FS8(sp)
	fld	fs9, CTX_FS9(sp)
	fld	fs10, CTX_FS10(sp)
	fld	fs11, CTX_FS11(sp)
	ld	s0, CTX_S0(sp)		/* callee-saved GPRs */
	ld	s1, CTX_S1(sp)
	ld	s2, CTX_S2(sp)
	ld	s3, CTX_S3(sp)
	ld	s4, CTX_S4(sp)
	ld	s5, CTX_S5(sp)
	ld	s6, CTX_S6(sp)
	ld	s7, CTX_S7(sp)
	ld	s8, CTX_S8(sp)
	ld	s9, CTX_S9(sp)
	ld	s10, CTX_S10(sp)
	ld	s11, CTX_S11(sp)
	ld	ra, CTX_PC(sp)		/* the resume pc */
	addi	sp, sp, CTX_SIZE	/* drop the frame only once it is read */
	.cfi_adjust_cfa_offset -CTX_SIZE
	.cfi_restore s0
	.cfi_restore ra
	ret				/* to the resume pc */
.endm

	.text

/* void sq_mcall_switch(uintptr_t *save, uintptr_t g0sp, void (*fn)(void *), void *arg)
 * a0 = where to store the saved sp, a1 = g0 stack top (16-aligned),
 * a2 = fn, a3 = arg. fn must not return: we trap if it does. */
	.globl	sq_mcall_switch
	.type	sq_mcall_switch, @function
	.p2align 2
sq_mcall_switch:
	.cfi_startproc
	SAVE_CTX			/* frame on the G's stack */
	sd	sp, 0(a0)		/* publish the saved context */
	mv	sp, a1			/* now on g0 */
	.cfi_def_cfa sp, 0		/* the G's frames are no longer reachable: */
	.cfi_undefined ra		/* unwinding stops here */
	li	s0, 0			/* end the frame chain for debuggers */
	mv	a0, a3			/* fn(arg) */
	jalr	a2			/* ... on g0; never comes back */
	unimp				/* fn returned: impossible by contract (SIGILL) */
	.cfi_endproc
	.size	sq_mcall_switch, .-sq_mcall_switch

/* void sq_ctx_swap(uintptr_t *save, uintptr_t to)
 * Save the current context (published at *save) and resume the one saved
 * at to. Returns when someone resumes the saved context. Both frames have
 * the same layout, so one set of CFI rules describes either. */
	.globl	sq_ctx_swap
	.type	sq_ctx_swap, @function
	.p2align 2
sq_ctx_swap:
	.cfi_startproc
	SAVE_CTX			/* frame on the current stack */
	sd	sp, 0(a0)		/* publish the saved context */
	mv	sp, a1			/* the other context */
	LOAD_CTX			/* ... and into it */
	.cfi_endproc
	.size	sq_ctx_swap, .-sq_ctx_swap

/* void sq_gogo_switch(uintptr_t sp): resume the context saved at sp. */
	.globl	sq_gogo_switch
	.type	sq_gogo_switch, @function
	.p2align 2
sq_gogo_switch:
	.cfi_startproc
	mv	sp, a0			/* abandon the current stack */
	.cfi_def_cfa sp, CTX_SIZE	/* now described by the saved frame */
	.cfi_rel_offset s0, CTX_S0
	.cfi_rel_offset ra, CTX_PC
	LOAD_CTX			/* pops it and returns to its pc */
	.cfi_endproc
	.size	sq_gogo_switch, .-sq_gogo_switch

/* The first instructions of every context sq_ctx_make lays out: enter the
 * entry function (s1) with ra = 0 and fp = s0 = 0 (from the frame), so that
 * frame-pointer walkers and CFI unwinders both stop at it. */
	.type	sq_ctx_start, @function
	.p2align 2
sq_ctx_start:
	.cfi_startproc
	.cfi_undefined ra		/* no caller */
	li	ra, 0			/* a zero return address */
	jr	s1			/* entry(); it never returns */
	.cfi_endproc
	.size	sq_ctx_start, .-sq_ctx_start

/* uintptr_t sq_ctx_make(uintptr_t top, void (*entry)(void))
 * a0 = stack top (16-aligned), a1 = entry. Lays out a context whose resume
 * pc is sq_ctx_start with s1 = entry: after the switch pops the frame, sp =
 * top (16-aligned, as the psABI requires) and entry runs with ra = 0 and
 * fp = 0. Every other register starts zero; frm is inherited from the
 * caller. Returns the context's sp (top - CTX_SIZE). Leaf: runs on any
 * stack, touches only the new frame. */
	.globl	sq_ctx_make
	.type	sq_ctx_make, @function
	.p2align 2
sq_ctx_make:
	.cfi_startproc
	addi	a0, a0, -CTX_SIZE	/* the frame, at the top of the new stack */
	sd	zero, CTX_S0(a0)	/* fp = 0 ends the frame chain */
	sd	a1, CTX_S1(a0)		/* s1 = entry, for the trampoline */
	sd	zero, CTX_S2(a0)	/* s2-s11 = 0 */
	sd	zero, CTX_S3(a0)
	sd	zero, CTX_S4(a0)
	sd	zero, CTX_S5(a0)
	sd	zero, CTX_S6(a0)
	sd	zero, CTX_S7(a0)
	sd	zero, CTX_S8(a0)
	sd	zero, CTX_S9(a0)
	sd	zero, CTX_S10(a0)
	sd	zero, CTX_S11(a0)
	lla	t0, sq_ctx_start	/* resume pc: the trampoline above */
	sd	t0, CTX_PC(a0)		/* ... into ra's slot */
	frrm	t0			/* inherit the caller's rounding mode */
	sd	t0, CTX_FRM(a0)		/* ... into frm's slot */
	sd	zero, CTX_FS0(a0)	/* fs0-fs11 = +0.0 */
	sd	zero, CTX_FS1(a0)
	sd	zero, CTX_FS2(a0)
	sd	zero, CTX_FS3(a0)
	sd	zero, CTX_FS4(a0)
	sd	zero, CTX_FS5(a0)
	sd	zero, CTX_FS6(a0)
	sd	zero, CTX_FS7(a0)
	sd	zero, CTX_FS8(a0)
	sd	zero, CTX_FS9(a0)
	sd	zero, CTX_FS10(a0)
	sd	zero, CTX_FS11(a0)
	ret				/* a0 = the context's sp */
	.cfi_endproc
	.size	sq_ctx_make, .-sq_ctx_make

/* uintptr_t sq_oncall(uintptr_t sp, void (*fn)(void *), void *arg, uintptr_t *oldsp)
 * Call fn(arg) with the stack pointer set to sp (16-aligned) and return on the
 * original stack. If oldsp is non-NULL the original sp is stored there first,
 * so code on the other stack can find the frames we left. Nothing touches
 * the return register after the call: fn's value is ours. s0 is callee-saved:
 * fn preserves it, and it carries us back. The frame record follows the
 * psABI's fp convention: ra at fp-8, the caller's fp at fp-16. */
	.globl	sq_oncall
	.type	sq_oncall, @function
	.p2align 2
sq_oncall:
	.cfi_startproc
	addi	sp, sp, -16		/* frame record on the original stack */
	.cfi_def_cfa_offset 16
	sd	ra, 8(sp)		/* return address */
	sd	s0, 0(sp)		/* caller's fp */
	.cfi_offset ra, -8
	.cfi_offset s0, -16
	addi	s0, sp, 16		/* fp = the CFA: the way back */
	.cfi_def_cfa s0, 0		/* unwinders follow fp across stacks */
	beqz	a3, 1f			/* oldsp wanted? */
	sd	sp, 0(a3)		/* *oldsp = the original sp */
1:	mv	sp, a0			/* onto the other stack */
	mv	a0, a2			/* fn(arg) */
	jalr	a1			/* ... on the other stack */
	addi	sp, s0, -16		/* back on the original stack */
	.cfi_def_cfa sp, 16
	ld	ra, 8(sp)		/* pop the frame record: return address */
	ld	s0, 0(sp)		/* caller's fp */
	.cfi_restore ra
	.cfi_restore s0
	addi	sp, sp, 16		/* drop it */
	.cfi_def_cfa_offset 0
	ret				/* to our caller */
	.cfi_endproc
	.size	sq_oncall, .-sq_oncall

	.section .note.GNU-stack,"",@progbits
