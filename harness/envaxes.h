/*
 * envaxes.h: environment axes, the situations real runtimes meet in
 * production, for every scenario and every target (--env AXIS[,AXIS]).
 *
 * Each axis changes the world around the scenario, not the scenario: the
 * host's signal handlers and signal stacks, the masks its threads inherit,
 * threads that exist before the runtime or die in odd places, faults sent
 * or real, PID 1. Each says what a correct runtime owes (SC_ENV_AXES):
 *
 *   clean   the scenario's own expectation stands, and every check the axis
 *           makes passes ("envcheck" records; a failed one exits 1)
 *   signal  the process dies of the axis's signal: the runtime passes a
 *           signal that is not its business on to its default action and
 *           claims no fault of its own (as PID 1, where the kernel drops a
 *           sent signal whose action is the default, it goes on: clean)
 *   crash   the process dies of the signal, or of a fatal error of class
 *           crash in the target's table: a real fault in C that the runtime
 *           ran, reported either way
 *   death   the process ends with a fatal error or a signal, not clean and
 *           not a hang: the program did something no runtime can honour
 *
 * Why exit-in-callback owes a death. pthread_exit unwinds the thread with
 * glibc's forced unwind: C frames with unwind tables run their cleanups,
 * and at the first frame without them (Go's and stackquake's own
 * assembly) it jumps straight to the thread's end. The callback never
 * returns: its G stays in the syscall window of the outcall for ever, its M
 * is never given back, whatever the G held (a lock, a channel's other
 * end) is held for ever, and each such thread leaks another. No runtime
 * can finish the callback, but every one can know: the thread's exit runs
 * the pthread key destructors after the unwind, and a runtime that binds
 * Ms to threads has one (stackquake's runtime releases bound Ms there; gc
 * has one since Go 1.21, golang/go#51676) which finds the M still inside a
 * callback. The honest answer is then a fatal error; going on is not: gc
 * 1.19 goes on (docs/findings/go-pthread-exit-in-callback), gccgo dies
 * (its forced unwind runs libgo's defer code: "freedefer with d.fn !=
 * nil"). Go's maintainers call unwinding C across Go frames unsupported
 * (golang/go#63829, for longjmp): the program is wrong, which is what a
 * refusal says.
 *
 * Only the first fault axis (signal, crash, death) of a list fires. The
 * "env" record says what the run must end in; drivers read it instead of
 * the scenario's "expect" when its expect is not "scenario".
 *
 * When: the host's handlers and the pre-init threads come from a
 * constructor of priority 101, which runs before any runtime's own start
 * (Go's c-archive starts in an unprioritised constructor; stackquake's
 * runtime at sqt_init or sqt_main). Everything that needs the runtime
 * starts when the scenario's sqt_init returns or its sqt_main function
 * begins: envaxes.h wraps those calls, sqt_profile and pthread_create (the
 * macros at the end), so no scenario changes. Env threads are few and
 * bounded; none is waited for at exit (a wait there could hold the P the
 * callbacks need).
 *
 * PID 1: run the program under harness/sq-pid1 (unshare --pid --fork).
 */
#ifndef SQ_ENVAXES_H
#define SQ_ENVAXES_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "record.h"
#include "target.h"

enum { SC_ENV_CLEAN, SC_ENV_SIGNAL, SC_ENV_CRASH, SC_ENV_DEATH };

