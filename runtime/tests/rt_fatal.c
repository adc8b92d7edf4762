/*
 * rt_fatal.c: produce every entry of the fatal-error table on purpose.
 *
 * Each subcommand drives the runtime into one check; the pytest driver runs
 * it and expects exit status 2 with "fatal error: <message>" on stderr. A
 * subcommand that returns instead prints FAIL: the check did not fire.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rt_test.h"

static int reached(void)
{
	return rt_fail("the runtime did not stop this");
}

/* Frames with a split check each, until the guard says no more. */
__attribute__((noinline)) static long recurse(long n)
{
	volatile char pad[256];

	pad[0] = (char)n;
	if (n == 0)
		return pad[0];
	return recurse(n - 1) + pad[0];
}

static int split_in_syscall(void *unused)
{
	if (sq_fault_arm("entersyscall.poisoned:split") != 0)
		return rt_fail("arming failed");
	sq_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
	return reached();
}

static int deep_c(void *arg)
{
	return (int)recurse(1 << 20);
}

static int morestack_g0(void *unused)
{
	sq_ccall(deep_c, NULL);	/* C on g0 that was compiled with split checks */
	return reached();
}

static void deep_handler(int sig)
{
	recurse(1 << 20);
}

static int morestack_gsignal(void *unused)
{
	raise(SIGUSR2);		/* forwarded to deep_handler, on gsignal */
	return reached();
}

static int overflow(void *unused)
{
	recurse(1 << 20);
	return reached();
}

/* C without split checks overflowing: it runs into the guard page. */
__attribute__((noinline, no_instrument_function, no_split_stack)) static long unchecked(long n)
{
	volatile char pad[1024];

	pad[0] = (char)n;
	pad[sizeof pad - 1] = (char)n;
	if (n == 0)
		return pad[0];
	return unchecked(n - 1) + pad[0];
}

static int overflow_g(void *arg)
{
	recurse(1 << 20);
	return reached();
}

/* The same on a G spawned with a stack of ARG bytes: the message names
 * the G and its size. */
static int overflow_spawned(void *unused)
{
	sq_chan *c = sq_chan_new(0);
	uintptr_t v;

	if (sq_spawn_stack(overflow_g, NULL, (size_t)rt_argl(128 << 10)) != 0)
		return rt_fail("sq_spawn_stack refused the size");
	sq_chan_recv(c, &v);
	return reached();
}

static int mutex_unlocked(void *unused)
{
	sq_mutex *mu = sq_mutex_new();

	sq_mutex_lock(mu);
	sq_mutex_unlock(mu);
	sq_mutex_unlock(mu);
	return reached();
}

static int overflow_guardpage(void *unused)
{
	unchecked(1 << 20);
	return reached();
}

static int nop(void *arg)
{
	return 0;
}

/* Break the named rule, then give the runtime reasons to start an M. */
static int misuse(void *arg)
{
	if (sq_harness_misuse(rt_arg) != 0)
		return rt_fail("sq_harness_misuse refused");
	for (int i = 0; i < 100; i++) {
		sq_spawn(nop, NULL);
		sq_yield();
	}
	return reached();
}

static int systemstack_gsignal(void *unused)
{
	if (sq_fault_arm("sighandler.dispatch:systemstack") != 0)
		return rt_fail("arming failed");
	raise(SIGURG);
	return reached();
}

static int deadlock(void *unused)
{
	sq_chan *c = sq_chan_new(0);
	uintptr_t v;

	sq_chan_recv(c, &v);
	return reached();
}

static int stackalloc_fails(void *unused)
{
	for (int i = 0; i < 1000000; i++)
		sq_spawn(deadlock, NULL);	/* each parks, keeping its stack */
	return reached();
}

static int no_sigstack(void *unused)
{
	stack_t st = { .ss_flags = SS_DISABLE };

	sigaltstack(&st, NULL);	/* non-runtime code turns the signal stack off */
	raise(SIGURG);
	return reached();
}

/* A handler installed after the runtime without SA_ONSTACK, that calls
 * the runtime's: the runtime's handler runs on the G's stack while the
 * thread does have a signal stack (Go: "non-Go code set up signal handler
 * without SA_ONSTACK flag"). A signal stack the thread put in itself would
 * be used (test_callback.py: own-sigstack). */
static struct sigaction rtsa;

static void offstack(int sig, siginfo_t *info, void *uc)
{
	rtsa.sa_sigaction(sig, info, uc);
}

static int handler_off_sigstack(void *unused)
{
	struct sigaction sa = { 0 };

	sigaction(SIGPROF, NULL, &rtsa);
	sa.sa_sigaction = offstack;
	sa.sa_flags = SA_SIGINFO;	/* no SA_ONSTACK */
	sigaction(SIGPROF, &sa, NULL);
	raise(SIGPROF);
	return reached();
}

static int segv(void *unused)
{
	*(volatile int *)(uintptr_t)8 = 1;
	return reached();
}

static int callback_on_g(void *unused)
{
	sq_callback(nop, NULL);
	return reached();
}

static int main_twice(void *unused)
{
	sq_main(nop, NULL);
}

