/*
 * runtime.h: the runtime's objects and the contracts between its mechanisms.
 *
 * G  a goroutine: a coroutine with its own stack, a status and saved context.
 * M  an OS thread. Every M owns two runtime stacks besides the G it runs:
 *    g0, the system stack (scheduler, systemstack, C calls), and gsignal,
 *    the signal stack installed with sigaltstack.
 * P  a processor token. An M must hold a P to run Gs. There are sq_maxprocs.
 *
 * The current G is the thread-local g (initial-exec TLS, so a signal handler
 * may read it). It is one of m->g0, m->gsignal or m->curg of the M it runs on,
 * or NULL on a thread that is not attached to the runtime.
 *
 * Invariants (each has a check that throws from the table in throw.c):
 *  - a G's status changes only along the edges of the table in proc.c;
 *  - g->stackguard is either lo + STACK_GUARD or STACK_PREEMPT (poisoned);
 *  - a G in Gsyscall has throwsplit set, a poisoned guard, and its saved
 *    sched.sp equals syscallsp and lies inside its stack;
 *  - every stack handed out by stackalloc is mapped MAP_STACK;
 *  - an extra M is in exactly one extrastate, changed under extralock, and
 *    is on the extra-M list exactly when it is EXTRA_FREE;
 *  - a G locked to an M (lockedm) runs on no other M, and that M runs no
 *    other G: m->lockedg == g exactly when g->lockedm == m;
 *  - while gsignal runs, its bounds are those of the signal stack the
 *    handler is actually on (the runtime's own, or the thread's, adopted).
 *
 * Split checks: every function compiled into the runtime gets one (split.c;
 * how, per arch and libc, is runtime/src/split/<mode>/). NOSPLIT functions
 * get none; they are the ones that run where a split would be fatal or where
 * g is not yet trustworthy (syscall windows, attach/detach, signal entry,
 * throw). In tcb mode the check reads a per-thread guard word rather than
 * g->stackguard: setg and every change to the running G's guard write it too
 * (splitword.h).
 */
#ifndef SQ_RUNTIME_H
#define SQ_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <pthread.h>

#include "sq.h"
#include "arch.h"
#include "splitword.h"
#include "regress.h"

/* The runtime's code goes in a section of its own, so that the signal
 * handler can tell it from the program's (preempt.c). */
#pragma clang section text = "sq_rt_text"

typedef uintptr_t uintptr;
typedef struct G G;
typedef struct M M;
typedef struct P P;

/* The short list of macros. Everything else is static inline. */
#define NOSPLIT   __attribute__((no_instrument_function, no_split_stack))
#define NORETURN  __attribute__((noreturn))
#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

enum {
	STACK_GUARD   = 16 << 10,	/* bytes above lo reserved for nosplit chains and throw */
	STACK_PREEMPT = (uintptr)-1314,	/* poisoned guard: every split check fails */
	PAGE          = 4096,
	RUNQ_SIZE     = 256,
};

/* G status. Transitions are checked against proc.c's table. */
enum {
	Gidle, Grunnable, Grunning, Gsyscall, Gwaiting, Gdead, Gnstatus
};

enum { Pidle, Prunning, Psyscall };

/* Extra M states (m->extrastate). NEW: being made or handed out; FREE: on
 * the extra-M list; ATTACHED: a foreign thread's (attaching counts from
 * the moment needm takes it); DETACHING: dropm under way. */
enum { EXTRA_NEW, EXTRA_FREE, EXTRA_ATTACHED, EXTRA_DETACHING };

typedef struct Stack {
	uintptr lo;	/* lowest usable byte; the guard page lies below it */
	uintptr hi;	/* one past the highest byte */
} Stack;

/* A cleanup record (sq_defer in sq.h), on its G's stack. */
typedef struct sq_defer Defer;

/* A saved context: sp points at the frame laid out by the arch's switch code. */
typedef struct Gobuf {
	uintptr sp;
	uintptr pc;
} Gobuf;

typedef struct Lock {
	uint32_t key;
} Lock;

typedef struct Note {
	uint32_t key;
} Note;

