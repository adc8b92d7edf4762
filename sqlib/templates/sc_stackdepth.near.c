//! only sq
//! expect clean
/* ---- sc_stackdepth, mode near ---------------------------------------------
 * Recursion, in frames with split checks, to within a page of the G's stack
 * limit (sq_stack_left) and back, again and again, now and then staying at
 * the bottom while a preemption request comes: clean. */

enum { FRAME = 512, PAGE_ = 4096 };

static long deepest;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

__attribute__((noinline)) static long tock(long x)
{
	__asm__ volatile("" : "+r"(x));
	return x * 3 + 1;
}

__attribute__((noinline)) static long tick(long x)
{
	return tock(x) ^ 1;
}

/* At the bottom, now and then: 50 ms of split-checked calls from a frame
 * too deep for an asynchronous preemption, so a preemption request is
 * taken by the split check's slow path a page from the limit. */
__attribute__((noinline)) static long dwell(void)
{
	volatile char pad[3 * PAGE_ / 4];
	int64_t end = now_ns() + 50000000;
	long x = 0;

	pad[0] = pad[sizeof pad - 1] = 1;
	__asm__ volatile("" : : "r"(pad) : "memory");
	while (now_ns() < end)
		for (int i = 0; i < 1000; i++)
			x = tick(x);
	return x & pad[0];
}

/* One split-checked frame, touched all the way down. */
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

static int g_main(void *arg)
{
	long left = (long)sq_stack_left();
	uintptr_t sp0 = (uintptr_t)__builtin_frame_address(0);

	if (left <= 4 * PAGE_)
		finish(1, 0);
	for (long i = 0; i < iters; i++)
		down(left - PAGE_, sp0, i % 100 == 0);
	finish(0, 1);
}

int main(void)
{
	begin();
	sq_main(g_main, NULL);
}
