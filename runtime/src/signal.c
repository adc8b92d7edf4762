/*
 * signal.c: the runtime's signal handling.
 *
 * One handler, installed SA_ONSTACK|SA_SIGINFO with every signal blocked
 * while it runs, for the signals the runtime uses (SIGURG preemption,
 * SIGPROF sampling, the crash signals) and for SIGUSR1/SIGUSR2, which it
 * forwards to whatever handler the program installed before the runtime
 * started. Each M owns a signal stack from the stack allocator (m->sigstack,
 * so MAP_STACK). minit installs it with sigaltstack, unless the thread has
 * a signal stack of its own already (a foreign thread, or a main thread
 * whose program set one up): then that one is used as it is, and unminit
 * leaves it installed, as Go's minitSignalStack does.
 *
 * The handler trusts nothing until it has checked it:
 *   1. g (TLS) NULL: not a runtime thread, or one mid attach/detach with g
 *      cleared. Forward to the handler installed before the runtime (or,
 *      for SIGPROF while profiling, count an external sample).
 *   2. sp outside gsignal's bounds: the handler is on some other stack.
 *      If it is the thread's current sigaltstack (the thread put its own
 *      in since attach), gsignal takes that stack's bounds for this signal
 *      (Go's adjustSignalStack). Otherwise the thread has no signal stack
 *      (a thread whose g is set but whose sigaltstack is not: exactly the
 *      attach/detach window signals must be blocked across), or the
 *      handler was called off it (a handler installed without SA_ONSTACK
 *      that calls ours): both are fatal and say so.
 *   3. g = gsignal for the dispatch, so split checks run against the
 *      signal stack's guard.
 *
 * Who gets which signal (the host: the handler the program had installed
 * before the runtime started):
 *   SIGURG   a preemption request for the running G (asynchronous when
 *            sysmon asked and the G is at a safe point, preempt.c; else at
 *            its next split check). The host's handler gets every SIGURG,
 *            the runtime's own requests too (they coalesce with the
 *            host's: see sighandler).
 *   SIGPROF  while sq_setprofile is on: a sample (per M; external for
 *            threads running code the runtime did not start). While it is
 *            off: the host's, as Go does.
 *   crash    a real fault (kernel si_code) in code the runtime runs: the
 *            dump and the fatal "unexpected signal". A real fault in code
 *            it does not run (no g, a bound thread between callbacks, C
 *            run by sq_ccall) goes to the host's handler, or, with none,
 *            to the default action (C run by sq_ccall: the fatal error).
 *            A crash signal sent with kill/tgkill/sigqueue is no fault:
 *            the host's handler, or a line saying who sent it, the dump,
 *            and the default action (Go 1.19 takes it for a fault,
 *            golang/go#26625; later Go does not). SIGABRT with a g is
 *            always the fatal error (abort() in runtime or G code).
 *   USR1/2   the host's.
 *   others   left to the host's handler, which gets SA_ONSTACK if it lacked
 *            it (hostonstack: a handler on a G's stack is no safe point).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#include "runtime.h"
#include "os.h"
#include "sq_harness.h"

enum { SIGSTACK_SIZE = 64 << 10, NSIG_MAX = 65 };

static const int handled[] = {
	SIGURG, SIGPROF, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGUSR1, SIGUSR2,
};

static struct sigaction prevsa[NSIG_MAX];
static uint32_t prevfired[NSIG_MAX];	/* a one-shot (SA_RESETHAND) host handler ran */
static uint64_t nbadsignal;
static uint64_t nprofext;		/* SIGPROF samples in code the runtime did not start */
static uint32_t profiling;		/* sq_setprofile's timer is on */
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

/* A signal somebody sent (kill, tgkill, sigqueue, ...) rather than one the
 * kernel raised for what the thread did: user origins are si_code <= 0. */