struct G {
	uintptr stackguard;	/* read by the split hook on every call */
	Stack stack;
	Gobuf sched;
	uintptr syscallsp;	/* sp recorded by entersyscall */
	uintptr syscallpc;
	uintptr ccallsp;	/* G's sp while sq_ccall runs C on g0; callbacks run below it */
	uint32_t status;
	bool throwsplit;	/* any split check is fatal: inside a syscall window */
	bool preempt;		/* yield at the next split check */
	bool isg0;		/* g0 or gsignal: not scheduled */
	M *m;
	M *lockedm;		/* runs only on this M (callback Gs) */
	G *schedlink;
	G *alllink;
	uint64_t goid;
	int (*fn)(void *);
	void *arg;
	const char *waitreason;
	void *asanfake;		/* ASan builds: the G's fake stack while it is switched out */
	Defer *defer;		/* cleanups sq_goexit runs, innermost first */
	uintptr asyncpc;	/* pc an asynchronous preemption interrupted (0: none) */
	uint64_t npreempt;	/* preemptions honoured, wherever it ran */
	uint32_t *pnotify;	/* harness: set to 1 at the next preemption honoured */
};

struct M {
	G *g0;
	G *gsignal;
	G *curg;
	P *p;
	P *nextp;		/* P handed over with a wakeup */
	P *oldp;		/* P kept in Psyscall during a syscall window */
	int64_t id;
	int32_t procid;		/* kernel tid */
	int32_t locks;		/* >0: no preemption */
	int32_t ncgo;		/* sq_ccall frames up the stack */
	bool spinning;
	bool isextra;		/* lent to foreign threads */
	bool incallback;	/* a callback is running (extra M, or a nested one) */
	bool inC;		/* extra M: attached, between callbacks (its lockedg in Gsyscall) */
	bool attachdone;	/* extra M: needm done, g not yet cleared by dropm */
	bool incgo;		/* C run by sq_ccall is running on g0, no callback inside it */
	bool throwing;
	int32_t printlock;	/* printlock depth: a handler nested on this M's thread re-enters */
	bool newsigstack;	/* minit installed gsignal (else: adopted the thread's own) */
	bool exiting;		/* leaving for good: its locked G exited */
	uint32_t extrastate;	/* extra M: EXTRA_*, under extralock */
	uint32_t preemptreq;	/* a preemption signal from sysmon is on its way */
	int32_t lockedext;	/* sq_lockosthread nesting */
	int32_t lockedint;	/* the runtime's own locks (callbacks) */
	G *lockedg;
	void (*mcallfn)(G *);	/* what mcall runs on g0 */
	Lock *waitlock;		/* released by park_m once the G is parked */
	uintptr moresp;		/* sp at the failed split check */
	Note park;
	M *schedlink;
	M *alllink;
	uint64_t nprof;		/* SIGPROF samples taken on this M */
	uint64_t npreempt;	/* preemptions honoured */
	uint64_t nasyncpreempt;	/* of which asynchronous */
	Stack sigstack;		/* the runtime's own signal stack (gsignal's at rest) */
	uintptr exitsp;		/* runtime M: mstart's context, resumed to end the thread */
	M *freelink;		/* on sched.freem: exited, waiting to be reused */
	uintptr *splitword;	/* runtime M: its thread's split guard word, for sysmon (NULL: none) */
	pthread_t thread;
};

struct P {
	int32_t id;
	uint32_t status;
	M *m;
	uint32_t schedtick;
	uint32_t syscalltick;
	P *link;
	uint32_t runqhead;
	uint32_t runqtail;
	G *runq[RUNQ_SIZE];
};

typedef struct Sched {
	Lock lock;
	M *midle;
	int32_t nmidle;
	int32_t nmidlelocked;
	int32_t mcount;
	int32_t nmsys;		/* Ms not counted by checkdead (a wedged M0) */
	M *freem;		/* Ms whose threads exited, for reuse */
	P *pidle;
	uint32_t npidle;
	uint32_t nmspinning;
	G *runqhead;
	G *runqtail;
	int32_t runqsize;
	G *gfree;		/* dead Gs with default-size stacks, for reuse */
	G *gfreesized;		/* dead Gs with stacks of other sizes (sq_spawn_stack) */
	int32_t ngfree;		/* on either list */
	uint32_t sysmonwait;
	Note sysmonnote;
	bool goexitmain;	/* the main G ended with sq_goexit */
	uint64_t goidgen;
	int64_t mnext;
	bool mainstarted;	/* sq_main mode: checkdead applies */
} Sched;

extern __thread G *g __attribute__((tls_model("initial-exec")));
extern Sched sched;
extern P *allp;
extern int32_t sq_nprocs;
extern G *allg;
extern M *allm;
extern Lock allglock;
extern M m0;

/* throw.c: fatal errors, from the one table (SQ_FATALS in sq_contract.h) */
#define F_ENUM_(id, ...) F_##id = SQ_F_##id,
typedef enum Fatal { SQ_FATALS(F_ENUM_) F_NFATAL = SQ_F_N } Fatal;
#undef F_ENUM_

