//! expect clean
/* ---- sc_signest, mode nest ------------------------------------------------
 * The program's SIGUSR1 handler (installed before the runtime, run by the
 * runtime's handler on gsignal) raises SIGUSR2 and SIGURG on its own
 * thread; SIGPROF sampling runs underneath; Gs make syscalls and yield.
 * Every handler run is counted. */

static long n1, n2;
static sq_wg *wg;

static void on_usr2(int sig)
{
	__atomic_add_fetch(&n2, 1, __ATOMIC_RELAXED);
}

static void on_usr1_nest(int sig)
{
	__atomic_add_fetch(&n1, 1, __ATOMIC_RELAXED);
	/* Blocked while this handler runs; delivered when it returns. */
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGURG);
}

static int worker(void *arg)
{
	int slot = (int)(long)arg;

	for (long i = 0; i < iters; i++) {
		target(slot);	/* whichever thread runs us now */
		raise(SIGUSR1);
		sq_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
		if (i % 8 == 0)
			sq_yield();
	}
	untarget(slot);
	sq_wg_done(wg);
	return 0;
}

static int g_main(void *arg)
{
	wg = sq_wg_new();
	sq_setprofile(500);
	storm_start();
	sq_wg_add(wg, nthreads);
	for (long i = 0; i < nthreads; i++)
		sq_spawn(worker, (void *)i);
	sq_wg_wait(wg);
	storm_end();
	sq_setprofile(0);
	/* Every SIGUSR1 raise ran its handler, and every handler's SIGUSR2 ran. */
	finish(n1 < iters * nthreads || n2 != n1, 1);
}

int main(void)
{
	struct sigaction sa;

	begin();
	memset(&sa, 0, sizeof sa);
	sa.sa_flags = SA_ONSTACK;
	sa.sa_handler = on_usr1_nest;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	storm_nsigs = 2;	/* the storm sends SIGURG and SIGPROF here */
	sq_main(g_main, NULL);
}