/* X(ID, name, expect, signal, what) */
#define SC_ENV_AXES(X) \
	X(PID1, "pid1", CLEAN, 0, \
	  "the process is PID 1 of its PID namespace (harness/sq-pid1)") \
	X(HANDLERS, "handlers", CLEAN, 0, \
	  "host handlers installed before the runtime (SA_SIGINFO|SA_ONSTACK|SA_RESTART) for SIGALRM, SIGTERM, SIGURG, SIGPROF, SIGSEGV, SIGBUS; the asynchronous ones, sent to a thread that calls in, must each be called") \
	X(HANDLERS_NOSTACK, "handlers-nostack", CLEAN, 0, \
	  "the same without SA_ONSTACK (SA_SIGINFO|SA_RESTART)") \
	X(HANDLERS_ONESHOT, "handlers-oneshot", CLEAN, 0, \
	  "the same as one-shot handlers (SA_SIGINFO|SA_RESETHAND|SA_NODEFER|SA_ONSTACK), each signal sent once: each must be called exactly once") \
	X(HANDLERS_PLAIN, "handlers-plain", CLEAN, 0, \
	  "the same as plain sa_handler functions with no flags") \
	X(ALTSTACK, "altstack", CLEAN, 0, \
	  "every thread the scenario creates installs its own 64 KiB sigaltstack first; it must still be installed when the thread is done") \
	X(ALTSTACK_SMALL, "altstack-small", CLEAN, 0, \
	  "the same with an 8 KiB sigaltstack: SIGSTKSZ as musl defines it, and glibc unless _GNU_SOURCE makes it sysconf(_SC_SIGSTKSZ) (a runtime whose handler needs more must put its own in while the thread is attached)") \
	X(SIGMASK, "sigmask", CLEAN, 0, \
	  "every thread the scenario creates inherits a mask blocking every asynchronous signal; it must be the same when the thread is done") \
	X(PREINIT, "preinit", CLEAN, 0, \
	  "two C threads exist before the runtime starts and call in once it has") \
	X(THREAD_EXIT, "thread-exit", CLEAN, 0, \
	  "threads call in a few times, then pthread_exit between callbacks") \
	X(EXIT_IN_CALLBACK, "exit-in-callback", DEATH, 0, \
	  "a thread calls pthread_exit from C inside a callback, with the runtime's frames on its stack") \
	X(SEGV_SENT, "segv-sent", SIGNAL, SIGSEGV, \
	  "tgkill SIGSEGV to a thread running C inside a callback") \
	X(SEGV_SENT_GO, "segv-sent-go", SIGNAL, SIGSEGV, \
	  "tgkill SIGSEGV to a thread yielding in a loop inside a callback (runtime code)") \
	X(BUS_SENT, "bus-sent", SIGNAL, SIGBUS, \
	  "tgkill SIGBUS to a thread running C inside a callback") \
	X(SEGV_CALLED, "segv-called", SIGNAL, SIGSEGV, \
	  "a NULL store in C on a thread that called in before, outside any callback now") \
	X(SEGV_NEVER, "segv-never", SIGNAL, SIGSEGV, \
	  "a NULL store in C on a thread that never called in") \
	X(SEGV_CALLBACK, "segv-callback", CRASH, SIGSEGV, \
	  "a NULL store in C inside a callback")

#define SC_ENV_ID_(id, ...) SC_ENV_##id,
enum { SC_ENV_AXES(SC_ENV_ID_) SC_ENV_N };
#undef SC_ENV_ID_

#define SC_ENV_FN_ __attribute__((no_instrument_function, no_split_stack, unused)) static inline

static const char *const sc_env_name[] = {
#define SC_ENV_NAME_(id, name, ...) name,
	SC_ENV_AXES(SC_ENV_NAME_)
#undef SC_ENV_NAME_
};
static const signed char sc_env_expect[] = {
#define SC_ENV_EXP_(id, name, exp, ...) SC_ENV_##exp,
	SC_ENV_AXES(SC_ENV_EXP_)
#undef SC_ENV_EXP_
};
static const signed char sc_env_sig[] = {
#define SC_ENV_SIG_(id, name, exp, sig, ...) sig,
	SC_ENV_AXES(SC_ENV_SIG_)
#undef SC_ENV_SIG_
};
static const char *const sc_env_what[] = {
#define SC_ENV_WHAT_(id, name, exp, sig, what) what,
	SC_ENV_AXES(SC_ENV_WHAT_)
#undef SC_ENV_WHAT_
};
static const char *const sc_env_expname[] = { "clean", "signal", "crash", "death" };

static unsigned sc_env_on;		/* bit per axis */
static int sc_env_fault = -1;		/* the fault axis that fires */
static char sc_env_list[256];		/* the --env argument */

SC_ENV_FN_ int sc_env_has(int axis)
{
	return (sc_env_on >> axis) & 1;
}

SC_ENV_FN_ int sc_env_is_sent(int axis)
{
	return axis == SC_ENV_SEGV_SENT || axis == SC_ENV_SEGV_SENT_GO || axis == SC_ENV_BUS_SENT;
}

/* What the run owes, in one place for the "env" record and the check at
 * exit: the fault axis's expectation, except that PID 1 is never killed
 * by a sent signal whose action is the default (the kernel drops it), so
 * a sent fault axis owes the scenario's own end there. A real fault, or a
 * thread that dies inside a callback, is not dropped for PID 1. */
SC_ENV_FN_ int sc_env_owed(void)
{
	if (sc_env_fault < 0 || (sc_env_has(SC_ENV_PID1) && sc_env_is_sent(sc_env_fault)))
		return SC_ENV_CLEAN;
	return sc_env_expect[sc_env_fault];
}

/* ---- checks ------------------------------------------------------------ */

static long sc_env_bad;

__attribute__((format(printf, 3, 4)))
SC_ENV_FN_ void sc_env_check(int axis, int ok, const char *fmt, ...)
{
	char detail[256];
	va_list ap;
	sq_rec r;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	rec_begin(&r, "envcheck");
	rec_str(&r, "axis", sc_env_name[axis]);
	rec_bool(&r, "ok", ok);
	rec_str(&r, "detail", detail);
	rec_end(&r, 1);
	if (!ok)
		__atomic_add_fetch(&sc_env_bad, 1, __ATOMIC_RELAXED);
}

