/*
 * syscall.c: syscall windows, the syscall wrappers, sq_ccall, and a
 * callback's run on its G (cgocallbackg).
 *
 * A G that makes a blocking call out of the runtime brackets it with
 * entersyscall / exitsyscall. Between the two the G's stack holds the
 * call's frames and whatever pointers the call was given, and the P is up
 * for grabs: sysmon may hand it to another M. Inside the window:
 *   - the G's stack guard is poisoned and throwsplit is set, so any split
 *     check is the fatal "stack split at bad time";
 *   - therefore entersyscall, exitsyscall and everything they call on the
 *     G's stack are NOSPLIT; their slow paths run on g0 via systemstack;
 *   - sched.sp/pc hold where the G entered (for dumps) and equal syscallsp/
 *     syscallpc; harness builds check that on the way out.
 *
 * entersyscall leaves the P in Psyscall, still linked from m->oldp, so the
 * fast path out is one CAS. entersyscallblock hands the P off at once.
 */
#include <errno.h>

#include "runtime.h"
#include "os.h"

/* The window's way in and out are inlined into this file's callers
 * (sq_ccall, sq_syscall, cgocallbackg), where a call each way is a good
 * part of the cost; the out-of-line copies serve the rest. Inlined,
 * they keep their names in the debug information: sigpoke's and
 * nosplit-check's windows find every copy. */
#define WINDOW_INLINE NOSPLIT __attribute__((always_inline))

NOSPLIT static inline void save(G *gp, uintptr pc, uintptr sp)
{
	gp->sched.pc = pc;
	gp->sched.sp = sp;
}

static void entersyscall_bad(void *arg)
{
	G *gp = arg;

	printlock();
	prints("runtime: entersyscall: sp=");
	printx(gp->syscallsp);
	prints(" outside stack [");
	printx(gp->stack.lo);
	prints(",");
	printx(gp->stack.hi);
	prints(")\n");
	printunlock();
	throw(F_SYSCALL_INCONSISTENT);
}

static void entersyscall_sysmon(void *arg)
{
	(void)arg;
	lock(&sched.lock);
	if (atomic_load32(&sched.sysmonwait)) {
		atomic_store32(&sched.sysmonwait, 0);
		notewakeup(&sched.sysmonnote);
	}
	unlock(&sched.lock);
}

/* A slow path of a window: on g0. Before the fix it simply ran on the G's
 * stack, where any split check it makes lands inside the window. */
NOSPLIT static void slowpath(void (*fn)(void *), void *arg)
{
	if (REGRESS(SYSCALLSPLIT))
		fn(arg);
	else
		systemstack(fn, arg);
}

/* The first half of every way in: no preemption, guard poisoned and
 * throwsplit set, entry point saved, status syscall, sp checked. */
NOSPLIT static void window_open(G *gp, uintptr pc, uintptr sp)
{
	gp->m->locks++;
	/* From here on any split check dies; see the file comment. */
	if (!REGRESS(SYSCALLSPLIT)) {
		setguard_running(gp, STACK_PREEMPT);
		gp->throwsplit = true;
	}
	save(gp, pc, sp);
	gp->syscallsp = sp;
	gp->syscallpc = pc;
	casgstatus(gp, Grunning, Gsyscall);
	if (sp < gp->stack.lo || sp >= gp->stack.hi)
		slowpath(entersyscall_bad, gp);
}

/* The last half: before the fix the guard was only poisoned here. */
NOSPLIT static void window_close(G *gp)
{
	if (REGRESS(SYSCALLSPLIT))
		setguard_running(gp, STACK_PREEMPT);
	FAULT(ENTERSYSCALL_POISONED);
	gp->m->locks--;
}

/* Enter the window with the given caller pc and sp. Also used to re-enter
 * after a callback, with the pc and sp of the original entry. The P stays
 * in Psyscall, linked from m->oldp, for exitsyscall's fast path. */
WINDOW_INLINE void reentersyscall(uintptr pc, uintptr sp)
{
	G *gp = getg();
	M *mp = gp->m;
	P *p;

	window_open(gp, pc, sp);
	if (atomic_load32(&sched.sysmonwait)) {
		slowpath(entersyscall_sysmon, NULL);
		save(gp, pc, sp);
	}
	p = mp->p;
	mp->p = NULL;
	p->m = NULL;
	mp->oldp = p;
	atomic_store32(&p->status, Psyscall);
	window_close(gp);
}

NOSPLIT void entersyscall(void)
{
	reentersyscall((uintptr)__builtin_return_address(0), arch_getsp());
}