NORETURN void throw(Fatal f);
NORETURN void throwf(Fatal f, const char *detail);
void blockasync(void);
const char *fatalmsg(Fatal f);
void dumpall(void);

/* print.c: async-signal-safe output to stderr */
void prints(const char *s);
void printline(const char *a, const char *b);
void printu(uint64_t v);
void printi(int64_t v);
void printx(uint64_t v);
void printnl(void);
void printlock(void);
void printunlock(void);

/* lock.c */
void lock(Lock *l);
void unlock(Lock *l);
void noteclear(Note *n);
void notewakeup(Note *n);
void notesleep(Note *n);
bool notetsleep(Note *n, int64_t ns);

/* stack.c */
extern Lock stackownlock;
Stack stackalloc(size_t size);
void stackfree(Stack s);
size_t stack_gsize(void);
int64_t stack_inuse(void);

/* settings.c: parsed once, at start-up (schedinit) */
typedef struct Settings {
	int32_t maxprocs;	/* SQ_MAXPROCS; 0: one per online CPU */
	size_t stacksize;	/* SQ_STACKSIZE: bytes of a G stack */
	bool callback_bind;	/* SQ_CALLBACK_BIND */
	bool maymorestack;	/* SQ_DEBUG=maymorestack=yield */
	bool nopreempt;		/* SQ_DEBUG=preempt=off */
	bool noasyncpreempt;	/* SQ_DEBUG=asyncpreempt=off: preemption at split checks only */
	bool crash_abort;	/* SQ_CRASH=abort */
	const char *fault;	/* SQ_FAULT, armed by fault_init */
} Settings;
extern Settings sq_settings;
void settings_init(void);

/* proc.c: scheduler */
NORETURN void badstatus(G *gp, uint32_t oldval, uint32_t newval);
const char *gstatusname(uint32_t s);
void mcall(void (*fn)(G *));
void systemstack(void (*fn)(void *), void *arg);
NORETURN void gogo(G *gp);
NORETURN void schedule(void);
NORETURN void execute(G *gp);
void gopark(Lock *l, const char *reason);
void goready(G *gp);
void gopreempt_m(G *gp);
void preemptg(M *mp, G *gp);
void goyield_m(G *gp);
void runqput(P *p, G *gp);
void globrunqput(G *gp);
void handoffp(P *p);
P *releasep(void);
void acquirep(P *p);
P *pidleget(void);
void pidleput(P *p);
void startm(P *p, bool spinning);
void stopm(void);
void wakep(void);
void stoplockedm(void);
M *allocm(bool extra);
void mcommoninit(M *mp);
void g0_setstack(G *g0, uintptr lo, uintptr hi);
int64_t nanotime(void);
void sysmon_start(void);
void schedinit(void);
G *gnew(size_t size);
void gsetguard(G *gp);
void splitpoison(M *mp);

/* split.c: a failed split check (from the mode's hook or __morestack) */
void morestack(G *gp, uintptr sp);

/* timer.c */
int64_t timer_next(void);
bool timers_pending(void);
int timer_run(int64_t now);

/* syscall.c */
void entersyscall(void);
void entersyscallblock(void);
void exitsyscall(void);
void reentersyscall(uintptr pc, uintptr sp);
void syscall_check(G *gp);

/* signal.c */
void signal_init(void);
void sig_restore_abort(void);
void minit(M *mp);
void unminit(M *mp);
void mpreinit(M *mp);
void preemptm(M *mp);
uint64_t sig_nprofext(void);
extern bool sq_signals_ready;

/* preempt.c: asynchronous preemption */
void preempt_init(void);
bool preempt_async(G *gp, void *uc);

/* misuse.c */
extern bool misuse_failnewm;

/* callback.c */
void callback_init(void);
void needm(void);
void dropm(void);
int32_t extram_count(void);
int32_t extram_attached(void);
typedef struct Extracensus {
	int32_t nstate[EXTRA_DETACHING + 1];	/* extra Ms per EXTRA_* state */
	int32_t listlen;	/* Ms on the extra-M list */
	int32_t listbad;	/* of which not EXTRA_FREE */
	int32_t count;		/* the list's counter */
	int32_t attached;	/* the attached counter */
	int32_t freebusy;	/* free Ms still counting call-outs or locks */
	int32_t freelive;	/* free Ms whose callback G is not dead */
	int32_t orphans;	/* attached Ms whose thread no longer exists */
	int64_t orphan_tid;	/* the first such thread */
} Extracensus;
void extram_census(Extracensus *c);

/* fault.c: named fault sites, compiled only into harness builds */
#include "fault.h"