/* ---- the host's signal handlers -----------------------------------------
 *
 * Asynchronous ones count their calls, and then work for some 20 us, as a
 * profiler's handler walking a stack or a logger's would: a handler is a
 * window in which the runtime's own signals (preemption) land too. The
 * synchronous ones do what crash reporters do: say so, put the default
 * action back and raise the signal again (a real fault faults again on
 * return; a sent one is raised).
 */
enum { SC_ENV_NHOST = 6 };
static const int sc_env_hostsig[SC_ENV_NHOST] = { SIGALRM, SIGTERM, SIGURG, SIGPROF, SIGSEGV, SIGBUS };
static long sc_env_called[65], sc_env_sent[65], sc_env_badinfo;
static struct timespec sc_env_sent_at[65];

SC_ENV_FN_ void sc_env_host(int sig, int signo)
{
	sq_rec r;

	__atomic_add_fetch(&sc_env_called[sig & 63], 1, __ATOMIC_RELAXED);
	if (signo != sig)
		__atomic_add_fetch(&sc_env_badinfo, 1, __ATOMIC_RELAXED);
	if (sig != SIGSEGV && sig != SIGBUS) {
		struct timespec t0, t;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		do
			clock_gettime(CLOCK_MONOTONIC, &t);
		while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 20000);
		return;
	}
	rec_begin(&r, "envchain");
	rec_int(&r, "signal", sig);
	rec_end(&r, 1);
	signal(sig, SIG_DFL);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
}

SC_ENV_FN_ void sc_env_host_info(int sig, siginfo_t *si, void *uc)
{
	sc_env_host(sig, si ? si->si_signo : -1);
}

SC_ENV_FN_ void sc_env_host_plain(int sig)
{
	sc_env_host(sig, sig);
}

SC_ENV_FN_ int sc_env_handlers(void)
{
	return sc_env_has(SC_ENV_HANDLERS) ? SC_ENV_HANDLERS :
		sc_env_has(SC_ENV_HANDLERS_NOSTACK) ? SC_ENV_HANDLERS_NOSTACK :
		sc_env_has(SC_ENV_HANDLERS_ONESHOT) ? SC_ENV_HANDLERS_ONESHOT :
		sc_env_has(SC_ENV_HANDLERS_PLAIN) ? SC_ENV_HANDLERS_PLAIN : -1;
}

SC_ENV_FN_ void sc_env_install_handlers(int axis)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	if (axis == SC_ENV_HANDLERS_PLAIN) {
		sa.sa_handler = sc_env_host_plain;
	} else {
		sa.sa_sigaction = sc_env_host_info;
		sa.sa_flags = SA_SIGINFO;
		sa.sa_flags |= axis == SC_ENV_HANDLERS_ONESHOT ? SA_RESETHAND | SA_NODEFER : SA_RESTART;
		if (axis != SC_ENV_HANDLERS_NOSTACK)
			sa.sa_flags |= SA_ONSTACK;
	}
	for (int i = 0; i < SC_ENV_NHOST; i++)
		sigaction(sc_env_hostsig[i], &sa, NULL);
}

/* ---- threads: pre-init ones, callers, the host's stacks and masks ------- */

static pthread_mutex_t sc_env_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sc_env_cv = PTHREAD_COND_INITIALIZER;
static int sc_env_up;			/* the runtime has started */
static volatile int sc_env_stop;	/* exit has begun */
static long sc_env_incall;		/* env callbacks in flight */
static volatile int sc_env_fired;	/* the fault axis fired, at sc_env_fired_at */
static struct timespec sc_env_fired_at;
static volatile int sc_env_profiling;
/* SIGPROF is the runtime's while the scenario profiles: a send and the start
 * of profiling are ordered by this lock, and a SIGPROF sent before profiling
 * began may still be taken by the runtime's handler (it was on its way, or
 * pending): then a host handler that saw none is not judged. */
static pthread_mutex_t sc_env_prof_mu = PTHREAD_MUTEX_INITIALIZER;
static volatile int sc_env_prof_after_send;
static long sc_env_calls, sc_env_wrong, sc_env_preinit_calls;

SC_ENV_FN_ void sc_env_wait_up(void)
{
	pthread_mutex_lock(&sc_env_mu);
	while (!sc_env_up)
		pthread_cond_wait(&sc_env_cv, &sc_env_mu);
	pthread_mutex_unlock(&sc_env_mu);
}

SC_ENV_FN_ void sc_env_sleep_us(long us)
{
	struct timespec ts = { us / 1000000, us % 1000000 * 1000 };

	nanosleep(&ts, NULL);
}

static int sc_env_nop(void *arg)
{
	return (int)(long)arg + 1;
}

/* Env threads that have called in and not yet exited all the way. A
 * runtime that binds a thread to its M detaches it in a key destructor at
 * thread exit, after the thread's function has returned: a quiescent
 * check in that moment sees an M half detached ("extra Ms half attached
 * or detached", seen once in a campaign). This key's destructor counts the
 * thread out; made after the thread's first callback has returned, so
 * after the runtime's own key, and glibc and musl run destructors in the
 * order the keys were made. */
