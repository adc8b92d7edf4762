/*
 * rt_fatal.c: produce every entry of the fatal-error table on purpose.
 *
 * Each subcommand drives the runtime into one check; the pytest driver runs
 * it and expects exit status 2 with "fatal error: <message>" on stderr. A
 * subcommand that returns instead prints FAIL: the check did not fire.
 */
#define _GNU_SOURCE
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

static int wrong_sigstack(void *unused)
{
	static char other[1 << 16];
	stack_t st = { .ss_sp = other, .ss_size = sizeof other };

	sigaltstack(&st, NULL);	/* ... or replaces it with its own */
	raise(SIGURG);
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
	{ "misuse", misuse, 1, "WHAT: sq_harness_misuse(WHAT)" },
	{ "systemstack-gsignal", systemstack_gsignal, 1, "systemstack called from signal stack" },
	{ "stackalloc-fails", stackalloc_fails, 1, "out of memory allocating stack (run with a low RLIMIT_AS)" },
	{ "deadlock", deadlock, 1, "all goroutines are asleep - deadlock!" },
	{ "no-sigstack", no_sigstack, 1, "signal arrived on a thread with no signal stack" },
	{ "wrong-sigstack", wrong_sigstack, 1, "signal handler not running on the signal stack" },
	{ "segv", segv, 1, "unexpected signal" },
	{ "callback-on-g", callback_on_g, 1, "callback from a goroutine stack" },
	{ "main-twice", main_twice, 1, "sq_main called twice" },
	{ "not-init", not_init, 0, "runtime not initialized" },
	{ "yield-foreign", yield_foreign, 0, "bad argument to runtime call" },
	{ "leak", leak, 1, "invariant violated" },
	{ NULL, NULL, 0, NULL },
};

int main(int argc, char **argv)
{
	install_handlers();
	return rt_main(argc, argv, cases);
}
