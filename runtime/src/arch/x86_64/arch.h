/*
 * arch.h for x86-64 (System V psABI): stack pointer, raw system calls and
 * the context-switch entry points implemented in asm.S.
 *
 * A saved context is a stack pointer. At that address the switch code has
 * laid out (see asm.S): mxcsr/x87 cw, r15, r14, r13, r12, rbx, rbp, pc.
 */
#ifndef SQ_ARCH_H
#define SQ_ARCH_H

#include <stdint.h>

enum {
	ARCH_CTX_PC_OFF = 56,	/* byte offset of the resume pc in a saved context */
	ARCH_CTX_SIZE   = 64,
	ARCH_STACK_ALIGN = 16,
	ARCH_REDZONE    = 128,	/* bytes below sp a leaf may use: never overwrite */
};

__attribute__((no_instrument_function, always_inline))
static inline uintptr_t arch_getsp(void)
{
	uintptr_t sp;
	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	return sp;
}

/* The address of the calling thread's g (the runtime's initial-exec
 * `__thread G *g`), from a fresh read of the thread pointer every time.
 * A G may resume on another thread after any call that can reschedule it
 * (mcall, sq_ctx_swap and their callers), so a TLS address must never be
 * kept across one. Plain `g` accesses are safe here (each is an
 * %fs-relative load), but the compiler may also form &g once from %fs:0
 * and keep it; this never does. Any stack, signal-safe. */
__attribute__((no_instrument_function, always_inline))
static inline void **arch_gslot(void)
{
	void **p;
	__asm__ volatile("movq %%fs:0, %0\n\taddq g@gottpoff(%%rip), %0" : "=r"(p));
	return p;
}

/* A spin-wait hint. */
__attribute__((no_instrument_function, always_inline))
static inline void arch_pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* Raw system call: no errno, returns the kernel's value (-errno on error).
 * Safe anywhere: touches no TLS and makes no calls. */
__attribute__((no_instrument_function, always_inline))
static inline long arch_syscall6(long nr, long a1, long a2, long a3, long a4,
	long a5, long a6)
{
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	__asm__ volatile("syscall"
		: "=a"(ret)
		: "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
		: "rcx", "r11", "memory");
	return ret;
}

/* The program counter a signal interrupted, and its stack pointer. */
#define ARCH_UC_PC(uc) ((uintptr_t)((ucontext_t *)(uc))->uc_mcontext.gregs[REG_RIP])
#define ARCH_UC_SP(uc) ((uintptr_t)((ucontext_t *)(uc))->uc_mcontext.gregs[REG_RSP])

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

/* asm.S */
void sq_mcall_switch(uintptr_t *save, uintptr_t g0sp, void (*fn)(void *), void *arg);
__attribute__((noreturn)) void sq_gogo_switch(uintptr_t sp);
void sq_ctx_swap(uintptr_t *save, uintptr_t to);
uintptr_t sq_ctx_make(uintptr_t top, void (*entry)(void));
/* Returns what fn left in the return register (its value, if it has one). */
uintptr_t sq_oncall(uintptr_t sp, void (*fn)(void *), void *arg, uintptr_t *oldsp);

#endif
