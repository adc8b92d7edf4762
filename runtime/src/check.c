/*
 * check.c: the runtime's invariants, checked on demand (sq_check) by tests,
 * harness scenarios and the fuzz interpreter after every step.
 *
 * Each violation prints one "invariant: ..." line; the caller decides
 * whether that is fatal (sq_check_or_throw). Checks that need a quiescent
 * runtime (no other G running, no callback in flight) count leaks:
 *   - every G but the caller is dead;
 *   - every stack handed out belongs to a G, a runtime M's g0 or an M's
 *     gsignal (dead Gs keep their stacks for reuse);
 *   - every extra M is on the extra-M list or bound to a live thread;
 *   - a G that names an M it is locked to (a dead G too: a callback G stays
 *     locked to its extra M) is the G that M names: a G that ended locked
 *     left no lock behind on the free list.
 * The others hold at any time, whatever other threads are doing:
 *   - a G in a syscall still describes where it entered;
 *   - a thread attached to the runtime runs inside its g0's bounds;
 *   - the extra-M list is as long as its count says, holds only FREE Ms,
 *     and every FREE M is on it; the attached count is the number of
 *     ATTACHED Ms (one picture, taken under extralock: an M between
 *     states is NEW or DETACHING, never "neither");
 *   - a G locked to an M and the M agree (lockedm / lockedg).
 *
 * sq_check_self looks at the calling thread's own M only, so it is safe
 * while other Ms run and from a signal handler: runtime.h's invariants of
 * a running G and of a G in a syscall window, and C on g0 inside g0's
 * bounds. The fuzz interpreter runs it after every operation.
 */
#define _GNU_SOURCE
#include <stdio.h>

#include "runtime.h"
#include "sq_harness.h"

static int violation(const char *what, int64_t a, int64_t b)
{
	fprintf(stderr, "invariant: %s (%lld vs %lld)\n", what, (long long)a, (long long)b);
	return 1;
}

/* Fields other threads write: read in program order. */
#define LOOK(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)

static bool lostsp(G *gp, uintptr sp, uintptr ssp)
{
	return sp != ssp || ssp < gp->stack.lo || ssp >= gp->stack.hi;
}

static int check_gs(bool quiescent, G *self)
{
	int bad = 0;
	G *gp;

	for (gp = __atomic_load_n(&allg, __ATOMIC_ACQUIRE); gp; gp = gp->alllink) {
		uint32_t s = atomic_load32(&gp->status);
		uintptr sp, ssp;

		/* From another thread the G may be leaving its window as we
		 * look (exitsyscall clears syscallsp just after the status) or
		 * coming back into another: what we read was then never one
		 * state. A lost entry sp stays lost; so it counts only when a
		 * second look, status first, reads the same. */
		if (s == Gsyscall && gp->m && gp->m->incallback == false &&
		    lostsp(gp, sp = LOOK(gp->sched.sp), ssp = LOOK(gp->syscallsp)) &&
		    atomic_load32(&gp->status) == Gsyscall &&
		    LOOK(gp->sched.sp) == sp && LOOK(gp->syscallsp) == ssp)
			bad += violation("goroutine in syscall lost its entry sp", (int64_t)sp, (int64_t)ssp);
		if (quiescent && gp != self && s != Gdead && !gparkedinc(gp))
			bad += violation("goroutine still alive", (int64_t)gp->goid, s);
		/* The other half of check_ms's agreement: a G that names an M
		 * (a dead one too: a callback G stays locked to its extra M) is
		 * the G that M names. */
		if (quiescent && gp->lockedm && __atomic_load_n(&gp->lockedm->lockedg, __ATOMIC_ACQUIRE) != gp)
			bad += violation("locked G and M disagree", (int64_t)gp->goid, gp->lockedm->id);
	}
	return bad;
}

static int check_extram(bool quiescent)
{
	Extracensus c;
	int bad = 0;

	extram_census(&c);
	if (c.listlen != c.count)
		bad += violation("extra-M list length vs its count", c.listlen, c.count);
	if (c.listbad)
		bad += violation("extra Ms on the list but not free", c.listbad, 0);
	if (c.nstate[EXTRA_FREE] != c.listlen)
		bad += violation("free extra Ms vs the list", c.nstate[EXTRA_FREE], c.listlen);
	if (c.nstate[EXTRA_ATTACHED] != c.attached)
		bad += violation("attached extra Ms vs the attached count", c.nstate[EXTRA_ATTACHED],
			c.attached);
	if (c.freebusy)
		bad += violation("free extra Ms with call-outs or locks still counted", c.freebusy, 0);
	if (c.freelive)
		bad += violation("free extra Ms whose callback G is not dead", c.freelive, 0);
	if (c.orphans)
		bad += violation("extra Ms attached to threads that exited (first: tid)", c.orphans,
			c.orphan_tid);
	if (quiescent && c.nstate[EXTRA_NEW] + c.nstate[EXTRA_DETACHING])
		bad += violation("extra Ms half attached or detached", c.nstate[EXTRA_NEW],
			c.nstate[EXTRA_DETACHING]);
	return bad;
}