static long sc_env_live;
static pthread_key_t sc_env_livekey;
static pthread_once_t sc_env_liveonce = PTHREAD_ONCE_INIT;
static int sc_env_livekeyok;

static void sc_env_gone(void *p)
{
	(void)p;
	__atomic_sub_fetch(&sc_env_live, 1, __ATOMIC_ACQ_REL);
}

static void sc_env_livekey_make(void)
{
	sc_env_livekeyok = pthread_key_create(&sc_env_livekey, sc_env_gone) == 0;
}

SC_ENV_FN_ void sc_env_mark_live(void)
{
	pthread_once(&sc_env_liveonce, sc_env_livekey_make);
	if (!sc_env_livekeyok || pthread_getspecific(sc_env_livekey))
		return;
	__atomic_add_fetch(&sc_env_live, 1, __ATOMIC_ACQ_REL);
	if (pthread_setspecific(sc_env_livekey, (void *)1) != 0)
		__atomic_sub_fetch(&sc_env_live, 1, __ATOMIC_ACQ_REL);
}

/* n callbacks, each checked. */
SC_ENV_FN_ void sc_env_callin(long n, long *counter, long pause_us)
{
	for (long i = 0; i < n && !sc_env_stop; i++) {
		__atomic_add_fetch(&sc_env_incall, 1, __ATOMIC_ACQ_REL);
		if (!sc_env_stop && sqt_callback(sc_env_nop, (void *)i) != i + 1)
			__atomic_add_fetch(&sc_env_wrong, 1, __ATOMIC_RELAXED);
		if (i == 0)
			sc_env_mark_live();
		__atomic_sub_fetch(&sc_env_incall, 1, __ATOMIC_ACQ_REL);
		__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
		if (pause_us)
			sc_env_sleep_us(pause_us);
	}
}

static void *sc_env_preinit_main(void *arg)
{
	sc_env_wait_up();
	sc_env_callin(20, &sc_env_preinit_calls, 100);
	return NULL;
}

static void *sc_env_exiter_main(void *arg)
{
	sc_env_callin(3, &sc_env_calls, 0);
	pthread_exit(NULL);
}

/* Ten threads in turn, each calls in three times and exits. */
static void *sc_env_churn_main(void *arg)
{
	for (int i = 0; i < 10 && !sc_env_stop; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, sc_env_exiter_main, NULL) == 0)
			pthread_join(t, NULL);
	}
	return NULL;
}

static int sc_env_exit_inside(void *arg)
{
	pthread_exit(NULL);
}

SC_ENV_FN_ void sc_env_fire(const char *how);

static void *sc_env_exit_in_callback_main(void *arg)
{
	sc_env_fire("pthread_exit inside a callback");
	sqt_callback(sc_env_exit_inside, NULL);
	return NULL;
}

/* Host stacks and masks for every thread a scenario creates. The small
 * stack is the compile-time SIGSTKSZ C programs have sized their signal
 * stacks by for decades (since 2.34 glibc makes it sysconf(_SC_SIGSTKSZ)
 * under _GNU_SOURCE, 8192 otherwise; musl keeps 8192): what a host hands
 * a runtime in practice. */
enum { SC_ENV_ALTSTACK_SIZE = 64 << 10, SC_ENV_ALTSTACK_SMALL_SIZE = 8 << 10 };

/* The axis that has the scenario's threads install a sigaltstack first
 * (-1: none; the two are of one family, never drawn together), and its size. */
SC_ENV_FN_ int sc_env_altstack_axis(void)
{
	if (sc_env_has(SC_ENV_ALTSTACK_SMALL))
		return SC_ENV_ALTSTACK_SMALL;
	return sc_env_has(SC_ENV_ALTSTACK) ? SC_ENV_ALTSTACK : -1;
}

SC_ENV_FN_ size_t sc_env_altstack_size(int axis)
{
	return axis < 0 ? 0 : axis == SC_ENV_ALTSTACK_SMALL ? SC_ENV_ALTSTACK_SMALL_SIZE : SC_ENV_ALTSTACK_SIZE;
}

typedef struct sc_env_thr {
	void *(*fn)(void *);
	void *arg;
} sc_env_thr;

SC_ENV_FN_ void sc_env_hostmask(sigset_t *set)
{
	static const int sync[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP };

	sigfillset(set);
	for (unsigned i = 0; i < sizeof sync / sizeof sync[0]; i++)
		sigdelset(set, sync[i]);
}

/* Below each host sigaltstack lies this much of a known pattern, in the
 * same allocation: a runtime whose handler runs off the low end of the
 * stack the thread lent it shows up as pattern overwritten, counted, where
 * it would otherwise corrupt whatever the heap put there (glibc: the
 * thread's own tcache, found broken at the thread's exit). */
enum { SC_ENV_ALTSTACK_BELOW = 16 << 10, SC_ENV_ALTSTACK_FILL = 0xa5 };

