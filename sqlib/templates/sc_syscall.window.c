//! expect clean
/* ---- sc_syscall, mode window ----------------------------------------------
 * Gs inside syscall windows under pressure: short syscalls in a loop,
 * blocking reads on pipes that other Gs write, spinners that sysmon must
 * preempt while a G keeps making syscalls. */

enum { NPIPES = 4, NSPIN = 2 };

static int pipes[NPIPES][2];
static sq_wg *wg;
static volatile int spinning = 1;
static long nsys, nread;

__attribute__((noinline)) static long burn(long x)
{
	return x * 2654435761u + 1;
}

static int syscaller(void *arg)
{
	for (long i = 0; i < iters; i++) {
		if (sq_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0) <= 0)
			return sq_wg_done(wg), 0;
		__atomic_add_fetch(&nsys, 1, __ATOMIC_RELAXED);
		if (randn(32) == 0)
			sq_yield();
	}
	sq_wg_done(wg);
	return 0;
}

static int reader(void *arg)
{
	int fd = pipes[(long)arg][0];
	char c;

	for (long i = 0; i < iters / 10; i++)
		if (sq_syscall_block(SYS_read, fd, (long)&c, 1, 0, 0, 0) == 1)
			__atomic_add_fetch(&nread, 1, __ATOMIC_RELAXED);
	sq_wg_done(wg);
	return 0;
}

static int writer(void *arg)
{
	int fd = pipes[(long)arg][1];

	for (long i = 0; i < iters / 10; i++) {
		sq_syscall(SYS_write, fd, (long)"x", 1, 0, 0, 0);
		if (randn(4) == 0)
			sq_yield();
	}
	sq_wg_done(wg);
	return 0;
}

static int spinner(void *arg)
{
	long x = 0;

	while (spinning)
		x = burn(x);
	sq_wg_done(wg);
	return (int)x;
}

static int g_main(void *arg)
{
	long i;

	wg = sq_wg_new();
	for (i = 0; i < NPIPES; i++)
		if (pipe(pipes[i]) < 0)
			finish(1, 0);
	sq_wg_add(wg, 4 + 2 * NPIPES);
	for (i = 0; i < 4; i++)
		sq_spawn(syscaller, NULL);
	for (i = 0; i < NPIPES; i++) {
		sq_spawn(reader, (void *)i);
		sq_spawn(writer, (void *)i);
	}
	sq_wg_wait(wg);
	sq_wg_add(wg, NSPIN);
	for (i = 0; i < NSPIN; i++)
		sq_spawn(spinner, NULL);
	for (i = 0; i < 200; i++)
		sq_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);	/* while the spinners hog Ps */
	spinning = 0;
	sq_wg_wait(wg);
	if (nsys != 4 * iters || nread != NPIPES * (iters / 10))
		finish(1, 0);
	finish(0, 1);
}

int main(void)
{
	begin();
	sq_main(g_main, NULL);
}
