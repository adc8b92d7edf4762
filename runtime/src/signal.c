/*
 * signal.c: the runtime's signal handling.
 *
 * One handler, installed SA_ONSTACK|SA_SIGINFO with every signal blocked
 * while it runs, for the signals the runtime uses (SIGURG preemption,
 * SIGPROF sampling, the crash signals) and for SIGUSR1/SIGUSR2, which it
 * forwards to whatever handler the program installed before the runtime
 * started. Each M has a signal stack, gsignal, from the stack allocator (so
 * MAP_STACK), installed with sigaltstack by minit and removed by unminit.
 *
 * The handler trusts nothing until it has checked it:
 *   1. g (TLS) NULL: not a runtime thread, or one mid attach/detach with g
 *      cleared. Forward to the handler installed before the runtime.
 *   2. sp outside g->m->gsignal: the kernel did not switch to our signal
 *      stack. Either the thread has none (a thread whose g is set but whose
 *      sigaltstack is not: exactly the attach/detach window signals must be
 *      blocked across) or somebody replaced it. Both are fatal and say so.
 *   3. otherwise switch g to gsignal for the duration, so split checks run
 *      against the signal stack's guard, and dispatch.
 * Preemption by signal only poisons the interrupted G's guard: the yield
 * happens at the G's next split check, where newstack knows whether the G
 * may be descheduled (never inside the runtime's locks or a syscall window,
 * never in the middle of libc, which has no split checks).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <ucontext.h>

#include "runtime.h"
#include "os.h"
#include "sq_harness.h"

enum { SIGSTACK_SIZE = 64 << 10, NSIG_MAX = 65 };

static const int handled[] = {
	SIGURG, SIGPROF, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGUSR1, SIGUSR2,
};

static struct sigaction prevsa[NSIG_MAX];
static uint64_t nbadsignal;
bool sq_signals_ready;

NOSPLIT static const char *signame(int sig)
{
	switch (sig) {
	case SIGURG:  return "SIGURG";
	case SIGPROF: return "SIGPROF";
	case SIGSEGV: return "SIGSEGV";
	case SIGBUS:  return "SIGBUS";
	case SIGILL:  return "SIGILL";
	case SIGFPE:  return "SIGFPE";
	case SIGABRT: return "SIGABRT";
	case SIGUSR1: return "SIGUSR1";
	case SIGUSR2: return "SIGUSR2";
	}
	return "signal";
}

NOSPLIT static bool iscrash(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
	       sig == SIGFPE || sig == SIGABRT;
}

/* Let the default action happen: for a crash signal raised by a fault the
 * faulting instruction re-executes once we return. */
NOSPLIT static void dieFromSignal(int sig)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	arch_syscall6(SYS_rt_sigaction, sig, (long)&sa, 0, 8, 0, 0);
	sigemptyset(&set);
	sigaddset(&set, sig);
	os_sigprocmask(SIG_UNBLOCK, &set, NULL);
	os_tgkill(os_gettid(), sig);
}

/* Hand the signal to the handler the program had before the runtime. */
NOSPLIT static void forward(int sig, siginfo_t *info, void *uc)
{
	struct sigaction *sa = &prevsa[sig];

	if (sa->sa_flags & SA_SIGINFO) {
		if (sa->sa_sigaction)
			sa->sa_sigaction(sig, info, uc);
		return;
	}
	if (sa->sa_handler == SIG_IGN)
		return;
	if (sa->sa_handler == SIG_DFL) {
		if (sig == SIGURG || sig == SIGPROF)
			return;		/* ours; default would be ignore or kill */
		dieFromSignal(sig);
		return;
	}
	sa->sa_handler(sig);
}

/* No g: a foreign thread, or one between attach and detach. */
NOSPLIT static void badsignal(int sig, siginfo_t *info, void *uc)
{
	__atomic_add_fetch(&nbadsignal, 1, __ATOMIC_RELAXED);
	forward(sig, info, uc);
}

