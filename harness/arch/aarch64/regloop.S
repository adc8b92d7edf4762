/*
 * regloop.S for aarch64: sc_regloop (regloop.h says what and why).
 *
 * uint64_t sc_regloop(sc_regs *r)   x0 = r throughout, x9 the scratch
 *
 * Offsets into sc_regs (regloop.h checks them with _Static_assert):
 *   0 want[92]  736 got[92]  1472 left  1480 check  1488 features
 *   1496 halt  1504 savectl  1512 inner  1520 live
 *
 * Held: x1-x8, x10-x17, x19-x28; fpcr's mode bits; v0-v31 (128 bits).
 * This port has no asynchronous preemption: the loop checks that
 * whatever interrupts it (signals, the kernel) gives the registers back.
 */
#if !defined(__aarch64__) || !defined(__ELF__)
#error "regloop.S: this file is for aarch64 ELF only"
#endif

	.text
	.globl	sc_regloop
	.type	sc_regloop, %function
	.p2align 4
sc_regloop:
	stp	x29, x30, [sp, #-160]!
	mov	x29, sp
	stp	x19, x20, [sp, #16]
	stp	x21, x22, [sp, #32]
	stp	x23, x24, [sp, #48]
	stp	x25, x26, [sp, #64]
	stp	x27, x28, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mrs	x9, fpcr
	str	x9, [x0, #1504]
.Lround:
	ldr	x9, [x0, #208]
	msr	fpcr, x9
	add	x9, x0, #216
	ldp	q0, q1, [x9, #0]
	ldp	q2, q3, [x9, #32]
	ldp	q4, q5, [x9, #64]
	ldp	q6, q7, [x9, #96]
	ldp	q8, q9, [x9, #128]
	ldp	q10, q11, [x9, #160]
	ldp	q12, q13, [x9, #192]
	ldp	q14, q15, [x9, #224]
	ldp	q16, q17, [x9, #256]
	ldp	q18, q19, [x9, #288]
	ldp	q20, q21, [x9, #320]
	ldp	q22, q23, [x9, #352]
	ldp	q24, q25, [x9, #384]
	ldp	q26, q27, [x9, #416]
	ldp	q28, q29, [x9, #448]
	ldp	q30, q31, [x9, #480]
	ldr	x9, [x0, #1520]		/* vectors in place: say so */
	cbz	x9, 1f
	mov	w10, #1
	str	w10, [x9]
1:	ldr	x9, [x0, #1480]
	str	x9, [x0, #1512]
	ldr	x1, [x0, #0]
	ldr	x2, [x0, #8]
	ldr	x3, [x0, #16]
	ldr	x4, [x0, #24]
	ldr	x5, [x0, #32]
	ldr	x6, [x0, #40]
	ldr	x7, [x0, #48]
	ldr	x8, [x0, #56]
	ldr	x10, [x0, #64]
	ldr	x11, [x0, #72]
	ldr	x12, [x0, #80]
	ldr	x13, [x0, #88]
	ldr	x14, [x0, #96]
	ldr	x15, [x0, #104]
	ldr	x16, [x0, #112]
	ldr	x17, [x0, #120]
	ldr	x19, [x0, #128]
	ldr	x20, [x0, #136]
	ldr	x21, [x0, #144]
	ldr	x22, [x0, #152]
	ldr	x23, [x0, #160]
	ldr	x24, [x0, #168]
	ldr	x25, [x0, #176]
	ldr	x26, [x0, #184]
	ldr	x27, [x0, #192]
	ldr	x28, [x0, #200]
.Lspin:
	ldr	w9, [x0, #1496]		/* halt */
	cbnz	w9, 1f
	ldr	x9, [x0, #1512]
	subs	x9, x9, #1
	str	x9, [x0, #1512]
	b.ne	.Lspin
	b	2f
1:	mov	x9, #1
	str	x9, [x0, #1512]		/* halted: one last check, then out */
2:
	str	x1, [x0, #736]
	str	x2, [x0, #744]
	str	x3, [x0, #752]
	str	x4, [x0, #760]
	str	x5, [x0, #768]
	str	x6, [x0, #776]
	str	x7, [x0, #784]
	str	x8, [x0, #792]
	str	x10, [x0, #800]
	str	x11, [x0, #808]
	str	x12, [x0, #816]
	str	x13, [x0, #824]
	str	x14, [x0, #832]
	str	x15, [x0, #840]
	str	x16, [x0, #848]
	str	x17, [x0, #856]
	str	x19, [x0, #864]
	str	x20, [x0, #872]
	str	x21, [x0, #880]
	str	x22, [x0, #888]
	str	x23, [x0, #896]
	str	x24, [x0, #904]
	str	x25, [x0, #912]
	str	x26, [x0, #920]
	str	x27, [x0, #928]
	str	x28, [x0, #936]
	add	x9, x0, #952
	stp	q0, q1, [x9, #0]
	stp	q2, q3, [x9, #32]
	stp	q4, q5, [x9, #64]
	stp	q6, q7, [x9, #96]
	stp	q8, q9, [x9, #128]
	stp	q10, q11, [x9, #160]
	stp	q12, q13, [x9, #192]
	stp	q14, q15, [x9, #224]
	stp	q16, q17, [x9, #256]
	stp	q18, q19, [x9, #288]
	stp	q20, q21, [x9, #320]
	stp	q22, q23, [x9, #352]
	stp	q24, q25, [x9, #384]
	stp	q26, q27, [x9, #416]
	stp	q28, q29, [x9, #448]
	stp	q30, q31, [x9, #480]
	mrs	x9, fpcr
	and	x9, x9, #0x03c00000
	str	x9, [x0, #944]
	mov	x9, #0
	add	x2, x0, #736
1:	ldr	x1, [x0, x9, lsl #3]
	ldr	x3, [x2, x9, lsl #3]
	cmp	x1, x3
	b.ne	2f
	add	x9, x9, #1
	cmp	x9, #92
	b.lo	1b
	ldr	x1, [x0, #1512]
	cbnz	x1, .Ldone
	ldr	x1, [x0, #1480]
	ldr	x2, [x0, #1472]
	subs	x2, x2, x1
	str	x2, [x0, #1472]
	b.ls	.Ldone
	b	.Lround
2:	add	x1, x9, #1
	b	.Lout
.Ldone:
	mov	x1, #0
.Lout:
	ldr	x9, [x0, #1504]
	msr	fpcr, x9
	mov	x0, x1
	ldp	x19, x20, [sp, #16]
	ldp	x21, x22, [sp, #32]
	ldp	x23, x24, [sp, #48]
	ldp	x25, x26, [sp, #64]
	ldp	x27, x28, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	ldp	x29, x30, [sp], #160
	ret
	.size	sc_regloop, .-sc_regloop

	.section .note.GNU-stack,"",%progbits