/* Bytes below the stack at sp written since the fill: from the lowest one. */
SC_ENV_FN_ size_t sc_env_below_written(const void *sp)
{
	const unsigned char *lo = (const unsigned char *)sp - SC_ENV_ALTSTACK_BELOW;

	for (size_t i = 0; i < SC_ENV_ALTSTACK_BELOW; i++)
		if (lo[i] != SC_ENV_ALTSTACK_FILL)
			return SC_ENV_ALTSTACK_BELOW - i;
	return 0;
}

SC_ENV_FN_ void sc_env_altstack_off(void *mem)
{
	stack_t off = { .ss_flags = SS_DISABLE };

	sigaltstack(&off, NULL);
	free(mem);
}

static void *sc_env_thread_main(void *p)
{
	sc_env_thr t = *(sc_env_thr *)p;
	int axis = sc_env_altstack_axis();
	stack_t mine = { .ss_size = sc_env_altstack_size(axis) }, now;
	unsigned char *block = NULL;
	sigset_t before, after;
	size_t below;
	void *r;

	free(p);
	if (mine.ss_size && (block = malloc(SC_ENV_ALTSTACK_BELOW + mine.ss_size))) {
		memset(block, SC_ENV_ALTSTACK_FILL, SC_ENV_ALTSTACK_BELOW);
		mine.ss_sp = block + SC_ENV_ALTSTACK_BELOW;
		sigaltstack(&mine, NULL);
	}
	pthread_sigmask(SIG_SETMASK, NULL, &before);
	r = t.fn(t.arg);
	if (block) {
		if ((below = sc_env_below_written(mine.ss_sp)) != 0)
			sc_env_check(axis, 0, "a signal handler wrote %zu bytes below the thread's own %zu-byte sigaltstack",
				below, mine.ss_size);
		sigaltstack(NULL, &now);
		if (now.ss_sp != mine.ss_sp || (now.ss_flags & SS_DISABLE))
			sc_env_check(axis, 0, "the thread's own sigaltstack %p was replaced: now %p%s",
				mine.ss_sp, now.ss_sp, now.ss_flags & SS_DISABLE ? " (disabled)" : "");
		else	/* left to leak if replaced: the runtime may still use it */
			sc_env_altstack_off(block);
	}
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	if (sc_env_has(SC_ENV_SIGMASK))
		for (int s = 1; s < 32; s++)
			if (sigismember(&before, s) != sigismember(&after, s)) {
				sc_env_check(SC_ENV_SIGMASK, 0, "signal %d %s by the time the thread was done", s,
					sigismember(&after, s) ? "blocked" : "unblocked");
				break;
			}
	return r;
}

SC_ENV_FN_ int sc_env_pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	sc_env_thr *p;
	sigset_t host, old;
	int r;

	if (sc_env_altstack_axis() < 0 && !sc_env_has(SC_ENV_SIGMASK))
		return pthread_create(t, attr, fn, arg);
	if (!(p = malloc(sizeof *p)))
		return EAGAIN;
	p->fn = fn;
	p->arg = arg;
	if (sc_env_has(SC_ENV_SIGMASK)) {
		sc_env_hostmask(&host);
		pthread_sigmask(SIG_BLOCK, &host, &old);
	}
	r = pthread_create(t, attr, sc_env_thread_main, p);
	if (sc_env_has(SC_ENV_SIGMASK))
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		free(p);
	return r;
}

/* A caller thread for the axes that need one whatever the scenario does:
 * 200 callbacks about 100 us apart, the host's signals sent to it. */
static volatile int32_t sc_env_caller_tid;

static void *sc_env_caller_main(void *arg)
{
	sc_env_caller_tid = (int32_t)syscall(SYS_gettid);
	sc_env_callin(200, &sc_env_calls, 100);
	sc_env_caller_tid = 0;
	return NULL;
}

/* Sends the host's asynchronous signals to the caller and the main thread,
 * and to the process: every millisecond, or once each (to a thread) for
 * one-shot handlers. SIGPROF is left out while the scenario profiles (the
 * runtime owns it then). */
static pid_t sc_env_main_tid;

static void *sc_env_prober_main(void *arg)
{
	int oneshot = sc_env_has(SC_ENV_HANDLERS_ONESHOT);
	pid_t pid = getpid();

	for (int round = 0; round < (oneshot ? 1 : 300) && !sc_env_stop; round++) {
		for (int i = 0; i < 4; i++) {
			int sig = sc_env_hostsig[i];
			int32_t tid = sc_env_caller_tid;

			if (sig == SIGPROF) {
				pthread_mutex_lock(&sc_env_prof_mu);
				if (sc_env_profiling) {
					pthread_mutex_unlock(&sc_env_prof_mu);
					continue;
				}
			}
			if (oneshot && !tid)
				tid = sc_env_main_tid;
			if (tid && syscall(SYS_tgkill, pid, tid, sig) == 0)
				sc_env_sent[sig]++;
			if (!oneshot && syscall(SYS_tgkill, pid, sc_env_main_tid, sig) == 0)
				sc_env_sent[sig]++;
			/* And to the process, as alarm() and kill(1) send: the
			 * kernel hands it to any thread that does not block it,
			 * the runtime's own threads included. */
			if (!oneshot && kill(pid, sig) == 0)
				sc_env_sent[sig]++;
			clock_gettime(CLOCK_MONOTONIC, &sc_env_sent_at[sig]);
			if (sig == SIGPROF)
				pthread_mutex_unlock(&sc_env_prof_mu);
		}
		sc_env_sleep_us(1000);
	}
	return NULL;
}

