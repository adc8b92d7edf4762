/*
 * fcontext/aarch64.S: Boost.Context's C entry points (make_fcontext,
 * jump_fcontext: the fcontext_t / transfer_t ABI of Boost 1.61 and later)
 * for aarch64 ELF, for test programs built where libboost_context is not
 * installed (cross arches, musl). No runtime code: a foreign stack switch,
 * exactly what rt_callback's "boost" stacks need.
 *
 * Context frame at the saved sp, 176 bytes, lowest address first:
 *
 *   +0   d8  d9  d10 d11 d12 d13 d14 d15     (8 x 8)
 *   +64  x19 x20 x21 x22 x23 x24 x25 x26    (8 x 8)
 *   +128 x27 x28                            (2 x 8)
 *   +144 x29 (fp)
 *   +152 x30 (lr): the resume pc
 *   +160 pad (16)
 *
 * transfer_t jump_fcontext(fcontext_t to, void *vp): save here, resume `to`,
 * which sees {the saved context, vp} as its return value (x0, x1) or, for a
 * fresh context, as the argument of its entry function (x0, x1 too).
 */
#if !defined(__aarch64__) || !defined(__ELF__)
#error "fcontext/aarch64.S: this file is for aarch64 ELF only"
#endif

	.text

	.globl	jump_fcontext
	.type	jump_fcontext, %function
	.p2align 4
jump_fcontext:
	sub	sp, sp, #176		/* room for the frame */
	stp	d8, d9, [sp, #0]	/* callee-saved fp registers */
	stp	d10, d11, [sp, #16]
	stp	d12, d13, [sp, #32]
	stp	d14, d15, [sp, #48]
	stp	x19, x20, [sp, #64]	/* callee-saved GPRs */
	stp	x21, x22, [sp, #80]
	stp	x23, x24, [sp, #96]
	stp	x25, x26, [sp, #112]
	stp	x27, x28, [sp, #128]
	stp	x29, x30, [sp, #144]	/* fp, and lr: the resume pc */
	mov	x4, sp			/* the context we leave */
	mov	sp, x0			/* onto the one we resume */
	ldp	d8, d9, [sp, #0]	/* its fp registers */
	ldp	d10, d11, [sp, #16]
	ldp	d12, d13, [sp, #32]
	ldp	d14, d15, [sp, #48]
	ldp	x19, x20, [sp, #64]	/* its GPRs */
	ldp	x21, x22, [sp, #80]
	ldp	x23, x24, [sp, #96]
	ldp	x25, x26, [sp, #112]
	ldp	x27, x28, [sp, #128]
	ldp	x29, x30, [sp, #144]	/* its fp and resume pc */
	add	sp, sp, #176		/* pop the frame */
	mov	x0, x4			/* transfer_t.fctx = where we came from */
	ret				/* x1 = transfer_t.data = vp, unchanged */
	.size	jump_fcontext, .-jump_fcontext

/* First code of a fresh context: x19 = fn, x0/x1 = the transfer_t. */
	.type	fcontext_start, %function
	.p2align 4
fcontext_start:
	blr	x19			/* fn(transfer_t) */
	mov	x0, #0			/* fn returned: Boost ends the process */
	bl	_exit			/* _exit(0) */
	.size	fcontext_start, .-fcontext_start

/* fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t))
 * x0 = top of the stack, x1 = its size (unused), x2 = fn. */
	.globl	make_fcontext
	.type	make_fcontext, %function
	.p2align 4
make_fcontext:
	and	x0, x0, #~15		/* 16-align the top */
	sub	x0, x0, #176		/* the frame */
	str	x2, [x0, #64]		/* x19 = fn */
	adr	x9, fcontext_start	/* resume pc: the start code above */
	stp	xzr, x9, [x0, #144]	/* fp = 0 ends the frame chain */
	ret				/* x0 = the context */
	.size	make_fcontext, .-make_fcontext

	.section .note.GNU-stack,"",%progbits