NOSPLIT static bool sent(const siginfo_t *info)
{
	return info->si_code <= 0;
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

/* Whether the program had a handler of its own for sig before the runtime. */
NOSPLIT static bool hosthandles(int sig)
{
	const struct sigaction *sa = &prevsa[sig];

	if (sa->sa_flags & SA_RESETHAND && __atomic_load_n(&prevfired[sig], __ATOMIC_ACQUIRE))
		return false;
	if (sa->sa_flags & SA_SIGINFO)
		return sa->sa_sigaction != NULL;
	return sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN;
}

/* Hand the signal to the handler the program had before the runtime. A
 * one-shot handler (SA_RESETHAND) runs once, as the kernel would have
 * run it, and the default action is in force after it. */
NOSPLIT static void forward(int sig, siginfo_t *info, void *uc)
{
	struct sigaction *sa = &prevsa[sig];

	if (sa->sa_flags & SA_RESETHAND && __atomic_exchange_n(&prevfired[sig], 1, __ATOMIC_ACQ_REL)) {
		if (!iscrash(sig) && sig != SIGUSR1 && sig != SIGUSR2)
			return;		/* SIGURG ignored; SIGPROF ours */
		dieFromSignal(sig);
		return;
	}
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

/* ---- signal stacks ------------------------------------------------------- */

/* gsignal runs on [lo, hi): its bounds and guard. A small stack of the
 * thread's own keeps half of itself as the guard's reserve. */
NOSPLIT static void gsignal_setstack(G *gs, uintptr lo, uintptr hi)
{
	uintptr reserve = (hi - lo) / 2 < STACK_GUARD ? (hi - lo) / 2 : STACK_GUARD;

	gs->stack.lo = lo;
	gs->stack.hi = hi;
	gs->stackguard = lo + reserve;
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

/* The handler is not on gsignal's stack (sp). If it is on the thread's
 * current sigaltstack, gsignal follows it for this signal (its bounds go
 * to *save, for the handler's way out) and this returns true. So it does
 * for a signal on g0's stack of an attached foreign thread (needm done,
 * dropm not past clearing g: m->attachdone): the thread may have taken
 * away the signal stack it had (Rust's std does at thread exit, in a TLS
 * destructor, before the key destructor detaches a bound M), and the
 * kernel then delivers on the stack the thread is on; as Go's
 * adjustSignalStack, the handler runs there. Otherwise it is fatal: no
 * signal stack at all, or a handler called off it. Inside needm and dropm
 * a signal with g set and no signal stack is the window their order
 * closes, and stays fatal. */
NOSPLIT static bool adjustsigstack(int sig, G *gp, uintptr sp, Stack *save, uintptr *saveguard)
{
	M *mp = gp->m;
	G *gs = mp->gsignal;
	stack_t st;
	uintptr lo, hi;

	os_sigaltstack_raw(NULL, &st);
	lo = (uintptr)st.ss_sp;
	hi = lo + st.ss_size;
	if (!(st.ss_flags & SS_DISABLE) && sp >= lo && sp < hi) {
		*save = gs->stack;
		*saveguard = gs->stackguard;
		gsignal_setstack(gs, lo, hi);
		return true;
	}
	if (gp == mp->g0 && mp->attachdone && sp > gp->stack.lo && sp <= gp->stack.hi) {
		*save = gs->stack;
		*saveguard = gs->stackguard;
		gsignal_setstack(gs, gp->stack.lo, gp->stack.hi);
		return true;
	}
	printsigstate(sig, gp, sp, &st);
	if (st.ss_flags & SS_DISABLE)
		throw(F_NO_SIGSTACK);
	throw(F_NOT_ON_SIGSTACK);
}

NOSPLIT static void crashnote(int sig, siginfo_t *info, void *uc, G *gp);

/* ---- what the interrupted code was --------------------------------------- */

/* A bound foreign thread between callbacks: it runs its own C, with g =
 * its M's g0. For profiling, that is external code. */
NOSPLIT static bool foreignc(G *gp)
{
	M *mp = gp->m;

	return gp == mp->g0 && mp->isextra && !mp->incallback;
}

/* Whether the thread was running code the runtime answers for when the
 * signal came: a G, gsignal, or g0 doing the runtime's work. Not: a bound
 * foreign thread between callbacks, C that sq_ccall runs on g0. */
NOSPLIT static bool inruntime(G *gp)
{
	return !foreignc(gp) && !(gp == gp->m->g0 && gp->m->incgo);
}

/* No g: a foreign thread, or one between attach and detach. */
NOSPLIT static void badsignal(int sig, siginfo_t *info, void *uc)
{
	__atomic_add_fetch(&nbadsignal, 1, __ATOMIC_RELAXED);
	if (sig == SIGPROF && __atomic_load_n(&profiling, __ATOMIC_ACQUIRE)) {
		__atomic_add_fetch(&nprofext, 1, __ATOMIC_RELAXED);
		return;
	}
	if (iscrash(sig) && sig != SIGABRT && !hosthandles(sig))
		crashnote(sig, info, uc, NULL);
	forward(sig, info, uc);
}

/* A fault in the guard page below a G's stack is that G's overflow. */
NOSPLIT static bool inguard(G *gp, uintptr addr)
{
	return gp && !gp->isg0 && addr >= gp->stack.lo - PAGE && addr < gp->stack.lo;
}

/* A real fault in code the runtime runs: the dump and the fatal error. */
NOSPLIT NORETURN static void crash(int sig, siginfo_t *info, void *uc, G *gp)
{
	uintptr addr = (uintptr)info->si_addr;

	/* A fault inside this M's own fatal-error dump: the dump holds the
	 * print lock, so say nothing more and end as that throw would. */
	if (gp->m && gp->m->throwing)
		throw(F_UNEXPECTED_SIGNAL);

	blockasync();
	if (sig == SIGSEGV && inguard(gp, addr)) {
		printlock();
		prints("runtime: goroutine ");
		printu(gp->goid);
		prints(" stack exceeds ");
		printu(gp->stack.hi - gp->stack.lo);
		prints("-byte limit\nruntime: goroutine ");
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

/* A crash signal that is not the runtime's to report is about to take its
 * default action: say what it was, so that a process dying of it is not a
 * mystery. Sent: who sent it, and the dump (which G was running). gp may
 * be NULL (a thread with no g). */
NOSPLIT static void crashnote(int sig, siginfo_t *info, void *uc, G *gp)
{
	if (gp && gp->m && gp->m->throwing)
		return;
	printlock();
	prints("runtime: signal ");
	prints(signame(sig));
	if (sent(info)) {
		prints(" sent by pid ");
		printi(info->si_pid);
		prints(" uid ");
		printi(info->si_uid);
		prints(" (si_code ");
		printi(info->si_code);
		prints(") to tid ");
		printi(os_gettid());
		prints(": not a fault; its default action follows\n");
		dumpall();
	} else {
		prints(" at pc=");
		printx(ARCH_UC_PC(uc));
		prints(" addr=");
		printx((uintptr)info->si_addr);
		prints(" on tid ");
		printi(os_gettid());
		prints(", in code the runtime does not run: its default action follows\n");
	}
	printunlock();
}

/* A crash signal on a thread with a g (see the file comment). */
NOSPLIT static void crashsig(int sig, siginfo_t *info, void *uc, G *gp)
{
	bool ours = inruntime(gp);

	if (sig == SIGABRT && ours)
		crash(sig, info, uc, gp);
	if (!sent(info) && (ours || (gp->m->incgo && !hosthandles(sig))))
		crash(sig, info, uc, gp);
	if (sig != SIGABRT && !hosthandles(sig))	/* abort() of the thread's own C: its business */
		crashnote(sig, info, uc, gp);
	forward(sig, info, uc);
}

/* Preemption request: poison the running G's guard, so that it yields at
 * its next split check. A G in a syscall window already has a poisoned
 * guard and must keep throwsplit's meaning. When sysmon asked (asked), the
 * G may be preempted right here instead, if it is at a safe point. */
NOSPLIT static void sigpreempt(G *gp, void *uc, bool asked)
{
	M *mp = gp->m;
	G *cg = mp->curg;

	if (!cg || gp != cg || cg->status != Grunning || cg->throwsplit)
		return;
	cg->preempt = true;
	cg->stackguard = STACK_PREEMPT;
	if (asked)
		preempt_async(cg, uc);
}

static void sigdispatch(int sig, siginfo_t *info, void *uc, G *gp)
{
	M *mp = gp->m;
	bool asked;

	FAULT(SIGHANDLER_DISPATCH);
	switch (sig) {
	case SIGURG:
		/* The runtime's own requests are tgkill'd by sysmon (in harness
		 * builds also sent by a timer the G armed for itself:
		 * sq_harness_preempt_after). A host's SIGURG sent while one is
		 * on its way coalesces with it (one delivery for both), so the
		 * two cannot be told apart here: the host's handler gets every
		 * SIGURG, the runtime's too. A spurious SIGURG is what Go
		 * documents for SIGURG users; a lost one would be a signal the
		 * host sent and never saw. */
		asked = __atomic_exchange_n(&mp->preemptreq, 0, __ATOMIC_ACQ_REL) != 0 &&
			(info->si_code == SI_TKILL || (SQ_HARNESS && info->si_code == SI_TIMER));
		sigpreempt(gp, uc, asked);
		if (hosthandles(sig))
			forward(sig, info, uc);
		return;
	case SIGPROF:
		if (!__atomic_load_n(&profiling, __ATOMIC_ACQUIRE)) {
			forward(sig, info, uc);
			return;
		}
		if (foreignc(gp))
			__atomic_add_fetch(&nprofext, 1, __ATOMIC_RELAXED);
		else
			mp->nprof++;	/* C run by sq_ccall counts for its G's M, as in Go */
		return;
	}
	if (iscrash(sig)) {
		crashsig(sig, info, uc, gp);
		return;
	}
	forward(sig, info, uc);
}

NOSPLIT static void sighandler(int sig, siginfo_t *info, void *uc)
{
	G *gp = getg();
	G *gs;
	Stack save;
	uintptr sp, saveguard = 0;
	bool adjusted = false;
	int saved = errno;

	if (gp == NULL) {
		badsignal(sig, info, uc);
		errno = saved;
		return;
	}
	sp = arch_getsp();
	gs = gp->m->gsignal;
	if (sp < gs->stack.lo || sp >= gs->stack.hi)
		adjusted = adjustsigstack(sig, gp, sp, &save, &saveguard);
	setg(gs);
	sigdispatch(sig, info, uc, gp);
	setg(gp);
	if (adjusted) {
		gs->stack = save;
		gs->stackguard = saveguard;
	}
	errno = saved;
}

NOSPLIT static bool ishandled(int sig)
{
	size_t i;

	for (i = 0; i < sizeof handled / sizeof handled[0]; i++)
		if (handled[i] == sig)
			return true;
	return false;
}

/* A handler of the program's for a signal the runtime leaves alone (SIGALRM,
 * SIGTERM, SIGCHLD, ...) gets SA_ONSTACK, as Go's initsig does (setsigstack).
 * Without it the kernel runs the handler on whatever stack the thread is on:
 * on a G's stack, with g still the G. A SIGURG from sysmon landing inside it
 * sees a G in Grunning, a pc in the executable's text (the handler is the
 * program's code) and an sp inside the G's stack: a safe point, by every
 * test preempt_async makes. The G is then rescheduled from inside the
 * handler, with the kernel's signal frame for the code the handler
 * interrupted still on its stack; resumed on another thread, the handler
 * returns through rt_sigreturn there, which restores that context (runtime
 * code, say, with the first thread's M in a register: two threads running
 * as one M) and the first thread's sigaltstack (two threads sharing one
 * signal stack, whose frames overwrite each other: a corrupted sp or fp
 * state, and a signal the kernel cannot deliver, the process killed by
 * SIGSEGV without a word). On the signal stack, preempt_async refuses: sp
 * is not in the G's stack. A handler installed after the runtime started
 * must use SA_ONSTACK itself (Go says the same of non-Go code). */
static void hostonstack(void)
{
	struct sigaction sa;
	int sig;

	for (sig = 1; sig < NSIG_MAX; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || ishandled(sig))
			continue;
		if (os_sigaction(sig, NULL, &sa) < 0)
			continue;	/* libc's own (its cancellation and setxid signals) */
		if (sa.sa_flags & SA_ONSTACK)
			continue;
		if (!(sa.sa_flags & SA_SIGINFO) &&
		    (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN))
			continue;
		sa.sa_flags |= SA_ONSTACK;
		os_sigaction(sig, &sa, NULL);
	}
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
	if (!REGRESS(HOSTONSTACK))
		hostonstack();
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
	mp->sigstack = stackalloc(SIGSTACK_SIZE);
	gsignal_setstack(gs, mp->sigstack.lo, mp->sigstack.hi);
	mp->gsignal = gs;
}

/* The thread's signal stack for the time it is attached: one it has
 * already is kept as it is (gsignal takes its bounds), else the M's own
 * is installed. For an extra M, g is not installed yet (needm). */
NOSPLIT static void minitsigstack(M *mp)
{
	stack_t old = { .ss_flags = SS_DISABLE };

	/* One system call when the thread has none (the common case): ours
	 * goes in and says what was there; a stack of the thread's own goes
	 * back at once. A signal in between finds no g and runs the host's
	 * handler on the M's stack, which no other thread can be using. The
	 * kernel refuses to change it while the thread runs on it (a callback
	 * from inside the thread's own handler): then it is kept, as it is. */
	if (os_sigaltstack(mp->sigstack.lo, mp->sigstack.hi, &old) < 0)
		os_sigaltstack_raw(NULL, &old);
	else if (!(old.ss_flags & SS_DISABLE) && old.ss_size > 0)
		os_sigaltstack_raw(&(stack_t){ .ss_sp = old.ss_sp, .ss_size = old.ss_size,
			.ss_flags = old.ss_flags & ~SS_ONSTACK }, NULL);
	if (!(old.ss_flags & SS_DISABLE) && old.ss_size > 0) {
		mp->newsigstack = false;
		gsignal_setstack(mp->gsignal, (uintptr)old.ss_sp, (uintptr)old.ss_sp + old.ss_size);
		return;
	}
	mp->newsigstack = true;
	gsignal_setstack(mp->gsignal, mp->sigstack.lo, mp->sigstack.hi);
}

/* On mp's own thread: give it a signal stack. Ms the runtime started also
 * unblock signals (they start with all blocked, see os_newthread); M0 and
 * extra Ms leave the mask as the thread has it. An extra M's attach runs
 * this before g is installed (needm), so it takes the M as an argument. */
NOSPLIT void minit(M *mp)
{
	sigset_t none;

	mp->procid = os_gettid();
	FAULT(MINIT_BEFORE_SIGALTSTACK);
	minitsigstack(mp);
	if (!mp->isextra && mp != &m0) {
		sigemptyset(&none);
		os_sigprocmask(SIG_SETMASK, &none, NULL);
	}
}

/* Mirror of minit: remove the M's own signal stack if minit installed it
 * and it is still the one in place; a stack of the thread's own stays.
 * gsignal goes back to the M's own stack. dropm runs it after g is
 * cleared. */
NOSPLIT void unminit(M *mp)
{
	stack_t old;

	if (mp->newsigstack) {
		os_sigaltstack(0, 0, &old);
		if (!(old.ss_flags & SS_DISABLE) && (uintptr)old.ss_sp != mp->sigstack.lo) {
			old.ss_flags &= ~SS_ONSTACK;
			os_sigaltstack_raw(&old, NULL);	/* the thread put its own in since */
		}
	}
	mp->newsigstack = false;
	gsignal_setstack(mp->gsignal, mp->sigstack.lo, mp->sigstack.hi);
	FAULT(UNMINIT_AFTER_SIGALTSTACK);
}

/* Ask the G running on mp to yield: at once if it is at a safe point,
 * else at its next split check. From sysmon. */
void preemptm(M *mp)
{
	int32_t tid = mp->procid;

	if (sq_signals_ready && tid > 0) {
		__atomic_store_n(&mp->preemptreq, 1, __ATOMIC_RELEASE);
		os_tgkill(tid, SIGURG);
	}
}

/* SIGPROF every 1/hz s of CPU time (0 turns it off). */
int sq_setprofile(int hz)
{
	struct itimerval it;
	int r;

	memset(&it, 0, sizeof it);
	if (hz < 0)
		return -EINVAL;
	if (hz > 0) {
		it.it_interval.tv_usec = 1000000 / hz;
		it.it_value = it.it_interval;
		__atomic_store_n(&profiling, 1, __ATOMIC_RELEASE);
	}
	r = setitimer(ITIMER_PROF, &it, NULL) < 0 ? -errno : 0;
	if (hz == 0)
		__atomic_store_n(&profiling, 0, __ATOMIC_RELEASE);
	return r;
}

uint64_t sq_badsignals(void)
{
	return __atomic_load_n(&nbadsignal, __ATOMIC_RELAXED);
}

uint64_t sig_nprofext(void)
{
	return __atomic_load_n(&nprofext, __ATOMIC_RELAXED);
}
