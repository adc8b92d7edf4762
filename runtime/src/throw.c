/*
 * throw.c: fatal errors. One throw(f) for the whole runtime: it prints
 * "fatal error: <message>" and a dump of every M and G to stderr, then ends
 * the process with exit status 2 — or, in fuzz builds (SQ_CRASH=abort), by
 * SIGABRT, handled as the program had it before the runtime started (a
 * fuzzer's crash handler) or by the default action, so fuzzers see a crash.
 *
 * The messages are a stable interface, kept in the contract's table
 * (SQ_FATALS, sq_contract.h): the harness classifies outcomes by them, and
 * docs/fatal-errors.md is generated from it.
 *
 * Everything here is NOSPLIT: throw runs on Gs that have just overflowed
 * their guard, on gsignal, and inside syscall windows.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "runtime.h"
#include "os.h"
#include "sq_harness.h"

#define MESSAGE_(id, msg, ...) [F_##id] = msg,
static const char *const fatals[F_NFATAL] = { SQ_FATALS(MESSAGE_) };
#undef MESSAGE_

static uint32_t throwing;

NOSPLIT const char *fatalmsg(Fatal f)
{
	return (unsigned)f < F_NFATAL ? fatals[f] : "unknown fatal error";
}

/* Dumps read other threads' live state: every shared pointer is loaded
 * once, so a check and its use see the same value. */
#define SNAP(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

NOSPLIT static void dumpm(M *mp)
{
	P *p = SNAP(mp->p);
	G *curg = SNAP(mp->curg);

	prints("M");
	printi(mp->id);
	prints(" tid=");
	printi(mp->procid);
	prints(" p=");
	printi(p ? p->id : -1);
	prints(" curg=");
	printu(curg ? curg->goid : 0);
	prints(" locks=");
	printi(mp->locks);
	prints(" ncgo=");
	printi(mp->ncgo);
	if (mp->isextra)
		prints(mp->extrastate == EXTRA_ATTACHED ? " extra(attached)" : " extra");
	if (mp->lockedext)
		prints(" locked");
	if (mp->exiting)
		prints(" exited");
	if (mp->spinning)
		prints(" spinning");
	prints(" g0=[");
	printx(mp->g0->stack.lo);
	prints(",");
	printx(mp->g0->stack.hi);
	prints(")");
	if (mp->gsignal) {
		prints(" gsignal=[");
		printx(mp->gsignal->stack.lo);
		prints(",");
		printx(mp->gsignal->stack.hi);
		prints(")");
	}
	printnl();
}

NOSPLIT static void dumpg(G *gp)
{
	uint32_t status = SNAP(gp->status);
	const char *reason = SNAP(gp->waitreason);	/* goexit0 clears it */
	M *mp;

	prints("goroutine ");
	printu(gp->goid);
	prints(" [");
	prints(gstatusname(status));
	if (status == Gwaiting && reason) {
		prints(", ");
		prints(reason);
	}
	if (gparkedinc(gp))
		prints(", in C between callbacks");
	prints("] stack=[");
	printx(gp->stack.lo);
	prints(",");
	printx(gp->stack.hi);
	prints(") sched.sp=");
	printx(gp->sched.sp);
	prints(" sched.pc=");
	printx(gp->sched.pc);
	if (status == Gsyscall) {
		prints(" syscallsp=");
		printx(gp->syscallsp);
		prints(" syscallpc=");
		printx(gp->syscallpc);
	}
	if ((mp = SNAP(gp->m)) != NULL) {
		prints(" m=");
		printi(mp->id);
	}
	if (gp->throwsplit)
		prints(" throwsplit");
	if (gp->lockedm)
		prints(" locked");
	if (gp->asyncpc) {
		prints(" asyncpreempt pc=");
		printx(gp->asyncpc);
	}
	printnl();
}

/* Best effort: lists are walked without locks, since a lock holder may be
 * the one that is throwing. */
NOSPLIT void dumpall(void)
{
	G *gp = getg();
	M *mp;

	prints("\n");
	if (gp) {
		prints("current: M");
		printi(gp->m ? gp->m->id : -1);
		prints(gp->m && gp == gp->m->g0 ? " on g0" :
		       gp->m && gp == gp->m->gsignal ? " on gsignal" : " on goroutine ");
		if (gp->m && gp != gp->m->g0 && gp != gp->m->gsignal)
			printu(gp->goid);
		prints(" sp=");
		printx(arch_getsp());
		printnl();
	} else {
		prints("current: no g (foreign thread)\n");
	}
	for (mp = __atomic_load_n(&allm, __ATOMIC_ACQUIRE); mp; mp = mp->alllink)
		dumpm(mp);
	for (gp = __atomic_load_n(&allg, __ATOMIC_ACQUIRE); gp; gp = gp->alllink)
		if (gp->status != Gdead)
			dumpg(gp);
}

/* The dump alone, for a harness reporting a hang. */
int sq_harness_dump(void)
{
	if (!SQ_HARNESS)
		return -ENOSYS;
	printlock();
	dumpall();
	printunlock();
	return 0;
}

NOSPLIT NORETURN static void die(void)
{
	sigset_t set;

	if (sq_settings.crash_abort) {
		/* Fuzzers watch for a fatal signal: SIGABRT goes to the handler
		 * the program had before the runtime (libFuzzer saves the input
		 * from its own), else to the default action. */
		sig_restore_abort();
		sigemptyset(&set);
		sigaddset(&set, SIGABRT);
		os_sigprocmask(SIG_UNBLOCK, &set, NULL);
		os_tgkill(os_gettid(), SIGABRT);
	}
	os_exit(2);
}

/* Nothing asynchronous nests from here on: a handler run inside a fatal
 * path (sysmon's preemption request, a profiling tick) would use up what is
 * left of a stack that has just overflowed, or throw again while this
 * thread is half-way between throwf's two counts. A fault in the dump
 * itself is still delivered (crash ends it). Called first by throwf, and by
 * any fatal path that prints before it throws. */
NOSPLIT void blockasync(void)
{
	sigset_t all;

	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGFPE);
	os_sigprocmask(SIG_SETMASK, &all, NULL);
}

NOSPLIT NORETURN void throwf(Fatal f, const char *detail)
{
	G *gp = getg();

	blockasync();
	if (__atomic_fetch_add(&throwing, 1, __ATOMIC_ACQ_REL) > 0) {
		/* Another thread is already throwing: let it finish the dump. */
		if (gp && gp->m && gp->m->throwing)
			die();
		for (;;)
			os_futexsleep(&throwing, atomic_load32(&throwing), -1);
	}
	if (gp && gp->m) {
		gp->m->throwing = true;
		gp->m->locks++;
	}
	printlock();
	if (detail) {
		prints("runtime: ");
		prints(detail);
		printnl();
	}
	printline("fatal error: ", fatalmsg(f));
	dumpall();
	printunlock();
	die();
}

NOSPLIT NORETURN void throw(Fatal f)
{
	throwf(f, NULL);
}
