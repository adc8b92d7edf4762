/*
 * sc_signest: nested and chained signals on Gs and foreign threads. The
 * program's own SIGUSR1 handler (installed before the runtime, run by the
 * runtime's handler on gsignal) sends SIGUSR2 and SIGURG to its own thread
 * and makes a system call; SIGPROF sampling runs underneath; Gs make
 * syscalls and yield while a storm hits their threads. Every handler run
 * is counted and checked against what was sent.
 */
#include "scenario.h"

static const sc_info info = {
	"sc_signest", "signals raised from inside signal handlers, with sampling and a storm",
	"nest", 3000, 2, 1000,
};

static long n1, n2;
static sqt_wg *wg;

static void on_usr2(int sig)
{
	__atomic_add_fetch(&n2, 1, __ATOMIC_RELAXED);
}

static void on_usr1(int sig)
{
	__atomic_add_fetch(&n1, 1, __ATOMIC_RELAXED);
	/* Blocked while this handler runs; delivered when it returns. */
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGURG);
}

static int worker(void *arg)
{
	int slot = (int)(long)arg;

	for (long i = 0; i < sc.iters; i++, sc_tick()) {
		sc_target(slot);	/* whichever thread runs us now */
		raise(SIGUSR1);
		sqt_syscall(SYS_getpid, 0, 0, 0);
		if (i % 8 == 0)
			sqt_yield();
	}
	sc_untarget(slot);
	sqt_wg_done(wg);
	return 0;
}

static int g_main(void *arg)
{
	wg = sqt_wg_new();
	sqt_profile(500);
	sc_storm_start();
	sqt_wg_add(wg, sc.threads);
	for (long i = 0; i < sc.threads; i++)
		sqt_spawn(worker, (void *)i);
	sqt_wg_wait(wg);
	sc_storm_end();
	sqt_profile(0);
	sc_event("HANDLERS usr1=%ld usr2=%ld storm-usr1=%ld", n1, n2, sc_nusr1);
	/* Every SIGUSR1 raise ran its handler, and every handler's SIGUSR2 ran. */
	sc_finish(n1 < sc.iters * sc.threads || n2 != n1 ? SC_WRONG : SC_CLEAN, 1);
}

int main(int argc, char **argv)
{
	struct sigaction sa;

	sc_begin(argc, argv, &info);
	memset(&sa, 0, sizeof sa);
	sa.sa_flags = SA_ONSTACK;	/* runtimes started before main require it (scenario.h) */
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	sc_storm_nsigs = 2;	/* the storm sends SIGURG and SIGPROF here */
	sc_expect_clean();
	sqt_main(g_main, NULL);
}