static void entersyscallblock_handoff(void *arg)
{
	(void)arg;
	handoffp(releasep());
}

/* Like entersyscall, for calls known to block: the P goes at once. */
NOSPLIT void entersyscallblock(void)
{
	G *gp = getg();
	uintptr pc = (uintptr)__builtin_return_address(0), sp = arch_getsp();

	window_open(gp, pc, sp);
	slowpath(entersyscallblock_handoff, NULL);
	save(gp, pc, sp);
	window_close(gp);
}

/* Harness invariant: a G in a syscall still describes the entry point. */
NOSPLIT void syscall_check(G *gp)
{
	uintptr sp = gp->sched.sp;

	if (sp == gp->syscallsp && sp >= gp->stack.lo && sp < gp->stack.hi)
		return;
	printlock();
	prints("runtime: goroutine ");
	printu(gp->goid);
	prints(" in syscall: sched.sp=");
	printx(sp);
	prints(" syscallsp=");
	printx(gp->syscallsp);
	prints(" stack=[");
	printx(gp->stack.lo);
	prints(",");
	printx(gp->stack.hi);
	prints(")\n");
	printunlock();
	throw(F_SYSCALL_CORRUPTED);
}

typedef struct Pget {
	bool ok;
} Pget;

static void exitsyscallfast_pidle(void *arg)
{
	Pget *r = arg;
	P *p;

	lock(&sched.lock);
	p = pidleget();
	unlock(&sched.lock);
	r->ok = p != NULL;
	if (p)
		acquirep(p);
}

/* Get a P back without blocking: our own if sysmon left it, else an idle one. */
NOSPLIT static bool exitsyscallfast(M *mp)
{
	P *p = mp->oldp;
	Pget r = { false };

	mp->oldp = NULL;
	if (p && atomic_load32(&p->status) == Psyscall &&
	    cas32(&p->status, Psyscall, Prunning)) {
		mp->p = p;
		p->m = mp;
		return true;
	}
	if (atomic_load32(&sched.npidle) == 0)
		return false;
	slowpath(exitsyscallfast_pidle, &r);
	return r.ok;
}

/* Slow path, on g0: no P to be had. Queue the G and stop the M. */
static void exitsyscall0(G *gp)
{
	M *mp = gp->m;
	P *p;

	casgstatus(gp, Gsyscall, Grunnable);
	mp->curg = NULL;
	gp->m = NULL;
	lock(&sched.lock);
	p = pidleget();
	if (!p)
		globrunqput(gp);
	unlock(&sched.lock);
	if (p) {
		acquirep(p);
		execute(gp);
	}
	if (mp->lockedg) {
		/* gp is locked here: wait for whoever dequeues it. */
		stoplockedm();
		execute(gp);
	}
	stopm();
	schedule();
}

WINDOW_INLINE void exitsyscall(void)
{
	G *gp = getg();
	M *mp = gp->m;

	FAULT(EXITSYSCALL_ENTER);
	if (SQ_HARNESS)
		syscall_check(gp);
	mp->locks++;
	if (exitsyscallfast(mp)) {
		mp->p->syscalltick++;
		casgstatus(gp, Gsyscall, Grunning);
		gp->syscallsp = 0;
		mp->locks--;
		setguard_running(gp, gp->preempt ? STACK_PREEMPT : gguard(gp));
		gp->throwsplit = false;
		return;
	}
	mp->locks--;
	FAULT(EXITSYSCALL_SLOW);
	mcall(exitsyscall0);
	/* Resumed by a scheduler with a P; the guard is already restored. */
	gp->syscallsp = 0;
	gp->m->p->syscalltick++;
	gp->throwsplit = false;
}

NOSPLIT static long syscall_on_g(bool block, long nr, long a1, long a2, long a3,
	long a4, long a5, long a6)
{
	G *gp = getg();
	long r;

	if (!gp || !gp->m || gp != gp->m->curg)
		return arch_syscall6(nr, a1, a2, a3, a4, a5, a6);
	if (block)
		entersyscallblock();
	else
		entersyscall();
	FAULT(SYSCALL_WINDOW);
	r = arch_syscall6(nr, a1, a2, a3, a4, a5, a6);
	exitsyscall();
	return r;
}

NOSPLIT long sq_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	return syscall_on_g(false, nr, a1, a2, a3, a4, a5, a6);
}

NOSPLIT long sq_syscall_block(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	return syscall_on_g(true, nr, a1, a2, a3, a4, a5, a6);
}

