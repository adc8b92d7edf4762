/*
 * misuse.c: deliberate breakage of the runtime's internal rules, one rule
 * per name, so tests can show that each of the runtime's own checks fires
 * with its documented message (sq_harness_misuse in sq_harness.h). Nothing
 * here runs unless a test asks for it, and none of it exists outside
 * harness builds.
 */
#include <errno.h>
#include <string.h>

#include "runtime.h"
#include "sq_harness.h"

bool misuse_failnewm;
static Lock misuselock;

static void returns(G *gp)
{
	(void)gp;
}

static void mcall_on_g0(void *arg)
{
	(void)arg;
	mcall(goyield_m);
}

static void acquire_own(void *arg)
{
	(void)arg;
	acquirep(getg()->m->p);
}

static int misuse_gstatus(void)
{
	atomic_store32(&getg()->status, Gwaiting);
	sq_yield();
	return 0;
}

static int misuse_schedlock(void)
{
	lock(&misuselock);
	sq_yield();
	return 0;
}

static int misuse_stackfree(void)
{
	Stack s = { PAGE + 8, 2 * PAGE };

	stackfree(s);
	return 0;
}

static int misuse_syscall_bounds(void)
{
	G *gp = getg();

	gp->stack.hi = gp->stack.lo + PAGE;
	sq_syscall(39 /* any cheap call; never reached */, 0, 0, 0, 0, 0, 0);
	return 0;
}

/* A fault in the middle of the fatal-error dump: this G waits, by its
 * status, for a reason that points nowhere. The dump holds the print lock
 * when it faults; the fault must end the process, not wait for the lock. */
static int misuse_dumpfault(void)
{
	G *gp = getg();

	gp->waitreason = (const char *)8;
	atomic_store32(&gp->status, Gwaiting);
	throwf(F_INVARIANT, "misuse: a fault inside the dump follows");
}

/* From C run by sq_ccall: the G waiting in its window loses throwsplit, as
 * REGRESS=syscallsplit leaves it. Nothing throws for this one:
 * sq_check_self reports it, and exitsyscall clears the flag on the way out
 * anyway. */
static int misuse_window_throwsplit(void)
{
	G *gp = getg();
	M *mp = gp ? gp->m : NULL;

	if (!mp || gp != mp->g0 || !mp->curg || atomic_load32(&mp->curg->status) != Gsyscall)
		return -EINVAL;
	mp->curg->throwsplit = false;
	return 0;
}

int sq_harness_misuse(const char *what)
{
	G *gp = getg();

	if (!SQ_HARNESS)
		return -ENOSYS;
	if (!what)
		return -EINVAL;
	if (strcmp(what, "newm") == 0) {
		misuse_failnewm = true;
		return 0;
	}
	if (strcmp(what, "window-throwsplit") == 0)
		return misuse_window_throwsplit();
	if (!gp || !gp->m || gp != gp->m->curg)
		return -EINVAL;	/* the rest break a running G's rules */
	if (strcmp(what, "gstatus") == 0)
		return misuse_gstatus();
	if (strcmp(what, "mcall-g0") == 0) {
		systemstack(mcall_on_g0, NULL);
		return 0;
	}
	if (strcmp(what, "mcall-return") == 0) {
		mcall(returns);
		return 0;
	}
	if (strcmp(what, "stackfree") == 0)
		return misuse_stackfree();
	if (strcmp(what, "schedlock") == 0)
		return misuse_schedlock();
	if (strcmp(what, "pstate") == 0) {
		systemstack(acquire_own, NULL);
		return 0;
	}
	if (strcmp(what, "syscall-bounds") == 0)
		return misuse_syscall_bounds();
	if (strcmp(what, "dump-fault") == 0)
		return misuse_dumpfault();
	return -EINVAL;
}