static int check_ms(bool quiescent)
{
	int bad = 0;
	M *mp;
	G *lg;

	for (mp = __atomic_load_n(&allm, __ATOMIC_ACQUIRE); mp; mp = mp->alllink) {
		/* Only the M's own thread changes its lock, and only while it
		 * runs the G: a quiescent caller sees them settled. */
		lg = __atomic_load_n(&mp->lockedg, __ATOMIC_ACQUIRE);
		if (quiescent && lg && lg->lockedm != mp)
			bad += violation("locked M and G disagree", mp->id, (int64_t)lg->goid);
	}
	return bad + check_extram(quiescent);
}

/* The stacks handed out that someone owns: every G's (dead ones keep
 * theirs), each M's gsignal, and the g0 of each runtime M but M0 (the
 * thread's own). stackownlock held. */
static int64_t count_owners(void)
{
	int64_t n = 0;
	G *gp;
	M *mp;

	for (gp = __atomic_load_n(&allg, __ATOMIC_ACQUIRE); gp; gp = gp->alllink)
		n++;
	for (mp = __atomic_load_n(&allm, __ATOMIC_ACQUIRE); mp; mp = mp->alllink)
		n += (mp->gsignal != NULL) + (!mp->isextra && mp != &m0);
	return n;
}

int sq_check(int quiescent)
{
	G *self = getg();
	int bad = 0;
	int64_t inuse, owners;
	uintptr sp = arch_getsp();

	if (self && self->m && self->m->curg)
		self = self->m->curg;
	bad += check_gs(quiescent, self);
	bad += check_ms(quiescent);
	if (quiescent) {
		/* Both sides in one picture: a quiescent caller knows every G
		 * is dead, not that no M is being made (stack.c). */
		lock(&stackownlock);
		inuse = stack_inuse();
		owners = count_owners();
		unlock(&stackownlock);
		if (inuse != owners)
			bad += violation("stacks in use vs owners", inuse, owners);
	}
	if (getg() && getg() == getg()->m->g0 && (sp <= getg()->stack.lo || sp > getg()->stack.hi))
		bad += violation("g0 bounds do not contain sp", (int64_t)sp, (int64_t)getg()->stack.lo);
	return bad;
}

/* ---- the calling M's own invariants ---------------------------------------- */

typedef struct Why {
	char *buf;
	int len;
	int n;
} Why;

/* Count a violation; describe the first. */
static void bad(Why *w, const char *fmt, unsigned long a, unsigned long b)
{
	if (w->n++ == 0 && w->buf && w->len > 0)
		snprintf(w->buf, (size_t)w->len, fmt, a, b);
}

/* One moment breaks a window's entry sp legitimately: a split check failed
 * in the window, morestack saved the G's context at the split (a few
 * frames below moresp), and newstack, on g0, is about to throw "stack
 * split at bad time" for it (a check signal at newstack.enter sees that
 * from gsignal). */
static bool refusing_split(G *cg, G *gp, M *mp)
{
	return cg->throwsplit && gp != cg && mp->moresp &&
	       cg->sched.sp < mp->moresp && mp->moresp - cg->sched.sp < 512;
}

/* runtime.h's window invariants of cg, a G in Gsyscall: throwsplit set,
 * guard poisoned, saved sp = syscallsp and inside its stack. */
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

/* gp runs code of its own: it is its M's curg, running, with a P, no
 * runtime locks, its own or a poisoned guard, and no throwsplit. */
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

int sq_check_self(int from_g, char *why, int len)
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

void sq_check_or_throw(int quiescent)
{
	if (sq_check(quiescent))
		throw(F_INVARIANT);
}

const char *sq_variant(void)
{
#define NAME_(id, name, ...) name,
	static const char *const names[SQ_V_N + 1] = { SQ_VARIANTS(NAME_) "fixed" };
#undef NAME_
	return names[SQ_REGRESS];
}

static int addstack(sq_stackinfo *out, int max, int n, Stack s, const char *kind)
{
	if (n < max) {
		out[n].lo = s.lo;
		out[n].hi = s.hi;
		out[n].kind = kind;
	}
	return n + 1;
}

int sq_stacks(sq_stackinfo *out, int max)
{
	int n = 0;
	G *gp;
	M *mp;

	for (gp = __atomic_load_n(&allg, __ATOMIC_ACQUIRE); gp; gp = gp->alllink)
		n = addstack(out, max, n, gp->stack, "g");
	for (mp = __atomic_load_n(&allm, __ATOMIC_ACQUIRE); mp; mp = mp->alllink) {
		if (!mp->isextra && mp != &m0)
			n = addstack(out, max, n, mp->g0->stack, "g0");
		if (mp->gsignal)
			n = addstack(out, max, n, mp->sigstack, "gsignal");
	}
	return n;
}