typedef struct Ccall {
	int (*fn)(void *);
	void *arg;
	int ret;
	Asanctx asan;
} Ccall;

/* On g0: the harness's fault site and ASan's side of the switch around the
 * C call. No local may have its address taken here (asan_switch_back(NULL)). */
static void ccall_g0(void *arg)
{
	Ccall *c = arg;
	M *mp;

	asan_switch_finish_from(NULL, &c->asan);	/* g0 afresh at its sched.sp */
	FAULT(CCALL_C);
	/* C the program runs: a fault in it may be the host's (signal.c). */
	mp = getg()->m;
	mp->incgo = true;
	c->ret = c->fn(c->arg);
	mp->incgo = false;
	asan_switch_back(NULL, &c->asan);
}

/* Run C on g0 inside a syscall window. gp->ccallsp records where the G's
 * stack stopped, so a callback from the C code can run the G below it.
 * With nothing to do around the C call on g0 (no fault sites, no ASan),
 * sq_oncall calls fn itself and hands its result back; m->incgo is set
 * around it here as ccall_g0 sets it around its call (signal.c tells the
 * program's C from the runtime's code by it). */
NOSPLIT int sq_ccall(int (*fn)(void *), void *arg)
{
	G *gp = getg();
	M *mp;
	Ccall c = { .fn = fn, .arg = arg };
	uintptr g0sp;

	if (UNLIKELY(!gp || !gp->m || gp != gp->m->curg))
		throwf(F_BAD_ARG, "sq_ccall: not called from a goroutine");
	reentersyscall((uintptr)__builtin_return_address(0), arch_getsp());
	mp = gp->m;
	mp->ncgo++;
	setg(mp->g0);
	g0sp = mp->g0->sched.sp;
	if (SQ_HARNESS || SQ_ASAN) {
		asan_switch_start(&gp->asanfake, mp->g0->stack.lo, mp->g0->stack.hi);
		sq_oncall(g0sp, ccall_g0, &c, &gp->ccallsp);
		asan_switch_finish(gp->asanfake);
	} else {
		/* ccall_g0's mark, around the call it would have made. */
		mp->incgo = true;
		c.ret = (int)sq_oncall(g0sp, (void (*)(void *))fn, arg, &gp->ccallsp);
		mp->incgo = false;
	}
	setg(gp);
	mp->ncgo--;
	exitsyscall();
	return c.ret;
}

static int callback_run(Cb *cb)
{
	return cb->fn(cb->arg);
}

/* A callback's run on its G (sq_callback, callback.c): on the G's stack,
 * g == cb->gp. Leave the window the G sits in (fresh callback G: enter it
 * first), run fn, go back in. Here rather than in callback.c, so that the
 * window's way out and back in are inlined into it as into sq_ccall. */
NOSPLIT void cgocallbackg(void *arg)
{
	Cb *cb = arg;
	G *gp = cb->gp;
	M *mp = cb->mp;
	bool fresh = gp->status == Gdead;	/* the M's first callback since needm */
	uintptr pc = gp->syscallpc, sp = gp->syscallsp;
	int32_t lockedext = mp->lockedext;

	asan_switch_finish_from(gp->asanfake, &cb->asan);
	if (fresh) {
		/* Into the window, as entersyscall would put it there. */
		sp = arch_getsp();
		pc = (uintptr)cgocallbackg;
		setguard_running(gp, STACK_PREEMPT);
		gp->throwsplit = !REGRESS(SYSCALLSPLIT);
		gp->sched.sp = gp->syscallsp = sp;
		gp->sched.pc = gp->syscallpc = pc;
		casgstatus(gp, Gdead, Gsyscall);
	}
	/* The G must come back to this thread, whatever it does in between:
	 * locked for the callback's duration (the runtime's own count). */
	mp->lockedint++;
	gp->lockedm = mp;
	mp->lockedg = gp;
	exitsyscall();
	cb->ret = callback_run(cb);
	reentersyscall(pc, sp);
	mp = gp->m;
	/* A count the callback left behind ends with it. */
	mp->lockedext = lockedext;
	mp->lockedint--;
	if (mp->lockedint == 0 && mp->lockedext == 0) {
		mp->lockedg = NULL;
		gp->lockedm = NULL;
	}
	/* An extra M's callback G stays in its window while the thread is
	 * back in C: the next callback of a bound thread starts at
	 * exitsyscall, and dropm ends it (Gsyscall -> Gdead). */
	asan_switch_back(&gp->asanfake, &cb->asan);
}
