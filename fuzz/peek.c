/*
 * peek.c: what the fuzz interpreter needs from the runtime's internals.
 *
 * Compiled with the runtime's own flags and headers (runtime.h): it reads
 * the scheduler's state and the current M's, and does one thing sysmon
 * does. Each function here stands in for a harness call the runtime does
 * not have yet; docs/fuzz.md ("Runtime requests") proposes them:
 *   fzp_idle        sq_harness_idle(): every P idle, every M parked
 *   fzp_retake      sq_harness_retake(): sysmon's retake, now
 *   fzp_check_self  sq_check_self(): invariants of the calling thread's M
 */
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "runtime.h"
#include "interp.h"

static bool runqempty(P *p)
{
	return atomic_load32(&p->runqhead) == atomic_load32(&p->runqtail);
}

int fzp_idle(void)
{
	return fzp_quiet(fzp_on_runtime_m());
}

/* Called between top-level steps, from the fuzzer's thread (no g), when no
 * goroutine runs: a P in Psyscall belongs to a foreign thread that went
 * back to C after its callback. With no work anywhere it goes straight to
 * the idle list (sysmon's handoffp would start a spinning M that finds
 * nothing and parks again: the same state, later). */
int fzp_retake(void)
{
	int n = 0;

	for (int32_t i = 0; i < sq_nprocs; i++) {
		P *p = &allp[i];
		bool work;

		if (atomic_load32(&p->status) != Psyscall)
			continue;
		lock(&sched.lock);
		work = !runqempty(p) || sched.runqsize != 0;
		if (!work && cas32(&p->status, Psyscall, Pidle)) {
			xadd32(&p->syscalltick, 1);
			pidleput(p);
			n++;
		}
		unlock(&sched.lock);
		if (work && cas32(&p->status, Psyscall, Pidle)) {
			xadd32(&p->syscalltick, 1);
			handoffp(p);
			n++;
		}
	}
	return n;
}

/* Every P idle, nothing runnable, no M spinning, and every runtime M
 * parked but `busy` of them (the caller's own when it is a runtime M, Ms
 * blocked in settle waits); and the scheduler's lock free: an M counts as
 * idle once stopm has queued it, but it is only still (no more runtime
 * code running, no more coverage counted) once it has dropped the lock and
 * gone to sleep. */
int fzp_quiet(int busy)
{
	if (atomic_load32(&sched.npidle) != (uint32_t)sq_nprocs ||
	    atomic_load32(&sched.nmspinning) != 0 ||
	    __atomic_load_n(&sched.runqsize, __ATOMIC_ACQUIRE) != 0)
		return 0;
	for (int32_t i = 0; i < sq_nprocs; i++)
		if (!runqempty(&allp[i]))
			return 0;
	return __atomic_load_n(&sched.nmidle, __ATOMIC_ACQUIRE) + busy ==
	       __atomic_load_n(&sched.mcount, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&sched.lock.key, __ATOMIC_ACQUIRE) == 0;
}

int fzp_on_runtime_m(void)
{
	G *gp = getg();

	return gp && gp->m && !gp->m->isextra;
}

/* While `go` steps run, the interpreter ticks like Go's sysmon does: a P
 * left in Psyscall with work queued since the previous tick is retaken.
 * (The runtime's sysmon backs off to 10 ms ticks after 50 quiet ones and
 * never resets on a successful retake, unlike Go's; see docs/fuzz.md.) */
int fzp_tick(void)
{
	static uint32_t seen[64];
	int n = 0;

	for (int32_t i = 0; i < sq_nprocs && i < 64; i++) {
		P *p = &allp[i];
		uint32_t t = atomic_load32(&p->syscalltick);

		if (atomic_load32(&p->status) != Psyscall || (runqempty(p) && sched.runqsize == 0)) {
			seen[i] = t - 1;
			continue;
		}
		if (seen[i] != t) {
			seen[i] = t;
			continue;
		}
		if (cas32(&p->status, Psyscall, Pidle)) {
			xadd32(&p->syscalltick, 1);
			handoffp(p);
			n++;
		}
	}
	return n;
}

/* Start every execution from the same scheduler counters: every 64th
 * schedule looks at the global queue first (schedtick % FAIRNESS), so a
 * counter carried over from the previous execution would change the paths
 * of this one. Only at a quiet point (every P idle). */
void fzp_reset(void)
{
	for (int32_t i = 0; i < sq_nprocs; i++)
		atomic_store32(&allp[i].schedtick, 0);
}

/* Keep sysmon out of the way of a deterministic step. sysmon sleeps
 * (sysmonwait, up to a second) once it sees every P idle; whoever acquires
 * a P or enters a syscall then wakes it, and from there its ticks race with
 * the program: whether a callback finds it asleep, whether it retakes a P
 * in Psyscall, changes the paths taken. At a quiet point the interpreter
 * lets sysmon fall asleep and clears sysmonwait, so nothing wakes it: it
 * sleeps out its second, and the interpreter does its work (fzp_retake,
 * fzp_tick, the `retake` operation) at points the program decides. Its
 * sleep ends after a second: before that, at a quiet point, the
 * interpreter wakes it itself and lets it fall asleep again, so that it
 * never wakes in the middle of an execution. */