/* ---- AddressSanitizer fiber annotations ------------------------------------
 * ASan keeps one stack per thread (its bounds, and a fake stack for
 * detect_stack_use_after_return) and must be told of every switch to
 * another: asan_switch_start(save, lo, hi) just before it, with the new
 * stack's bounds and where this context's fake stack goes (NULL: the frames
 * left are abandoned, and the fake stack is freed); asan_switch_finish(save)
 * first thing on the new stack, with what that context saved (NULL: a fresh
 * context). A switch to a callee stack that will switch back records where
 * it came from in an Asanctx (asan_switch_finish_from, asan_switch_back).
 * Whoever calls asan_switch_start(NULL, ...) must have no fake frame (no
 * local whose address is taken): its own frame would go with the fake stack.
 * Without ASan all of it is empty and costs nothing.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SQ_ASAN 1
#endif
#endif
#if !defined(SQ_ASAN) && defined(__SANITIZE_ADDRESS__)
#define SQ_ASAN 1
#endif
#ifndef SQ_ASAN
#define SQ_ASAN 0
#endif

#if SQ_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

/* The caller's side of a switch to another stack and back: the fake stack
 * it left (callers without a save slot of their own) and the stack ASan had
 * before the switch (the callee's way back). Empty without ASan. */
typedef struct Asanctx {
#if SQ_ASAN
	void *fake;
	const void *lo;
	size_t size;
#endif
} Asanctx;

/* A callback on its way from a foreign thread's C to its G (callback.c
 * fills it in; cgocallbackg, in syscall.c, runs it). */
typedef struct Cb {
	int (*fn)(void *);
	void *arg;
	int ret;
	M *mp;
	G *gp;
	Asanctx asan;	/* the C side: its fake stack, and its stack for the way back */
} Cb;

void cgocallbackg(void *cb);

#define ASAN_INLINE __attribute__((no_instrument_function, no_split_stack, always_inline)) static inline

ASAN_INLINE void asan_switch_start(void **save, uintptr lo, uintptr hi)
{
#if SQ_ASAN
	__sanitizer_start_switch_fiber(save, (const void *)lo, hi - lo);
#endif
}

ASAN_INLINE void asan_switch_finish(void *save)
{
#if SQ_ASAN
	__sanitizer_finish_switch_fiber(save, NULL, NULL);
#endif
}

/* asan_switch_start saving the fake stack in c. */
ASAN_INLINE void asan_switch_start_ctx(Asanctx *c, uintptr lo, uintptr hi)
{
#if SQ_ASAN
	__sanitizer_start_switch_fiber(&c->fake, (const void *)lo, hi - lo);
#endif
}

/* asan_switch_finish restoring the fake stack saved in c. */
ASAN_INLINE void asan_switch_finish_ctx(Asanctx *c)
{
#if SQ_ASAN
	__sanitizer_finish_switch_fiber(c->fake, NULL, NULL);
#endif
}

/* asan_switch_finish that records, in c, the stack it came from. */
ASAN_INLINE void asan_switch_finish_from(void *save, Asanctx *c)
{
#if SQ_ASAN
	__sanitizer_finish_switch_fiber(save, &c->lo, &c->size);
#endif
}

/* asan_switch_start back to the stack c recorded. */
ASAN_INLINE void asan_switch_back(void **save, const Asanctx *c)
{
#if SQ_ASAN
	__sanitizer_start_switch_fiber(save, c->lo, c->size);
#endif
}

/* Clear stale stack poison from [lo, hi): abandoned frames leave their
 * redzones poisoned. */
ASAN_INLINE void asan_unpoison(uintptr lo, uintptr hi)
{
#if SQ_ASAN
	__asan_unpoison_memory_region((const void *)lo, hi - lo);
#endif
}

/* NOSPLIT only in ASan builds: code that runs on a stack before its
 * asan_switch_finish, where a split check could switch again. */
#if SQ_ASAN
#define ASAN_NOSPLIT NOSPLIT
#else
#define ASAN_NOSPLIT
#endif

/* One copy of the context switch unless the port has two (x86-64). */
#ifndef ARCH_CTX_SWAP_ALT
#define ARCH_CTX_SWAP_ALT 0
#define sq_ctx_swap_alt sq_ctx_swap
#endif

/* g through the arch layer, which reads the thread pointer afresh every
 * time: a G may come back on another thread after any call that can
 * reschedule it, and a compiler that formed &g once (clang does on aarch64
 * and riscv64) would keep naming the old thread's g. */
#ifdef ARCH_G_DIRECT
NOSPLIT static inline G *getg(void) { return arch_loadg(); }
NOSPLIT static inline void storeg(G *gp) { arch_storeg(gp); }
#else
NOSPLIT static inline G *getg(void) { return *(G **)arch_gslot(); }
NOSPLIT static inline void storeg(G *gp) { *(G **)arch_gslot() = gp; }
#endif