NOSPLIT static void printsigstate(int sig, G *gp, uintptr sp, const stack_t *st)
{
	G *gs = gp->m->gsignal;

	printlock();
	prints("runtime: signal ");
	prints(signame(sig));
	prints(" on M");
	printi(gp->m->id);
	prints(" tid=");
	printi(os_gettid());
	prints(" sp=");
	printx(sp);
	prints(" gsignal=[");
	printx(gs->stack.lo);
	prints(",");
	printx(gs->stack.hi);
	prints(") sigaltstack=");
	if (st->ss_flags & SS_DISABLE) {
		prints("disabled");
	} else {
		prints("[");
		printx((uintptr)st->ss_sp);
		prints(",");
		printx((uintptr)st->ss_sp + st->ss_size);
		prints(")");
	}
	printnl();
	printunlock();
}

/* The handler is not on the M's signal stack. Never returns. */
NOSPLIT NORETURN static void badsigstack(int sig, G *gp, uintptr sp)
{
	stack_t st;

	arch_syscall6(SYS_sigaltstack, 0, (long)&st, 0, 0, 0, 0);
	printsigstate(sig, gp, sp, &st);
	if (st.ss_flags & SS_DISABLE)
		throw(F_NO_SIGSTACK);
	throw(F_NOT_ON_SIGSTACK);
}

/* A fault in the guard page below a G's stack is that G's overflow. */
NOSPLIT static bool inguard(G *gp, uintptr addr)
{
	return gp && !gp->isg0 && addr >= gp->stack.lo - PAGE && addr < gp->stack.lo;
}

NOSPLIT NORETURN static void crash(int sig, siginfo_t *info, void *uc, G *gp)
{
	uintptr addr = (uintptr)info->si_addr;

	/* A fault inside this M's own fatal-error dump: the dump holds the
	 * print lock, so say nothing more and end as that throw would. */
	if (gp->m && gp->m->throwing)
		throw(F_UNEXPECTED_SIGNAL);

	if (sig == SIGSEGV && inguard(gp, addr)) {
		printlock();
		prints("runtime: goroutine ");
		printu(gp->goid);
		prints(" ran into its guard page at ");
		printx(addr);
		printnl();
		printunlock();
		throw(F_STACK_OVERFLOW);
	}
	printlock();
	prints("runtime: signal ");
	prints(signame(sig));
	prints(" code=");
	printi(info->si_code);
	prints(" addr=");
	printx(addr);
	prints(" pc=");
	printx(ARCH_UC_PC(uc));
	prints(" sp=");
	printx(ARCH_UC_SP(uc));
	printnl();
	printunlock();
	throw(F_UNEXPECTED_SIGNAL);
}

/* Preemption request: poison the running G's guard. A G in a syscall
 * window already has a poisoned guard and must keep throwsplit's meaning. */
NOSPLIT static void sigpreempt(G *gp)
{
	M *mp = gp->m;
	G *cg = mp->curg;

	if (!cg || gp != cg || cg->status != Grunning || cg->throwsplit)
		return;
	cg->preempt = true;
	cg->stackguard = STACK_PREEMPT;
}

static void sigdispatch(int sig, siginfo_t *info, void *uc, G *gp)
{
	FAULT(SIGHANDLER_DISPATCH);
	if (sig == SIGURG) {
		sigpreempt(gp);
		return;
	}
	if (sig == SIGPROF) {
		gp->m->nprof++;
		return;
	}
	if (iscrash(sig) && (info->si_code > 0 || sig == SIGABRT))
		crash(sig, info, uc, gp);
	forward(sig, info, uc);
}

NOSPLIT static void sighandler(int sig, siginfo_t *info, void *uc)
{
	G *gp = getg();
	G *gs;
	uintptr sp;
	int saved = errno;

	if (gp == NULL) {
		badsignal(sig, info, uc);
		errno = saved;
		return;
	}
	sp = arch_getsp();
	gs = gp->m->gsignal;
	if (!gs || sp < gs->stack.lo || sp >= gs->stack.hi)
		badsigstack(sig, gp, sp);
	setg(gs);
	sigdispatch(sig, info, uc, gp);
	setg(gp);
	errno = saved;
}

