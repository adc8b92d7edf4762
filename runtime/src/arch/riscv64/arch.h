/*
 * arch.h for riscv64 (RISC-V psABI, LP64D, Linux): stack pointer, raw system
 * calls and the context-switch entry points implemented in asm.S.
 *
 * A saved context is a stack pointer. At that address the switch code has
 * laid out the frame below (CTX_* byte offsets; asm.S includes this header
 * for them, so the table exists once). Only callee-saved state is kept:
 * s0-s11 (s0 is the frame pointer), ra (the resume pc), fs0-fs11 (the
 * whole 64 bits: LP64D's fs registers are callee-saved in full), and the
 * dynamic rounding mode frm, so that a G takes its own rounding mode with
 * it when it moves between threads, as mxcsr does on x86-64. fflags (sticky
 * exception flags) is status, not mode, and is not kept.
 *
 * gp (the global pointer, set once by crt for linker relaxation) and tp
 * (the thread pointer) belong to the program and the thread, not the G:
 * never saved, never restored.
 */
#ifndef SQ_ARCH_H
#define SQ_ARCH_H

/* Saved-context layout, 208 bytes, a multiple of 16 (psABI: sp 16-aligned). */
#define CTX_S0     0	/* s0 (fp) */
#define CTX_S1     8
#define CTX_S2    16
#define CTX_S3    24
#define CTX_S4    32
#define CTX_S5    40
#define CTX_S6    48
#define CTX_S7    56
#define CTX_S8    64
#define CTX_S9    72
#define CTX_S10   80
#define CTX_S11   88
#define CTX_PC    96	/* ra: the resume pc */
#define CTX_FRM  104	/* frm, zero-extended */
#define CTX_FS0  112
#define CTX_FS1  120
#define CTX_FS2  128
#define CTX_FS3  136
#define CTX_FS4  144
#define CTX_FS5  152
#define CTX_FS6  160
#define CTX_FS7  168
#define CTX_FS8  176
#define CTX_FS9  184
#define CTX_FS10 192
#define CTX_FS11 200
#define CTX_SIZE 208

#ifndef __ASSEMBLER__

#include <stdint.h>

enum {
	ARCH_CTX_PC_OFF = CTX_PC,	/* byte offset of the resume pc in a saved context */
	ARCH_CTX_SIZE   = CTX_SIZE,
	ARCH_STACK_ALIGN = 16,		/* psABI: sp is 16-aligned at calls */
	ARCH_REDZONE    = 0,		/* no red zone below sp */
};

_Static_assert(CTX_SIZE % 16 == 0, "a saved context keeps sp 16-byte aligned");
_Static_assert(CTX_FS11 + 8 == CTX_SIZE, "fs11 is the last slot");

__attribute__((no_instrument_function, always_inline))
static inline uintptr_t arch_getsp(void)
{
	uintptr_t sp;
	__asm__ volatile("mv %0, sp" : "=r"(sp));
	return sp;
}

/* The address of the calling thread's g (the runtime's initial-exec
 * `__thread G *g`), from a fresh read of tp every time. A G may resume on
 * another thread after any call that can reschedule it (mcall, sq_ctx_swap
 * and their callers); the compiler takes a TLS address for a constant
 * within a function and keeps tp + offset in a callee-saved register across
 * such calls (gstart holds it across gp->fn), which then names the old
 * thread's g. One volatile asm, so the sum is never reused. Any stack,
 * signal-safe. */
__attribute__((no_instrument_function, always_inline))
static inline void **arch_gslot(void)
{
	void **p;
	__asm__ volatile("la.tls.ie %0, g\n\tadd %0, %0, tp" : "=r"(p));
	return p;
}

/* A spin-wait hint: Zihintpause's PAUSE, spelled as its encoding (fence w,0,
 * a HINT: a plain no-op on cores without the extension) so that assemblers
 * without Zihintpause take it. */
__attribute__((no_instrument_function, always_inline))
static inline void arch_pause(void)
{
	__asm__ volatile(".insn i 0x0f, 0, x0, x0, 0x010" ::: "memory");
}

/* Raw system call: no errno, returns the kernel's value (-errno on error).
 * Safe anywhere: touches no TLS and makes no calls. The kernel preserves
 * every register but a0 across ecall. */
__attribute__((no_instrument_function, always_inline))
static inline long arch_syscall6(long nr, long a1, long a2, long a3, long a4,
	long a5, long a6)
{
	register long a7 __asm__("a7") = nr;
	register long r0 __asm__("a0") = a1;
	register long r1 __asm__("a1") = a2;
	register long r2 __asm__("a2") = a3;
	register long r3 __asm__("a3") = a4;
	register long r4 __asm__("a4") = a5;
	register long r5 __asm__("a5") = a6;
	__asm__ volatile("ecall"
		: "+r"(r0)
		: "r"(a7), "r"(r1), "r"(r2), "r"(r3), "r"(r4), "r"(r5)
		: "memory");
	return r0;
}

/* The program counter a signal interrupted, and its stack pointer (REG_PC
 * and REG_SP come with _GNU_SOURCE in glibc and musl alike). */
#define ARCH_UC_PC(uc) ((uintptr_t)((ucontext_t *)(uc))->uc_mcontext.__gregs[REG_PC])
#define ARCH_UC_SP(uc) ((uintptr_t)((ucontext_t *)(uc))->uc_mcontext.__gregs[REG_SP])

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
	if (gp == curg)
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
