/*
 * anchors.c: the C anchors the runtime's numbers are compared with. No
 * runtime here: plain C on the main thread.
 *
 * usage: anchors NAME [-n ITERS] [-r ROUNDS]     (anchors list: the names)
 *
 *   boost-jump    Boost.Context jump_fcontext ping-pong between the main
 *                 stack and a fiber: a register-only switch; ns per switch
 *   swapcontext   glibc swapcontext ping-pong: saves and restores the signal
 *                 mask with a sigprocmask system call; ns per switch
 *   getpid-raw    getpid through libc's syscall(); ns per call
 *   call-ptr      an empty function called through a pointer; ns per call
 *
 * Output: RESULT lines (see bench.h). Exit codes: 0, 1 failure, 2 usage.
 */
#define _GNU_SOURCE
#include <fenv.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "bench.h"

enum { FIBER_STACK = 64 << 10 };

static volatile long sink;

/* ---- Boost.Context: the C-callable half of its fcontext API ---------------- */

#include "fcontext.h"

static fcontext_t fiber;

/* Jump straight back to whoever jumped here, forever. */
static void fiber_main(transfer_t t)
{
	for (;;)
		t = jump_fcontext(t.fctx, NULL);
}

/* One iteration: main → fiber → main, two switches. */
static void body_boost(long n)
{
	long i;

	for (i = 0; i < n; i++)
		fiber = jump_fcontext(fiber, NULL).fctx;
}

static int bench_boost(long n, int rounds)
{
	char *stack = malloc(FIBER_STACK);

	if (!stack)
		return 1;
	/* The fiber inherits MXCSR now: with clear flags, like every round. */
	feclearexcept(FE_ALL_EXCEPT);
	/* make_fcontext takes the top of the stack: it grows down. */
	fiber = make_fcontext(stack + FIBER_STACK, FIBER_STACK, fiber_main);
	bench_measure("boost-jump", body_boost, n, 2, rounds);
	return 0;
}

/* ---- glibc ucontext ----------------------------------------------------- */

static ucontext_t main_uc, co_uc;

static void co_main(void)
{
	for (;;)
		swapcontext(&co_uc, &main_uc);
}

static void body_swapcontext(long n)
{
	long i;

	for (i = 0; i < n; i++)
		swapcontext(&main_uc, &co_uc);
}

static int bench_swapcontext(long n, int rounds)
{
	char *stack = malloc(FIBER_STACK);

	feclearexcept(FE_ALL_EXCEPT);
	if (!stack || getcontext(&co_uc) < 0)
		return 1;
	co_uc.uc_stack.ss_sp = stack;
	co_uc.uc_stack.ss_size = FIBER_STACK;
	co_uc.uc_link = NULL;
	makecontext(&co_uc, co_main, 0);
	bench_measure("swapcontext", body_swapcontext, n, 2, rounds);
	return 0;
}

/* ---- system call and plain call ---------------------------------------- */

static void body_getpid(long n)
{
	long i;

	for (i = 0; i < n; i++)
		sink += syscall(SYS_getpid);
}

static int bench_getpid(long n, int rounds)
{
	bench_measure("getpid-raw", body_getpid, n, 1, rounds);
	return 0;
}

__attribute__((noinline)) static void empty(void)
{
	__asm__ volatile("");
}

/* Read once through a volatile, so the compiler cannot see the target. */
static void (*volatile empty_ptr)(void) = empty;

static void body_callptr(long n)
{
	void (*f)(void) = empty_ptr;
	long i;

	for (i = 0; i < n; i++)
		f();
}

static int bench_callptr(long n, int rounds)
{
	bench_measure("call-ptr", body_callptr, n, 1, rounds);
	return 0;
}

/* ---- driver ----------------------------------------------------------- */

typedef struct Anchor {
	const char *name;
	int (*run)(long n, int rounds);
	long iters;
} Anchor;

static const Anchor anchors[] = {
	{ "boost-jump",  bench_boost,       5000000 },
	{ "swapcontext", bench_swapcontext, 100000 },
	{ "getpid-raw",  bench_getpid,      300000 },
	{ "call-ptr",    bench_callptr,     20000000 },
};

static int usage(void)
{
	size_t i;

	fprintf(stderr, "usage: anchors NAME [-n ITERS] [-r ROUNDS]\n       anchors list\nnames:");
	for (i = 0; i < sizeof anchors / sizeof anchors[0]; i++)
		fprintf(stderr, " %s", anchors[i].name);
	fprintf(stderr, "\n");
	return 2;
}

int main(int argc, char **argv)
{
	BenchOpts o;
	size_t i;

	if (argc >= 2 && strcmp(argv[1], "list") == 0) {
		for (i = 0; i < sizeof anchors / sizeof anchors[0]; i++)
			printf("%s\n", anchors[i].name);
		return 0;
	}
	if (argc < 2 || bench_opts(argc, argv, 2, &o) < 0)
		return usage();
	for (i = 0; i < sizeof anchors / sizeof anchors[0]; i++)
		if (strcmp(argv[1], anchors[i].name) == 0)
			return anchors[i].run(bench_iters(&o, anchors[i].iters), o.rounds) ? 1 : 0;
	return usage();
}
