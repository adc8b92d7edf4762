//! only sq
//! expect clean
/* ---- sc_stackdepth, mode near ---------------------------------------------
 * Recursion, in frames with split checks, to within a page of the G's stack
 * limit (sq_stack_left) and back, again and again: clean. */

enum { FRAME = 512, PAGE_ = 4096 };

static long deepest;

/* One split-checked frame, touched all the way down. */
__attribute__((noinline)) static long down(long to_use, uintptr_t sp0)
{
	volatile char frame[FRAME];
	uintptr_t sp = (uintptr_t)&frame[0];
	long used = (long)(sp0 - sp);

	frame[0] = frame[FRAME - 1] = (char)to_use;
	if (used > deepest)
		deepest = used;
	if (used + 2 * FRAME < to_use)
		return down(to_use, sp0) + frame[0] - frame[FRAME - 1];
	return 0;
}

static int g_main(void *arg)
{
	long left = (long)sq_stack_left();
	uintptr_t sp0 = (uintptr_t)__builtin_frame_address(0);

	if (left <= 4 * PAGE_)
		finish(1, 0);
	for (long i = 0; i < iters; i++)
		down(left - PAGE_, sp0);
	finish(0, 1);
}

int main(void)
{
	begin();
	sq_main(g_main, NULL);
}
