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
#include <ucontext.h>

#include "regress.h"

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

/* g itself, loaded or stored with one %fs-relative access. The GOT slot
 * holds g's offset from the thread pointer (the linker turns the load of
 * it into an immediate in an executable), so unlike arch_gslot there is no
 * load of %fs:0 on the way: one dependent load fewer on every switch path.
 * Fresh every time, as arch_gslot; the store is a compiler barrier, so
 * that whatever a signal handler will find through the new g is written
 * first. */
#define ARCH_G_DIRECT 1

__attribute__((no_instrument_function, always_inline))
static inline void *arch_loadg(void)
{
	void *v;
	uintptr_t off;
	__asm__ volatile("movq g@gottpoff(%%rip), %1\n\tmovq %%fs:(%1), %0"
		: "=r"(v), "=r"(off));
	return v;
}

__attribute__((no_instrument_function, always_inline))
static inline void arch_storeg(void *v)
{
	uintptr_t off;
	__asm__ volatile("movq g@gottpoff(%%rip), %0\n\tmovq %1, %%fs:(%0)"
		: "=&r"(off) : "er"(v) : "memory");
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

/* ---- asynchronous preemption (preempt.c; sq_asyncpreempt in asm.S) --------
 *
 * The signal handler diverts a G interrupted at a safe point into
 * sq_asyncpreempt, as if the interrupted instruction had called it: the
 * interrupted pc goes on the G's stack below the 128-byte red zone (which
 * the interrupted code may be using), sp points at it, pc at the routine.
 * The routine saves every general register and rflags, then the extended
 * state with xsave (x87, SSE with mxcsr, AVX, AVX-512 with the opmask
 * registers: the components of XCR0 a program can use, PKRU and AMX left
 * out: PKRU is the thread's, not the G's), 64-byte aligned below them;
 * calls asyncpreempt2 (which reschedules the G, maybe onto another
 * thread); restores everything and returns with `ret $128`, which pops the
 * pc and skips the red zone: sp is exactly the interrupted one again.
 * Without OSXSAVE it uses fxsave (x87 and SSE: all the state there is).
 *
 * sq_fpmask is the xsave component mask (0: fxsave), sq_fpsize the save
 * area's bytes. Set once by arch_asyncpreempt_probe, before any signal. */
extern uint64_t sq_fpmask;
extern uint32_t sq_fpsize;
void sq_asyncpreempt(void);

enum {
	ARCH_ASYNC_REDZONE = ARCH_REDZONE,	/* left alone below the interrupted sp */
	ARCH_ASYNC_GPRS    = 16 * 8,		/* 15 registers and rflags */
	ARCH_FP_LEGACY     = 512,		/* fxsave area; xsave's header follows */
	ARCH_FP_HEADER     = 64,
	ARCH_XCR0_USER     = 0xe7,		/* x87, SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM */
};

__attribute__((no_instrument_function, always_inline))
static inline void arch_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* Once, at start-up: choose xsave or fxsave and size the save area.
 * Returns the bytes the routine needs below the interrupted sp (red zone,
 * registers, alignment, save area, and the frames of the C it calls), or 0
 * if this CPU cannot. */
__attribute__((no_instrument_function))
static inline uintptr_t arch_asyncpreempt_probe(void)
{
	uint32_t r[4];
	uint32_t lo, hi, size = ARCH_FP_LEGACY + ARCH_FP_HEADER;
	uint64_t mask;

	arch_cpuid(1, 0, r);
	if (!(r[3] & (1u << 24)))	/* no fxsave: not an x86-64 we know */
		return 0;
	/* Before the fix the vector state went through fxsave whatever the
	 * CPU had: x87 and XMM0-15's low halves only. */
	if (REGRESS(ASYNCPREEMPT_FXSAVE) || !(r[2] & (1u << 27))) {	/* OSXSAVE */
		sq_fpmask = 0;
		sq_fpsize = ARCH_FP_LEGACY;
	} else {
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		mask = (((uint64_t)hi << 32) | lo) & ARCH_XCR0_USER;
		for (uint32_t i = 2; i < 8; i++) {
			if (!(mask & (1u << i)))
				continue;
			arch_cpuid(0xd, i, r);	/* eax: size, ebx: offset */
			if (r[1] + r[0] > size)
				size = r[1] + r[0];
		}
		sq_fpmask = mask;
		sq_fpsize = size;
	}
	return ARCH_ASYNC_REDZONE + 8 + ARCH_ASYNC_GPRS + 64 + sq_fpsize + 1024;
}

/* From the signal handler, with uc the interrupted G's context and room
 * checked: resume it in sq_asyncpreempt (see above). Like ARCH_UC_PC it
 * needs REG_RIP, which libc declares with _GNU_SOURCE only: it exists in
 * the files that define that first (preempt.c). */
#ifdef REG_RIP
__attribute__((no_instrument_function, always_inline))
static inline void arch_asyncpreempt_inject(void *uc)
{
	greg_t *r = ((ucontext_t *)uc)->uc_mcontext.gregs;
	uintptr_t sp = (uintptr_t)r[REG_RSP] - ARCH_ASYNC_REDZONE - 8;

	*(uintptr_t *)sp = (uintptr_t)r[REG_RIP];
	r[REG_RSP] = (greg_t)sp;
	r[REG_RIP] = (greg_t)(uintptr_t)sq_asyncpreempt;
}
#endif

/* asm.S */
void sq_mcall_switch(uintptr_t *save, uintptr_t g0sp, void (*fn)(void *), void *arg);
__attribute__((noreturn)) void sq_gogo_switch(uintptr_t sp);
void sq_ctx_swap(uintptr_t *save, uintptr_t to);
/* sq_ctx_swap's second copy (asm.S): the same switch, another jmp site. */
#define ARCH_CTX_SWAP_ALT 1
void sq_ctx_swap_alt(uintptr_t *save, uintptr_t to);
uintptr_t sq_ctx_make(uintptr_t top, void (*entry)(void));
/* Returns what fn left in the return register (its value, if it has one). */
uintptr_t sq_oncall(uintptr_t sp, void (*fn)(void *), void *arg, uintptr_t *oldsp);

#endif