static int not_init(void *unused)
{
	sq_yield();
	return reached();
}

static int yield_foreign(void *unused)
{
	sq_init();
	sq_yield();
	return reached();
}

static int leak(void *unused)
{
	sq_spawn(deadlock, NULL);
	sq_yield();
	sq_check_or_throw(1);
	return reached();
}

/* ---- threads that die or end where they must not -------------------- */

static int exit_inside(void *arg)
{
	pthread_exit(NULL);
}

static void *exit_in_callback_thread(void *arg)
{
	sq_callback(exit_inside, NULL);
	return NULL;
}

/* pthread_exit from a callback: the runtime's frames, G and P would go
 * with the thread. */
static int thread_exit(void *unused)
{
	pthread_t t;

	sq_init();
	pthread_create(&t, NULL, exit_in_callback_thread, NULL);
	pthread_join(t, NULL);
	return reached();
}

static int goexit_now(void *arg)
{
	sq_goexit();
}

static void *goexit_thread(void *arg)
{
	sq_callback(goexit_now, NULL);
	return NULL;
}

/* sq_goexit in a callback from a foreign thread (Go's TestCgoToGoCallGoexit). */
static int goexit_callback(void *unused)
{
	pthread_t t;

	sq_init();
	pthread_create(&t, NULL, goexit_thread, NULL);
	pthread_join(t, NULL);
	return reached();
}

static int call_goexit(void *arg)
{
	return sq_callback(goexit_now, NULL);
}

/* ... and in one from C run by sq_ccall, on the G that made the outcall. */
static int goexit_nested(void *unused)
{
	sq_ccall(call_goexit, NULL);
	return reached();
}

static int short_lived(void *arg)
{
	sq_sleep(1000000);
	return 0;
}

/* The main G ends with sq_goexit; its other G finishes; nothing is left
 * (Go's TestGoexitCrash: "no goroutines (main called runtime.Goexit)"). With
 * ARG "locked" it is locked to its thread first, so its M ends with it. */
static int goexit_main(void *unused)
{
	if (rt_arg && strcmp(rt_arg, "locked") == 0)
		sq_lockosthread();
	sq_spawn(short_lived, NULL);
	sq_goexit();
}

static int once(void *arg)
{
	return 1;
}

static void *call_once(void *arg)
{
	sq_callback(once, NULL);
	return NULL;
}

/* A program that made a callback long ago, from a thread that has since
 * exited, then blocks for good: nothing can call in any more. */
static int deadlock_after_callback(void *unused)
{
	pthread_t t;

	pthread_create(&t, NULL, call_once, NULL);
	pthread_join(t, NULL);
	return deadlock(NULL);
}

static void install_handlers(void)
{
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, deep_handler);
}

static const rt_case cases[] = {
	{ "split-in-syscall", split_in_syscall, 1, "stack split at bad time" },
	{ "morestack-g0", morestack_g0, 1, "morestack on g0" },
	{ "morestack-gsignal", morestack_gsignal, 1, "morestack on gsignal" },
	{ "overflow", overflow, 1, "stack overflow (split check)" },
	{ "overflow-guardpage", overflow_guardpage, 1, "stack overflow (guard page)" },
	{ "overflow-spawned", overflow_spawned, 1, "[SIZE] stack overflow on a G spawned with SIZE bytes" },
	{ "mutex-unlocked", mutex_unlocked, 1, "bad argument: unlock of an unlocked sq_mutex" },
	{ "misuse", misuse, 1, "WHAT: sq_harness_misuse(WHAT)" },
	{ "systemstack-gsignal", systemstack_gsignal, 1, "systemstack called from signal stack" },
	{ "stackalloc-fails", stackalloc_fails, 1, "out of memory allocating stack (run with a low RLIMIT_AS)" },
	{ "deadlock", deadlock, 1, "all goroutines are asleep - deadlock!" },
	{ "deadlock-after-callback", deadlock_after_callback, 1, "deadlock after a callback from a thread that has exited" },
	{ "no-sigstack", no_sigstack, 1, "signal arrived on a thread with no signal stack" },
	{ "handler-off-sigstack", handler_off_sigstack, 1, "signal handler not running on the signal stack" },
	{ "segv", segv, 1, "unexpected signal" },
	{ "callback-on-g", callback_on_g, 1, "callback from a goroutine stack" },
	{ "main-twice", main_twice, 1, "sq_main called twice" },
	{ "not-init", not_init, 0, "runtime not initialized" },
	{ "yield-foreign", yield_foreign, 0, "bad argument to runtime call" },
	{ "leak", leak, 1, "invariant violated" },
	{ "thread-exit", thread_exit, 0, "thread exited with runtime frames on its stack" },
	{ "goexit-callback", goexit_callback, 0, "goexit inside a callback (foreign thread)" },
	{ "goexit-nested", goexit_nested, 1, "goexit inside a callback (from sq_ccall's C)" },
	{ "goexit-main", goexit_main, 1, "[locked] no goroutines (main called sq_goexit)" },
	{ NULL, NULL, 0, NULL },
};

int main(int argc, char **argv)
{
	install_handlers();
	return rt_main(argc, argv, cases);
}