/* ---- faults --------------------------------------------------------------- */

static int *volatile sc_env_null;	/* a NULL the compiler cannot see */
static volatile int32_t sc_env_victim;
static volatile int sc_env_release;

SC_ENV_FN_ void sc_env_fire(const char *how)
{
	sq_rec r;

	clock_gettime(CLOCK_MONOTONIC, &sc_env_fired_at);
	__atomic_store_n(&sc_env_fired, 1, __ATOMIC_RELEASE);

	rec_begin(&r, "envfire");
	rec_str(&r, "axis", sc_env_name[sc_env_fault]);
	rec_str(&r, "how", how);
	rec_end(&r, 1);
}

static int sc_env_store_null(void *arg)
{
	sc_env_fire("null store in a callback");
	*sc_env_null = 1;
	return 0;
}

/* Inside a callback: C that spins, or runtime code that yields, until
 * the signal ends the process (or, as PID 1, was dropped). */
static int sc_env_spin(void *arg)
{
	sc_env_victim = (int32_t)syscall(SYS_gettid);
	for (long i = 0; !sc_env_release && i < 4000000000L; i++)
		if (arg)
			sqt_yield();
		else
			__asm__ volatile("" ::: "memory");
	return 0;
}

static void *sc_env_victim_main(void *arg)
{
	switch (sc_env_fault) {
	case SC_ENV_SEGV_CALLED:
		sqt_callback(sc_env_nop, NULL);
		sc_env_fire("null store after a callback");
		*sc_env_null = 1;
		break;
	case SC_ENV_SEGV_NEVER:
		sc_env_fire("null store on a thread that never called in");
		*sc_env_null = 1;
		break;
	case SC_ENV_SEGV_CALLBACK:
		sqt_callback(sc_env_store_null, NULL);
		break;
	default:
		sqt_callback(sc_env_spin, (void *)(long)(sc_env_fault == SC_ENV_SEGV_SENT_GO));
	}
	return NULL;
}

/* The sender for the sent-signal axes: waits until the victim is inside. */
static void *sc_env_sender_main(void *arg)
{
	for (int i = 0; i < 2000 && !sc_env_victim; i++)
		sc_env_sleep_us(1000);
	if (!sc_env_victim)
		return NULL;
	sc_env_sleep_us(5000);
	sc_env_fire("tgkill");
	syscall(SYS_tgkill, getpid(), sc_env_victim, sc_env_sig[sc_env_fault]);
	sc_env_sleep_us(200000);
	sc_env_release = 1;
	return NULL;
}

/* ---- start and finish ------------------------------------------------------ */

SC_ENV_FN_ void sc_env_spawn(void *(*fn)(void *))
{
	pthread_t t;

	if (pthread_create(&t, NULL, fn, NULL) == 0)
		pthread_detach(t);
}

/* The runtime is up: release the pre-init threads, start the rest. Once. */
SC_ENV_FN_ void sc_env_runtime_up(void)
{
	pthread_mutex_lock(&sc_env_mu);
	if (sc_env_up) {
		pthread_mutex_unlock(&sc_env_mu);
		return;
	}
	sc_env_up = 1;
	pthread_cond_broadcast(&sc_env_cv);
	pthread_mutex_unlock(&sc_env_mu);
	if (sc_env_handlers() >= 0) {
		sc_env_spawn(sc_env_caller_main);
	} else if (sc_env_altstack_axis() >= 0 || sc_env_has(SC_ENV_SIGMASK)) {
		pthread_t t;	/* one caller with the host's stack and mask, whatever the scenario has */

		if (sc_env_pthread_create(&t, NULL, sc_env_caller_main, NULL) == 0)
			pthread_detach(t);
	}
	if (sc_env_handlers() >= 0)
		sc_env_spawn(sc_env_prober_main);
	if (sc_env_has(SC_ENV_THREAD_EXIT))
		sc_env_spawn(sc_env_churn_main);
	if (sc_env_fault == SC_ENV_EXIT_IN_CALLBACK)
		sc_env_spawn(sc_env_exit_in_callback_main);
	else if (sc_env_fault >= 0)
		sc_env_spawn(sc_env_victim_main);
	if (sc_env_fault >= 0 && sc_env_is_sent(sc_env_fault))
		sc_env_spawn(sc_env_sender_main);
}