void signal_init(void)
{
	struct sigaction sa;
	size_t i;
	int sig;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = sighandler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (i = 0; i < sizeof handled / sizeof handled[0]; i++) {
		sig = handled[i];
		os_sigaction(sig, NULL, &prevsa[sig]);
		/* A program that ignores a forwarded signal keeps ignoring it. */
		if (!iscrash(sig) && sig != SIGURG && sig != SIGPROF &&
		    prevsa[sig].sa_handler == SIG_IGN && !(prevsa[sig].sa_flags & SA_SIGINFO))
			continue;
		os_sigaction(sig, &sa, NULL);
	}
	sq_signals_ready = true;
}

/* For throw's SQ_CRASH=abort: give SIGABRT back to the handler the program
 * had before the runtime (a fuzzer's, which saves the input), or to the
 * default action if it had none or ignored it. Before signal_init the
 * program's handler is still in place. */
NOSPLIT void sig_restore_abort(void)
{
	static const struct sigaction dfl;	/* zero: SIG_DFL */
	const struct sigaction *sa = &prevsa[SIGABRT];

	if (!sq_signals_ready)
		return;
	if (!(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == SIG_IGN)
		sa = &dfl;
	sigaction(SIGABRT, sa, NULL);	/* libc's: no split check on the way out */
}

/* The same for a harness's own findings (a fuzzer's crash path): they die
 * by SIGABRT the way a fatal error does. NOSPLIT: any thread, any stack. */
NOSPLIT int sq_harness_restore_sigabrt(void)
{
	if (!SQ_HARNESS)
		return -ENOSYS;
	sig_restore_abort();
	return 0;
}

/* Runs on the creating thread, for every M: give it a signal stack. */
void mpreinit(M *mp)
{
	G *gs = calloc(1, sizeof *gs);

	if (!gs)
		throwf(F_NEWM, "mpreinit: out of memory");
	gs->isg0 = true;
	gs->status = Gdead;
	gs->m = mp;
	gs->stack = stackalloc(SIGSTACK_SIZE);
	gs->stackguard = gs->stack.lo + STACK_GUARD;
	mp->gsignal = gs;
}

/* On the M's own thread, g set, every signal blocked: install its signal
 * stack. Ms the runtime started also unblock signals (they start with all
 * blocked, see os_newthread); M0 and extra Ms leave the mask to their
 * caller, which restores the thread's own. */
NOSPLIT void minit(void)
{
	M *mp = getg()->m;
	G *gs = mp->gsignal;
	sigset_t none;

	mp->procid = os_gettid();
	FAULT(MINIT_BEFORE_SIGALTSTACK);
	os_sigaltstack(gs->stack.lo, gs->stack.hi, NULL);
	if (!mp->isextra && mp != &m0) {
		sigemptyset(&none);
		os_sigprocmask(SIG_SETMASK, &none, NULL);
	}
}

/* Mirror of minit, for Ms given back by foreign threads. */
NOSPLIT void unminit(void)
{
	os_sigaltstack(0, 0, NULL);
	FAULT(UNMINIT_AFTER_SIGALTSTACK);
}

/* Ask the G running on mp to yield at its next split check. */
void preemptm(M *mp)
{
	int32_t tid = mp->procid;

	if (sq_signals_ready && tid > 0)
		os_tgkill(tid, SIGURG);
}

/* SIGPROF every 1/hz s of CPU time (0 turns it off). */
int sq_setprofile(int hz)
{
	struct itimerval it;

	memset(&it, 0, sizeof it);
	if (hz < 0)
		return -EINVAL;
	if (hz > 0) {
		it.it_interval.tv_usec = 1000000 / hz;
		it.it_value = it.it_interval;
	}
	return setitimer(ITIMER_PROF, &it, NULL) < 0 ? -errno : 0;
}

uint64_t sq_badsignals(void)
{
	return __atomic_load_n(&nbadsignal, __ATOMIC_RELAXED);
}