/* Make gp (never NULL) the thread's g: g first, then the split guard word
 * (tcb mode), so that a signal handler landing in between restores the word
 * from the g it found, which is already the new one. */
NOSPLIT static inline void setg(G *gp)
{
	storeg(gp);
	split_setword(gp->stackguard);
}

/* The thread has no g any more (dropm). No g, no check: the word is 0. */
NOSPLIT static inline void clearg(void)
{
	storeg(NULL);
	split_setword(0);
}

/* Change the guard of the G this thread is running (g == gp). */
NOSPLIT static inline void setguard_running(G *gp, uintptr v)
{
	gp->stackguard = v;
	split_setword(v);
}

/* The guard a G runs with: its real guard, or poisoned for good in the
 * maymorestack debug mode so that every split check reaches newstack.
 * Inline: the syscall window's way out computes it on every call. */
NOSPLIT static inline uintptr gguard(G *gp)
{
	return sq_settings.maymorestack ? STACK_PREEMPT : gp->stack.lo + STACK_GUARD;
}

/* Where a G from gnew starts its frames: just below the G itself, which
 * lives in the top bytes of its stack (proc.c, gnew). 64-aligned. */
NOSPLIT static inline uintptr gstacktop(G *gp)
{
	return (uintptr)gp;
}

/* Pin the G to its M (no preemption) while it uses the M's P. */
NOSPLIT static inline M *acquirem(void)
{
	M *mp = getg()->m;

	mp->locks++;
	return mp;
}

NOSPLIT static inline void releasem(M *mp)
{
	mp->locks--;
}

NOSPLIT static inline uint32_t atomic_load32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

NOSPLIT static inline void atomic_store32(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

NOSPLIT static inline bool cas32(uint32_t *p, uint32_t old, uint32_t new)
{
	return __atomic_compare_exchange_n(p, &old, new, false,
		__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

NOSPLIT static inline uint32_t xadd32(uint32_t *p, int32_t d)
{
	return __atomic_add_fetch(p, (uint32_t)d, __ATOMIC_ACQ_REL);
}

/* The edges a G's status may take, one bit per (old, new) pair: bit
 * old * Gnstatus + new. Gdead<->Gsyscall belong to the callback G of an
 * extra M, which sits dead while its thread is in C. */
#define GEDGE_(a, b) (1ULL << ((a) * Gnstatus + (b)))
static const uint64_t gedges =
	GEDGE_(Gidle, Grunnable) |
	GEDGE_(Grunnable, Grunning) |
	GEDGE_(Grunning, Grunnable) | GEDGE_(Grunning, Gwaiting) |
	GEDGE_(Grunning, Gsyscall) | GEDGE_(Grunning, Gdead) |
	GEDGE_(Gsyscall, Grunning) | GEDGE_(Gsyscall, Grunnable) | GEDGE_(Gsyscall, Gdead) |
	GEDGE_(Gwaiting, Grunnable) |
	GEDGE_(Gdead, Grunnable) | GEDGE_(Gdead, Gsyscall);
#undef GEDGE_

/* Every status change goes through here. NOSPLIT: syscall windows use it.
 * Inline, so that the edge test folds away where old and new are constants
 * (all callers but newproc's). Only a G's current owner changes its status,
 * so normal builds check with a load and publish with a store; harness
 * builds use a CAS, which also catches two threads racing to move the same
 * G. */
NOSPLIT static inline void casgstatus(G *gp, uint32_t old, uint32_t new)
{
	if (old >= Gnstatus || new >= Gnstatus || !((gedges >> (old * Gnstatus + new)) & 1))
		badstatus(gp, old, new);
	if (SQ_HARNESS) {
		if (!cas32(&gp->status, old, new))
			badstatus(gp, old, new);
		return;
	}
	if (atomic_load32(&gp->status) != old)
		badstatus(gp, old, new);
	atomic_store32(&gp->status, new);
}

/* gp is an extra M's callback G waiting in its window while its bound
 * thread runs its own C between callbacks (Go's extra M "in C"). It is the
 * thread's, not a goroutine: the counts and the quiescent check leave it
 * out. Any thread; a racy look. */
NOSPLIT static inline bool gparkedinc(G *gp)
{
	M *mp = __atomic_load_n(&gp->lockedm, __ATOMIC_ACQUIRE);

	return atomic_load32(&gp->status) == Gsyscall && mp && mp->isextra &&
	       __atomic_load_n(&mp->inC, __ATOMIC_ACQUIRE);
}

#endif