SC_ENV_FN_ int sc_env_recent(const struct timespec *t, long ns)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000000000L + (now.tv_nsec - t->tv_nsec) < ns;
}

/* Sleep where the runtime may run other work meanwhile: a scenario's main
 * routine holds a P (a foreign thread's callback may need it). */
SC_ENV_FN_ void sc_env_nap(void)
{
	struct timespec ms = { 0, 1000 * 1000 };

	sqt_syscall_block(SYS_nanosleep, (long)&ms, 0, 0);
}

/* Before a quiescent check (sc_finish): the axes' threads stop calling in,
 * the callbacks in flight end, and the threads that called in exit (each
 * at most about two seconds), so the check counts the scenario's own
 * goroutines and Ms only. */
SC_ENV_FN_ void sc_env_quiesce(void)
{
	sc_env_stop = 1;
	for (int i = 0; i < 2000 && __atomic_load_n(&sc_env_incall, __ATOMIC_ACQUIRE); i++)
		sc_env_nap();
	for (int i = 0; i < 2000 && __atomic_load_n(&sc_env_live, __ATOMIC_ACQUIRE) > 0; i++)
		sc_env_nap();
}

/* A scenario can be done before the fault axis's thread has even run: a
 * process that exits then has not "gone on" after the fault. Wait until it
 * fired (5 s at most), and until 500 ms after, time for the death it owes
 * to land (a fatal error's dump, a forced unwind, a key destructor). Until
 * it fired the naps are blocking system calls through the target, so the
 * waiting G gives up its P to the axis's thread; after, plain sleeps: this
 * may be the runtime's own exit after its fatal error (gccgo's ends in the
 * C library's exit when its abort was dropped, as PID 1), and a call into
 * a runtime that stopped the world never returns. */
SC_ENV_FN_ void sc_env_await_fault(void)
{
	for (int i = 0; i < 5000 && !__atomic_load_n(&sc_env_fired, __ATOMIC_ACQUIRE); i++)
		sc_env_nap();
	while (sc_env_fired && sc_env_recent(&sc_env_fired_at, 500000000))
		sc_env_sleep_us(1000);
}

/* Set by sc_skip: the mode never ran, so there is nothing for the axes to
 * judge (the harness reads the skip record alone), and no fault to wait
 * for: a skipped run under a fault axis used to spend the 5 s wait on it. */
static int sc_env_skipping;

/* At exit: what the axes saw. A failed check turns the exit status to 1. */
static void sc_env_atexit(void)
{
	int h = sc_env_handlers();

	if (sc_env_skipping)
		return;

	if (sc_env_fault >= 0 && sc_env_expect[sc_env_fault] != SC_ENV_CLEAN && !sc_env_has(SC_ENV_PID1))
		sc_env_await_fault();
	sc_env_stop = 1;
	if (h >= 0) {
		for (int i = 0; i < 4; i++) {
			int sig = sc_env_hostsig[i];
			long n = sc_env_called[sig], sent = sc_env_sent[sig];
			int ok = h == SC_ENV_HANDLERS_ONESHOT ? n <= 1 : 1;

			int moot = sig == SIGPROF && n == 0 && sc_env_prof_after_send;

			/* A single send in the last 5 ms may still be on its way. */
			if (n == 0 && sent > 0 && !moot && !(sent == 1 && sc_env_recent(&sc_env_sent_at[sig], 5000000)))
				ok = 0;
			sc_env_check(h, ok, "host %s handler called %ld time%s, %ld sent%s", strsignal(sig), n,
				n == 1 ? "" : "s", sent, moot ? " (not judged: profiling began after a send)" :
				ok ? "" : h == SC_ENV_HANDLERS_ONESHOT ? " (want exactly 1 per send)" : " (want at least 1)");
		}
		if (sc_env_badinfo)
			sc_env_check(h, 0, "host SA_SIGINFO handlers got a wrong si_signo %ld times", sc_env_badinfo);
	}
	if (sc_env_has(SC_ENV_PREINIT))
		sc_env_check(SC_ENV_PREINIT, 1, "pre-init threads made %ld of 40 callbacks before exit",
			sc_env_preinit_calls);
	if (sc_env_calls || sc_env_preinit_calls)
		sc_env_check(__builtin_ctz(sc_env_on), sc_env_wrong == 0, "%ld env callbacks, %ld returned a wrong value",
			sc_env_calls + sc_env_preinit_calls, sc_env_wrong);
	if (sc_env_owed() != SC_ENV_CLEAN) {
		sc_env_await_fault();
		sc_env_check(sc_env_fault, 0, "the process went on to exit normally");
	}
	if (sc_env_bad)
		_exit(1);	/* SC_WRONG */
}

/* The axes from /proc/self/cmdline: a constructor runs before main has
 * argv, and must, to come before a runtime's own constructor. */
