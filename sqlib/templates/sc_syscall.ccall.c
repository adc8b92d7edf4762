//! expect clean
/* ---- sc_syscall, mode ccall -----------------------------------------------
 * Gs run C through outcalls (sq_ccall, inside a syscall window); one call
 * in four calls back in, on the same G. Then spinners hog the Ps while a
 * G keeps making syscalls. */

enum { NPIPES = 4, NSPIN = 2 };

static int pipes[NPIPES][2];
static sq_wg *wg;
static volatile int spinning = 1;

__attribute__((noinline)) static long burn(long x)
{
	return x * 2654435761u + 1;
}

static int spinner(void *arg)
{
	long x = 0;

	while (spinning)
		x = burn(x);
	sq_wg_done(wg);
	return (int)x;
}

static int inner(void *arg)
{
	sq_syscall(SYS_getppid, 0, 0, 0, 0, 0, 0);
	return (int)(long)arg + 1;
}

static int cside(void *arg)
{
	long v = (long)arg;

	if (v % 4 == 0)
		return callback(inner, arg);	/* back in, on the same G */
	syscall(SYS_sched_yield);
	return (int)v + 1;
}

static int outcaller(void *arg)
{
	long bad = 0;

	for (long i = 0; i < iters / 4; i++)
		bad += sq_ccall(cside, (void *)i) != i + 1;
	sq_wg_done(wg);
	return (int)bad;
}

static int g_main(void *arg)
{
	long i;

	wg = sq_wg_new();
	for (i = 0; i < NPIPES; i++)
		if (pipe(pipes[i]) < 0)
			finish(1, 0);
	sq_wg_add(wg, 4);
	for (i = 0; i < 4; i++)
		sq_spawn(outcaller, NULL);
	sq_wg_wait(wg);
	sq_wg_add(wg, NSPIN);
	for (i = 0; i < NSPIN; i++)
		sq_spawn(spinner, NULL);
	for (i = 0; i < 200; i++)
		sq_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);	/* while the spinners hog Ps */
	spinning = 0;
	sq_wg_wait(wg);
	finish(0, 1);
}

int main(void)
{
	begin();
	sq_main(g_main, NULL);
}
