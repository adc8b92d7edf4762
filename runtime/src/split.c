/*
 * split.c: what a failed split check does: morestack and newstack.
 *
 * Every function compiled into the runtime (and into code built with the
 * runtime's flags) starts with a split check: sp against the current g's
 * stackguard. How depends on the arch and libc (runtime/src/split/<mode>/,
 * chosen by mk/split.mk): on x86-64 glibc an inline compare against a guard
 * word in the thread's TCB (clang's -fsplit-stack; __morestack in
 * split/tcb/), elsewhere a call to an entry hook (-finstrument-function-
 * entry-bare; split/hook/). Both end here, in morestack, when the check
 * fails. NOSPLIT functions (no_instrument_function, no_split_stack) have no
 * check.
 *
 * A failed check means one of:
 *   - the guard was poisoned (STACK_PREEMPT): preemption was requested, or
 *     the G is inside a syscall window, or maymorestack mode is on;
 *   - sp really is within STACK_GUARD of the stack's low end: overflow.
 * G stacks never move, so "more stack" is never the answer: newstack either
 * yields, lets the G continue, or throws. On g0 and gsignal a failed check
 * is always fatal; their guards are never poisoned.
 *
 * Cost per checked call: tcb, one compare with a TLS word and a branch;
 * hook, a call, two loads and a compare (docs/runtime.md, docs/bench.md).
 */
#include "runtime.h"

NOSPLIT static void printstack(const char *what, G *gp, uintptr sp)
{
	printlock();
	prints("runtime: ");
	prints(what);
	prints(": sp=");
	printx(sp);
	prints(" stack=[");
	printx(gp->stack.lo);
	prints(",");
	printx(gp->stack.hi);
	prints(") guard=");
	printx(gp->stackguard);
	if (!gp->isg0) {
		prints(" goroutine ");
		printu(gp->goid);
		prints(" status=");
		prints(gstatusname(gp->status));
	}
	printnl();
	printunlock();
}

/* On g0, reached by mcall from morestack. Never returns. */
static void newstack(G *gp)
{
	M *mp = gp->m;
	uintptr sp = mp->moresp;

	FAULT(NEWSTACK_ENTER);
	if (gp->throwsplit) {
		blockasync();
		printstack("newstack in a syscall window", gp, sp);
		throw(F_SPLIT_BAD_TIME);
	}
	if (sp < gp->stack.lo + STACK_GUARD) {
		/* Go's words: "runtime: goroutine stack exceeds N-byte limit",
		 * with the G's id, since sizes differ from G to G. */
		blockasync();
		printlock();
		prints("runtime: goroutine ");
		printu(gp->goid);
		prints(" stack exceeds ");
		printu(gp->stack.hi - gp->stack.lo);
		prints("-byte limit\n");
		printunlock();
		printstack("newstack", gp, sp);
		throw(F_STACK_OVERFLOW);
	}
	if (gp->stackguard == STACK_PREEMPT) {
		/* Not a point where the G may be descheduled: let it run on
		 * with its real guard, the request stays pending. */
		if (mp->locks || gp->status != Grunning || !mp->p ||
		    mp->p->status != Prunning) {
			if (!sq_settings.maymorestack)
				gp->stackguard = gp->stack.lo + STACK_GUARD;
			gogo(gp);
		}
		gopreempt_m(gp);
	}
	gogo(gp);	/* the guard was restored under us: spurious */
}

/* A failed check on gp at sp, on the stack that failed it (below its guard:
 * nosplit from here on). Returns when the function may go on: after a
 * yield, or at once when it was a bound foreign thread's own C. */
NOSPLIT void morestack(G *gp, uintptr sp)
{
	M *mp = gp->m;

	if (gp == mp->g0) {
		/* A bound foreign thread between callbacks keeps g = g0 but runs
		 * its own C, on whatever stack it likes: not ours to check. */
		if (mp->isextra && !mp->incallback)
			return;
		blockasync();
		printstack("morestack on g0", gp, sp);
		throw(F_MORESTACK_G0);
	}
	if (gp == mp->gsignal) {
		blockasync();
		printstack("morestack on gsignal", gp, sp);
		throw(F_MORESTACK_GSIGNAL);
	}
	mp->moresp = sp;
	mcall(newstack);
}

/* Bytes of stack the calling G has left above its guard (0 off a G). */
size_t sq_stack_left(void)
{
	G *gp = getg();
	uintptr sp = arch_getsp(), limit;

	if (!gp || !gp->m || gp != gp->m->curg)
		return 0;
	limit = gp->stack.lo + STACK_GUARD;
	return sp > limit ? sp - limit : 0;
}
