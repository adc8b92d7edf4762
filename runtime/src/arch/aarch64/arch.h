/*
 * arch.h for aarch64 (AAPCS64, Linux): stack pointer, raw system calls and
 * the context-switch entry points implemented in asm.S.
 *
 * A saved context is a stack pointer. At that address the switch code has
 * laid out the frame below (CTX_* byte offsets; asm.S includes this header
 * for them, so the table exists once). Only callee-saved state is kept:
 * x19-x28, the frame pointer x29, the link register x30 (which is the resume
 * pc), the low 64 bits of v8-v15 (d8-d15), and FPCR, whose mode bits
 * (rounding, flush-to-zero, default NaN) AAPCS64 gives "global" scope: a
 * callee must leave them as it found them, so a G takes its own with it
 * when it moves between threads, as mxcsr does on x86-64. FPSR (sticky
 * exception flags) is status, not mode, and is not kept.
 *
 * x18 (the platform register) and TPIDR_EL0 (the thread pointer) belong to
 * the thread, not the G: never saved, never restored.
 */
#ifndef SQ_ARCH_H
#define SQ_ARCH_H

/* Saved-context layout, 176 bytes, 16-byte aligned (sp must always be). */
#define CTX_X19   0	/* x19, x20 */
#define CTX_X21  16	/* x21, x22 */
#define CTX_X23  32	/* x23, x24 */
#define CTX_X25  48	/* x25, x26 */
#define CTX_X27  64	/* x27, x28 */
#define CTX_FP   80	/* x29 */
#define CTX_PC   88	/* x30: the resume pc */
#define CTX_D8   96	/* d8, d9 */
#define CTX_D10 112	/* d10, d11 */
#define CTX_D12 128	/* d12, d13 */
#define CTX_D14 144	/* d14, d15 */
#define CTX_FPCR 160	/* FPCR (8), pad (8) */
#define CTX_SIZE 176

#ifndef __ASSEMBLER__

#include <stdint.h>

enum {
	ARCH_CTX_PC_OFF = CTX_PC,	/* byte offset of the resume pc in a saved context */
	ARCH_CTX_SIZE   = CTX_SIZE,
	ARCH_STACK_ALIGN = 16,		/* AAPCS64 5.2.2: sp is always 16-aligned */
	ARCH_REDZONE    = 0,		/* no red zone below sp on Linux */
};

_Static_assert(CTX_SIZE % 16 == 0, "a saved context keeps sp 16-byte aligned");
_Static_assert(CTX_PC == CTX_FP + 8, "asm.S stores fp and pc with one stp");
_Static_assert(CTX_FPCR + 16 == CTX_SIZE, "FPCR is the last slot");

__attribute__((no_instrument_function, always_inline))
static inline uintptr_t arch_getsp(void)
{
	uintptr_t sp;
	__asm__ volatile("mov %0, sp" : "=r"(sp));
	return sp;
}

/* The address of the calling thread's g (the runtime's initial-exec
 * `__thread G *g`), from a fresh read of the thread pointer every time.
 * A G may resume on another thread after any call that can reschedule it
 * (mcall, sq_ctx_swap and their callers); the compiler takes a TLS address
 * for a constant within a function and keeps TPIDR_EL0 in a callee-saved
 * register across such calls (gstart holds it across gp->fn), which then
 * names the old thread's g. The GOT offset is a link-time constant and may
 * be shared; the mrs is volatile and is not. Any stack, signal-safe. */
__attribute__((no_instrument_function, always_inline))
static inline void **arch_gslot(void)
{
	uintptr_t tp, off;
	__asm__("adrp %0, :gottprel:g\n\tldr %0, [%0, #:gottprel_lo12:g]" : "=r"(off));
	__asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
	return (void **)(tp + off);
}

/* A spin-wait hint. */
__attribute__((no_instrument_function, always_inline))
static inline void arch_pause(void)
{
	__asm__ volatile("yield" ::: "memory");
}

/* Raw system call: no errno, returns the kernel's value (-errno on error).
 * Safe anywhere: touches no TLS and makes no calls. The kernel preserves
 * every register but x0 across svc. */
__attribute__((no_instrument_function, always_inline))
static inline long arch_syscall6(long nr, long a1, long a2, long a3, long a4,
	long a5, long a6)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a1;
	register long x1 __asm__("x1") = a2;
	register long x2 __asm__("x2") = a3;
	register long x3 __asm__("x3") = a4;
	register long x4 __asm__("x4") = a5;
	register long x5 __asm__("x5") = a6;
	__asm__ volatile("svc #0"
		: "+r"(x0)
		: "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
		: "memory");
	return x0;
}

/* The program counter a signal interrupted, and its stack pointer
 * (glibc and musl both name them so). */
#define ARCH_UC_PC(uc) ((uintptr_t)((ucontext_t *)(uc))->uc_mcontext.pc)
#define ARCH_UC_SP(uc) ((uintptr_t)((ucontext_t *)(uc))->uc_mcontext.sp)

/* REGRESS(ARM_SYSTEMSTACK_CURG) (docs/arch.md): the one regression variant
 * that lives in this arch's code alone. */
#include "regress.h"

/* systemstack's entry test, per arch as in Go (runtime·systemstack in
 * asm_*.s, where the stack switch that follows lives too): where the caller
 * gp, the thread's g (never NULL here), stands relative to its M's g0 and
 * curg. On g0 systemstack just calls; from curg it switches to g0 and
 * back to curg; from anything else (gsignal) the switch back would go to
 * the wrong G, and systemstack throws. Any stack, no side effects. */
enum { ARCH_SYS_NOSWITCH, ARCH_SYS_SWITCH, ARCH_SYS_BAD };
__attribute__((no_instrument_function, always_inline))
static inline int arch_systemstack_from(const void *gp, const void *g0, const void *curg)
{
	if (gp == g0)
		return ARCH_SYS_NOSWITCH;
	/* Go's ARM port of the fix asked g0 twice: no G is ever "curg". */
	if (gp == (REGRESS(ARM_SYSTEMSTACK_CURG) ? g0 : curg))
		return ARCH_SYS_SWITCH;
	return ARCH_SYS_BAD;
}

/* Asynchronous preemption (preempt.c): not on this port. The handler
 * leaves every preemption request to the G's next split check, as before
 * (docs/runtime.md). */
__attribute__((no_instrument_function, always_inline))
static inline uintptr_t arch_asyncpreempt_probe(void)
{
	return 0;
}

__attribute__((no_instrument_function, always_inline))
static inline void arch_asyncpreempt_inject(void *uc)
{
	(void)uc;
}

/* asm.S */
void sq_mcall_switch(uintptr_t *save, uintptr_t g0sp, void (*fn)(void *), void *arg);
__attribute__((noreturn)) void sq_gogo_switch(uintptr_t sp);
void sq_ctx_swap(uintptr_t *save, uintptr_t to);
uintptr_t sq_ctx_make(uintptr_t top, void (*entry)(void));
/* Returns what fn left in the return register (its value, if it has one). */
uintptr_t sq_oncall(uintptr_t sp, void (*fn)(void *), void *arg, uintptr_t *oldsp);

#endif /* __ASSEMBLER__ */
#endif