SC_ENV_FN_ void sc_env_parse(const char *list, int strict)
{
	char buf[sizeof sc_env_list], *save, *tok;

	snprintf(sc_env_list, sizeof sc_env_list, "%s", list);
	snprintf(buf, sizeof buf, "%s", list);
	sc_env_on = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int a;

		for (a = 0; a < SC_ENV_N && strcmp(tok, sc_env_name[a]); a++)
			;
		if (a == SC_ENV_N) {
			if (strict) {
				fprintf(stderr, "unknown environment axis: %s; one of:", tok);
				for (a = 0; a < SC_ENV_N; a++)
					fprintf(stderr, " %s", sc_env_name[a]);
				fprintf(stderr, "\n");
				exit(64);
			}
			continue;
		}
		sc_env_on |= 1u << a;
		if (sc_env_fault < 0 && sc_env_expect[a] != SC_ENV_CLEAN)
			sc_env_fault = a;
	}
}

__attribute__((constructor(101), no_instrument_function, no_split_stack))
static void sc_env_ctor(void)
{
	char buf[4096];
	ssize_t n;
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	for (char *p = buf; p < buf + n; p += strlen(p) + 1)
		if (strcmp(p, "--env") == 0 && p + strlen(p) + 1 < buf + n)
			sc_env_parse(p + strlen(p) + 1, 0);
	if (!sc_env_on)
		return;
	if (sc_env_handlers() >= 0)
		sc_env_install_handlers(sc_env_handlers());
	if (sc_env_has(SC_ENV_PREINIT)) {
		sc_env_spawn(sc_env_preinit_main);
		sc_env_spawn(sc_env_preinit_main);
	}
}

/* The hook sc_begin calls first: takes "--env LIST" out of argv (returns
 * the new argc), prints the axes with --describe, checks PID 1, and says
 * what the run must end in. */
SC_ENV_FN_ int sc_env_begin(int argc, char **argv)
{
	sq_rec r;
	int j = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--describe") == 0)
			for (int a = 0; a < SC_ENV_N; a++) {
				rec_begin(&r, "envaxis");
				rec_str(&r, "name", sc_env_name[a]);
				rec_str(&r, "expect", sc_env_expname[sc_env_expect[a]]);
				rec_int(&r, "signal", sc_env_sig[a]);
				rec_str(&r, "what", sc_env_what[a]);
				rec_end(&r, 1);
			}
		if (strcmp(argv[i], "--env") == 0 && i + 1 < argc) {
			sc_env_parse(argv[++i], 1);
			continue;
		}
		argv[j++] = argv[i];
	}
	argv[j] = NULL;
	if (!sc_env_on)
		return j;
	if (sc_env_has(SC_ENV_PID1) && getpid() != 1) {
		fprintf(stderr, "--env pid1: this process is PID %d, not 1: run it as harness/sq-pid1 %s ...\n",
			(int)getpid(), argv[0]);
		exit(64);
	}
	sc_env_main_tid = (pid_t)syscall(SYS_gettid);
	rec_begin(&r, "env");
	rec_str(&r, "axes", sc_env_list);
	if (sc_env_owed() == SC_ENV_CLEAN) {
		rec_str(&r, "expect", "scenario");
	} else {
		rec_str(&r, "expect", sc_env_expname[sc_env_expect[sc_env_fault]]);
		rec_int(&r, "signal", sc_env_sig[sc_env_fault]);
	}
	rec_end(&r, 1);
	atexit(sc_env_atexit);
	return j;
}

/* ---- the scenario's calls the axes wrap ----------------------------------- */

SC_ENV_FN_ int sc_env_sqt_init(void)
{
	int r = sqt_init();

	if (sc_env_on)
		sc_env_runtime_up();
	return r;
}

static sqt_fn sc_env_mainfn;

static int sc_env_main_body(void *arg)
{
	sc_env_runtime_up();
	return sc_env_mainfn(arg);
}

SC_ENV_FN_ _Noreturn void sc_env_sqt_main(sqt_fn fn, void *arg)
{
	if (!sc_env_on)
		sqt_main(fn, arg);
	sc_env_mainfn = fn;
	sqt_main(sc_env_main_body, arg);
}

SC_ENV_FN_ void sc_env_sqt_profile(int hz)
{
	pthread_mutex_lock(&sc_env_prof_mu);
	if (hz > 0 && sc_env_sent[SIGPROF])
		sc_env_prof_after_send = 1;
	sc_env_profiling = hz > 0;
	pthread_mutex_unlock(&sc_env_prof_mu);
	sqt_profile(hz);
}

#define sqt_init() sc_env_sqt_init()
#define sqt_main(fn, arg) sc_env_sqt_main(fn, arg)
#define sqt_profile(hz) sc_env_sqt_profile(hz)
#define pthread_create(t, attr, fn, arg) sc_env_pthread_create(t, attr, fn, arg)

#undef SC_ENV_FN_
#endif
