/*
 * sp_window: the runtime's attach/detach and syscall windows, over and over,
 * on known threads: the program pytest/test_sigpoke.py sweeps with sigpoke
 * (docs/sigpoke.md, "Sweeping the runtime"). Built like the other runtime
 * test programs, for every variant; sigpoke sweeps build/<variant>/ntests/
 * sp_window, linked against the normal flavour (libsq.a), so the swept
 * instructions are the ones that ship. sigpoke itself knows nothing of the
 * runtime: the window (needm, dropm, minit, unminit, entersyscall,
 * reentersyscall, exitsyscall, entersyscallblock) is named on its command
 * line.
 *
 * Threads that run window code, in mode "unbound" (the default):
 *   sp-callback  the main thread, foreign. Every sq_callback attaches and
 *                detaches (SQ_CALLBACK_BIND=0 is forced), so each iteration
 *                runs needm, minit, exitsyscall (the callback G leaving its
 *                window), reentersyscall (going back in), unminit and dropm
 *                (inlined into sq_callback).
 *   runtime Ms   a G spawned by the first callback makes getpid system
 *                calls in a loop through sq_syscall (entersyscall,
 *                exitsyscall), every 16th through sq_syscall_block
 *                (entersyscallblock), yielding every 64th.
 * Mode "signals" is "unbound" with profiling on (sq_setprofile, PROF_HZ of
 * CPU time): SIGPROF keeps arriving, so the runtime's signal handler runs
 * over and over too (the window "sighandler" of SQ_WINDOWS), on runtime Ms
 * and, between callbacks, on the foreign main thread (badsignal).
 * In mode "bound" (SQ_CALLBACK_BIND=1 forced) the main thread instead starts
 * one thread after another, each named sp-callback, that calls in twice and
 * exits: the M stays bound between the calls and is given back at thread
 * exit by the pthread key destructor (unbind), through the out-of-line dropm.
 * So every instruction of those functions' usual paths runs thousands of
 * times a second, and "--comm sp-callback" picks the attaching thread (the
 * name is set after the first callback: Linux gives a new thread its
 * creator's name, and the runtime's Ms start from here).
 *
 * The runtime's timed preemption is off (SQ_DEBUG=preempt=off unless
 * SQ_DEBUG is set): no SIGURG but sigpoke's, and no SIGPROF but in mode
 * "signals". The modes and the thread name are the ones the contract's
 * SQ_WINDOWS names for each window (pytest/test_sigpoke.py runs them all).
 *
 * usage: sp_window [unbound|bound|signals] [N]
 *                  N callbacks (bound: threads), then exit 0 (default 0:
 *                  forever)
 * stderr: "[sp_window] START pid=P tid=T mode=M n=N" first, and
 * "[sp_window] DONE n=N" at a normal end. Exit 0, or 64 on a usage error, 1
 * if a callback returned the wrong value.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sq.h"

enum { MAGIC = 42, USAGE = 64, PROF_HZ = 1000 };

static int syscaller(void *arg)
{
	(void)arg;
	for (unsigned long i = 0;; i++) {
		if (i % 16 == 0)
			sq_syscall_block(SYS_getpid, 0, 0, 0, 0, 0, 0);
		else
			sq_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
		if (i % 64 == 0)
			sq_yield();
	}
	return 0;
}

static int first(void *arg)
{
	(void)arg;
	sq_spawn(syscaller, NULL);
	return MAGIC;
}

static int noop(void *arg)
{
	(void)arg;
	return MAGIC;
}

static void *bound(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "sp-callback");
	if (sq_callback(noop, NULL) != MAGIC || sq_callback(noop, NULL) != MAGIC)
		exit(1);
	return NULL;    // unbind runs dropm now
}

static int usage(const char *prog)
{
	fprintf(stderr, "usage: %s [unbound|bound|signals] [N]  (N callbacks or threads, 0 = forever)\n",
	    prog);
	return USAGE;
}

int main(int argc, char **argv)
{
	const char *mode = "unbound";
	char *end;
	long n = 0;
	int arg = 1;

	if (arg < argc && (strcmp(argv[arg], "unbound") == 0 || strcmp(argv[arg], "bound") == 0 ||
	    strcmp(argv[arg], "signals") == 0))
		mode = argv[arg++];
	if (arg < argc && ((n = strtol(argv[arg++], &end, 10)) < 0 || *end))
		return usage(argv[0]);
	if (arg < argc)
		return usage(argv[0]);
	setenv("SQ_CALLBACK_BIND", strcmp(mode, "bound") == 0 ? "1" : "0", 1);
	// No timed preemption: the only signals a thread gets are sigpoke's.
	// On a loaded machine a callback's G can be off the CPU for 10 ms,
	// sysmon then sends its thread SIGURG, and where that lands (in a
	// variant, an attach window: a fatal error) is blamed on the last poke.
	setenv("SQ_DEBUG", "preempt=off", 0);
	fprintf(stderr, "[sp_window] START pid=%d tid=%d mode=%s n=%ld\n",
	    (int)getpid(), (int)gettid(), mode, n);
	sq_init();
	if (strcmp(mode, "signals") == 0 && sq_setprofile(PROF_HZ) != 0)
		return 1;
	if (sq_callback(first, NULL) != MAGIC)
		return 1;
	// Named only now: a new thread inherits its creator's name, and the
	// runtime's Ms, started so far, must not be taken for this one.
	pthread_setname_np(pthread_self(), strcmp(mode, "bound") == 0 ? "sp-main" : "sp-callback");
	if (strcmp(mode, "bound") == 0) {
		// The main thread stays bound from here on; others come and go.
		for (long i = 0; n == 0 || i < n; i++) {
			pthread_t t;
			if (pthread_create(&t, NULL, bound, NULL) != 0 || pthread_join(t, NULL) != 0)
				return 1;
		}
	} else {
		for (long i = 1; n == 0 || i < n; i++)
			if (sq_callback(noop, NULL) != MAGIC)
				return 1;
	}
	fprintf(stderr, "[sp_window] DONE n=%ld\n", n);
	return 0;
}
