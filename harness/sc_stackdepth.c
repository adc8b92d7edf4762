/*
 * sc_stackdepth: a G's stack right up to its declared limit, and past it.
 *
 * The target says how much stack a G may still use (sqt_stack_left: down to
 * the point where its split checks report an overflow). Modes:
 *   near   recurse, in frames with split checks, to within a page or so of the
 *          limit and back, again and again: clean. A limit enforced a few
 *          KiB too early shows here; every 100th time the bottom stays 50 ms
 *          in split-checked calls (dwell), so that a preemption request is
 *          taken there too, where the check's slow path runs.
 *   over   recurse one page past the limit, then return: the runtime owes
 *          its overflow error before that. A limit enforced a few KiB too
 *          late lets the recursion come back, and the expected error never
 *          comes.
 *   guard  recurse in frames without split checks until the guard page
 *          below the stack: the runtime owes its overflow error for the
 *          fault there too, not a crash.
 * Frames are touched all the way down, so every page is really used.
 */
#include "scenario.h"

static const sc_info info = {
	"sc_stackdepth", "recursion to within two pages of a G's stack limit, and past it",
	"near|over|guard", 200, 0, 20,
};

enum { FRAME = 512, PAGE_ = 4096 };

static long deepest;

__attribute__((noinline)) static long tock(long x)
{
	__asm__ volatile("" : "+r"(x));	/* a call the compiler must keep */
	return x * 3 + 1;
}

/* Not a leaf: compilers leave the split check out of small leaf
 * functions (LLVM's split stacks do). */
__attribute__((noinline)) static long tick(long x)
{
	return tock(x) ^ 1;
}

/* At the deepest point of "near": stay 50 ms, in split-checked calls
 * from a frame that leaves less room below than an asynchronous
 * preemption needs, so that the runtime's preemption request (sysmon's,
 * after 10 ms of running) is taken here, by the split check's slow path,
 * which must tell a preemption from an overflow a page from the limit. */
__attribute__((noinline)) static long dwell(void)
{
	volatile char pad[3 * PAGE_ / 4];
	int64_t end = sc_mono_ns() + 50000000;
	long x = 0;

	pad[0] = pad[sizeof pad - 1] = 1;
	__asm__ volatile("" : : "r"(pad) : "memory");	/* the frame stays whole */
	while (sc_mono_ns() < end)
		for (int i = 0; i < 1000; i++)
			x = tick(x);
	return x & pad[0];
}

/* One split-checked frame; depth counts down to the bytes left to use. */
__attribute__((noinline)) static long down(long to_use, uintptr_t sp0, int stay)
{
	volatile char frame[FRAME];
	uintptr_t sp = (uintptr_t)&frame[0];
	long used = (long)(sp0 - sp);

	frame[0] = frame[FRAME - 1] = (char)to_use;
	if (used > deepest)
		deepest = used;
	if (used + 2 * FRAME < to_use)
		return down(to_use, sp0, stay) + frame[0] - frame[FRAME - 1];
	return stay ? dwell() & 0 : 0;
}

/* The same without a split check: only the guard page stops it (n never
 * reaches the bound: the stack is smaller than that). */
__attribute__((noinline, no_instrument_function, no_split_stack)) static long down_nosplit(long n)
{
	volatile char frame[FRAME];

	frame[0] = frame[FRAME - 1] = (char)n;
	if (n > (1L << 40))
		return 0;
	return down_nosplit(n + 1) + frame[0] - frame[FRAME - 1];
}

static int g_main(void *arg)
{
	long left = sqt_stack_left();
	uintptr_t sp0 = (uintptr_t)__builtin_frame_address(0);

	(void)arg;
	if (left == -ENOSYS)
		sc_skip("the target's C does not run on G stacks (sqt_stack_left)");
	if (left <= 4 * PAGE_)
		sc_finish(SC_WRONG, 0);
	sc_event("LIMIT left=%ld", left);
	if (sc_mode("guard"))
		down_nosplit(0);
	for (long i = 0; i < sc.iters; i++, sc_tick()) {
		if (sc_mode("near"))
			down(left - PAGE_, sp0, i % 100 == 0);
		else
			down(left + PAGE_, sp0, 0);
	}
	sc_event("DEPTH deepest=%ld left=%ld", deepest, left);
	sc_finish(SC_CLEAN, 1);
}

int main(int argc, char **argv)
{
	sc_begin(argc, argv, &info);
	if (sc_mode("near"))
		sc_expect_clean();
	else
		sc_expect_fatal(SQ_F_STACK_OVERFLOW);
	sqt_main(g_main, NULL);
}