void fzp_sysmon_hold(void)
{
	static int64_t held;
	int64_t now = nanotime(), until = now + 50 * 1000 * 1000;

	if (held && now - held < 700 * 1000 * 1000)
		return;
	if (held && now - held < 950 * 1000 * 1000)
		notewakeup(&sched.sysmonnote);	/* it clears the note, ticks, sleeps */
	while (!atomic_load32(&sched.sysmonwait)) {
		if (nanotime() > until)
			return;		/* busy elsewhere: try at the next quiet point */
		sched_yield();
	}
	lock(&sched.lock);
	if (atomic_load32(&sched.sysmonwait)) {
		atomic_store32(&sched.sysmonwait, 0);
		held = nanotime();
	}
	unlock(&sched.lock);
}

/* The `retake` operation: C run by an outcall (on g0, inside the window)
 * has sysmon take its P away now, as it would after two ticks. */
void fzp_retake_mine(void)
{
	G *gp = getg();
	M *mp = gp ? gp->m : NULL;
	P *p = mp ? mp->oldp : NULL;
	bool work;

	if (!p || atomic_load32(&p->status) != Psyscall)
		return;
	lock(&sched.lock);
	work = !runqempty(p) || sched.runqsize != 0;
	if (!work && cas32(&p->status, Psyscall, Pidle)) {
		xadd32(&p->syscalltick, 1);
		pidleput(p);
		p = NULL;
	}
	unlock(&sched.lock);
	if (p && cas32(&p->status, Psyscall, Pidle)) {
		xadd32(&p->syscalltick, 1);
		handoffp(p);
	}
}

typedef struct Why {
	char *buf;
	int len;
	int n;
} Why;

static void bad(Why *w, const char *fmt, unsigned long a, unsigned long b)
{
	if (w->n++ == 0 && w->buf)
		snprintf(w->buf, (size_t)w->len, fmt, a, b);
}

/* The window invariants of runtime.h for a G in Gsyscall: throwsplit set,
 * guard poisoned, saved sp = syscallsp and inside its stack. One moment
 * breaks the entry sp legitimately: a split check failed in the window,
 * morestack saved the G's context at the split (a few frames below moresp)
 * and newstack, on g0, is about to throw "stack split at bad time" for it
 * (only sq_refuse's programs get there; a check signal at newstack.enter
 * sees it from gsignal). */
static int refusing_split(G *cg, G *gp, M *mp)
{
	return cg->throwsplit && gp != cg && mp->moresp &&
	       cg->sched.sp < mp->moresp && mp->moresp - cg->sched.sp < 512;
}

static void check_window(Why *w, G *cg, G *gp, M *mp)
{
	if (cg->sched.sp != cg->syscallsp && !refusing_split(cg, gp, mp))
		bad(w, "goroutine in a syscall window lost its entry sp: sched.sp=%#lx syscallsp=%#lx",
			cg->sched.sp, cg->syscallsp);
	if (!cg->throwsplit)
		bad(w, "goroutine %lu in a syscall window without throwsplit%.0lu", cg->goid, 0);
	if (cg->stackguard != STACK_PREEMPT)
		bad(w, "goroutine %lu in a syscall window with an unpoisoned guard %#lx",
			cg->goid, cg->stackguard);
	if (cg->syscallsp < cg->stack.lo || cg->syscallsp >= cg->stack.hi)
		bad(w, "goroutine in a syscall window entered at sp=%#lx outside its stack (lo %#lx)",
			cg->syscallsp, cg->stack.lo);
}

/* Code of the program running on its G. */
static void check_running(Why *w, G *gp, M *mp)
{
	uintptr sp = arch_getsp();

	if (gp != mp->curg)
		bad(w, "running goroutine %lu is not its M's curg (%#lx)", gp->goid,
			(uintptr)mp->curg);
	if (atomic_load32(&gp->status) != Grunning)
		bad(w, "running goroutine %lu has status %lu", gp->goid, gp->status);
	if (gp->throwsplit)
		bad(w, "goroutine %lu has throwsplit set outside a syscall window%.0lu", gp->goid, 0);
	if (gp->stackguard != STACK_PREEMPT && gp->stackguard != gp->stack.lo + STACK_GUARD)
		bad(w, "goroutine %lu has a guard %#lx that is neither its own nor poisoned",
			gp->goid, gp->stackguard);
	if (sp < gp->stack.lo + STACK_GUARD || sp >= gp->stack.hi)
		bad(w, "goroutine runs at sp=%#lx outside its stack (lo %#lx)", sp, gp->stack.lo);
	if (mp->locks != 0)
		bad(w, "goroutine %lu runs program code with m->locks=%ld", gp->goid,
			(unsigned long)mp->locks);
	if (!mp->p || mp->p->m != mp || atomic_load32(&mp->p->status) != Prunning)
		bad(w, "goroutine %lu runs on an M without a running P (%#lx)", gp->goid,
			(uintptr)mp->p);
}

int fzp_check_self(int from_g, char *why, int len)
{
	G *gp = getg();
	Why w = { why, len, 0 };
	M *mp;
	G *cg;

	if (!gp || !(mp = gp->m))
		return 0;
	cg = mp->curg;
	if (from_g) {
		check_running(&w, gp, mp);
	} else if (gp == mp->g0) {
		uintptr sp = arch_getsp();

		if (sp <= gp->stack.lo || sp > gp->stack.hi)
			bad(&w, "C on g0 at sp=%#lx outside g0's bounds (lo %#lx)", sp, gp->stack.lo);
	}
	if (cg && cg != gp && atomic_load32(&cg->status) == Gsyscall)
		check_window(&w, cg, gp, mp);
	return w.n;
}

int fzp_attached(void)
{
	return getg() != NULL;
}

NOSPLIT void fzp_restore_abort(void)
{
	sig_restore_abort();
}

void fzp_dump(void)
{
	printlock();
	dumpall();
	printunlock();
}
