/*
 * sc_syscall: Gs inside syscall windows under pressure. Some Gs make short
 * syscalls in a loop, some block in read() on pipes that others write,
 * some spin in checked code so that sysmon preempts them, and some run C
 * through outcalls that call back in. sysmon retakes the Ps of blocked Gs
 * all along. Fault sites armed inside the windows (--injector sites) call
 * splittable code there: on a correct runtime that is the fatal "stack
 * split at bad time", which this scenario then expects.
 */
#include "scenario.h"

static const sc_info info = {
	"sc_syscall", "syscall windows under sysmon retakes, preemption and faults",
	"window|ccall", 2000, 0, 500,
};

enum { NPIPES = 4, NSPIN = 2 };

static int pipes[NPIPES][2];
static sqt_wg *wg;
static volatile int spinning = 1;
static long nsys, nread, nccall, nintr;

__attribute__((noinline)) static long burn(long x)
{
	return x * 2654435761u + 1;
}

static int syscaller(void *arg)
{
	for (long i = 0; i < sc.iters; i++, sc_tick()) {
		if (sqt_syscall(SYS_getpid, 0, 0, 0) <= 0)
			return sqt_wg_done(wg), 0;
		__atomic_add_fetch(&nsys, 1, __ATOMIC_RELAXED);
		if (sc_randn(32) == 0)
			sqt_yield();
	}
	sqt_wg_done(wg);
	return 0;
}

static int reader(void *arg)
{
	int fd = pipes[(long)arg][0];
	char c;

	for (long i = 0; i < sc.iters / 10; i++) {
		long r;

		/* A handler without SA_RESTART (the handlers-plain axis: a
		 * host handler the runtime leaves in place, e.g. SIGPROF's or
		 * SIGALRM's on Go) interrupts the blocked read with EINTR, as
		 * POSIX says; the target passes it on, as a raw system call
		 * must. Read again. */
		while ((r = sqt_syscall_block(SYS_read, fd, (long)&c, 1)) == -EINTR)
			__atomic_add_fetch(&nintr, 1, __ATOMIC_RELAXED);
		if (r == 1)
			__atomic_add_fetch(&nread, 1, __ATOMIC_RELAXED);
		else
			sc_event("READ fd=%d returned %ld", fd, r);
	}
	sqt_wg_done(wg);
	return 0;
}

static int writer(void *arg)
{
	int fd = pipes[(long)arg][1];

	for (long i = 0; i < sc.iters / 10; i++) {
		sqt_syscall(SYS_write, fd, (long)"x", 1);
		if (sc_randn(4) == 0)
			sqt_yield();
	}
	sqt_wg_done(wg);
	return 0;
}

static int spinner(void *arg)
{
	long x = 0;

	while (spinning)
		x = burn(x);
	sqt_wg_done(wg);
	return (int)x;
}

static int inner(void *arg)
{
	sqt_syscall(SYS_getppid, 0, 0, 0);
	return (int)(long)arg + 1;
}

static int cside(void *arg)
{
	long v = (long)arg;

	if (v % 4 == 0)
		return sc_callback(inner, arg);	/* back in, on the same G */
	syscall(SYS_sched_yield);
	return (int)v + 1;
}

static int outcaller(void *arg)
{
	long bad = 0;

	for (long i = 0; i < sc.iters / 4; i++) {
		bad += sqt_outcall(cside, (void *)i) != i + 1;
		__atomic_add_fetch(&nccall, 1, __ATOMIC_RELAXED);
	}
	sqt_wg_done(wg);
	return (int)bad;
}


static int g_main(void *arg)
{
	long i, n = 0;

	wg = sqt_wg_new();
	for (i = 0; i < NPIPES; i++)
		if (pipe(pipes[i]) < 0)
			sc_finish(SC_WRONG, 0);
	if (sc_mode("ccall")) {
		sqt_wg_add(wg, 4);
		for (i = 0; i < 4; i++)
			sqt_spawn(outcaller, NULL);
	} else {
		sqt_wg_add(wg, 4 + 2 * NPIPES);
		for (i = 0; i < 4; i++)
			sqt_spawn(syscaller, NULL);
		for (i = 0; i < NPIPES; i++) {
			sqt_spawn(reader, (void *)i);
			sqt_spawn(writer, (void *)i);
		}
	}
	sqt_wg_wait(wg);
	sqt_wg_add(wg, NSPIN);
	for (i = 0; i < NSPIN; i++)
		sqt_spawn(spinner, NULL);
	for (i = 0; i < 200; i++, n++)
		sqt_syscall(SYS_getpid, 0, 0, 0);	/* while the spinners hog Ps */
	spinning = 0;
	sqt_wg_wait(wg);
	sc_event("DONE syscalls=%ld reads=%ld ccalls=%ld eintr=%ld", nsys, nread, nccall, nintr);
	if (sc_mode("window") && (nsys != 4 * sc.iters || nread != NPIPES * (sc.iters / 10)))
		sc_finish(SC_WRONG, 0);
	sc_finish(SC_CLEAN, 1);
}

int main(int argc, char **argv)
{
	sc_begin(argc, argv, &info);
	sc_expect_clean();	/* an armed split owes its refusal: the oracle knows (SQ_ARM_RULES) */
	sqt_main(g_main, NULL);
}
