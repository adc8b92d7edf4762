/*
 * host.c: foreign C threads call a Go function (golib/lib.go, a c-archive)
 * in a loop; each call attaches the thread to an extra M and detaches it
 * (needm/dropm). After every call the thread checks that it is detached
 * again, by the one trace the runtime leaves outside: the signal stack
 * (sigaltstack) that needm installs for a thread without one, and dropm
 * removes. A thread that never had one must have none between calls.
 *
 *   ./repro-gccgo [storm|quiet] [threads] [calls per thread]
 *
 * storm (the default): a thread sends SIGUSR1 (a C handler, SA_ONSTACK)
 * to the callers all along, as stackquake's storm injector does; it
 * stretches the window. Exit 3 and a line "LEFT ATTACHED" when a thread
 * comes back from Go still holding a signal stack; 0 otherwise.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern int Nop(void);

enum { MAXT = 32 };
static int nthreads = 4;
static long ncalls = 12000;
static volatile int stop;
static volatile pid_t tids[MAXT];
static volatile long nusr1;

static void on_usr1(int sig)
{
	(void)sig;
	__atomic_add_fetch(&nusr1, 1, __ATOMIC_RELAXED);
}

static void *caller(void *arg)
{
	int slot = (int)(long)arg;
	stack_t ss;

	sigaltstack(NULL, &ss);
	if (!(ss.ss_flags & SS_DISABLE)) {
		fprintf(stderr, "thread %d starts with a signal stack\n", slot);
		exit(1);
	}
	tids[slot] = (pid_t)syscall(SYS_gettid);
	for (long i = 0; i < ncalls; i++) {
		if (Nop() != 1)
			exit(1);
		sigaltstack(NULL, &ss);
		if (!(ss.ss_flags & SS_DISABLE)) {
			printf("LEFT ATTACHED: thread %d, call %ld: back in C with a signal stack [%p,+%#zx) it never had\n",
				slot, i, ss.ss_sp, ss.ss_size);
			fflush(stdout);
			_exit(3);
		}
	}
	tids[slot] = 0;
	return NULL;
}

static void *storm(void *arg)
{
	pid_t pid = getpid();
	long sent = 0;

	(void)arg;
	while (!stop)
		for (int i = 0; i < nthreads; i++) {
			pid_t t = tids[i];
			if (t && syscall(SYS_tgkill, pid, t, SIGUSR1) == 0)
				sent++;
		}
	return (void *)sent;
}

int main(int argc, char **argv)
{
	int quiet = argc > 1 && !strcmp(argv[1], "quiet");
	pthread_t t[MAXT], st;
	struct sigaction sa;
	void *sent = 0;

	if (argc > 2)
		nthreads = atoi(argv[2]);
	if (argc > 3)
		ncalls = atol(argv[3]);
	if (nthreads < 1 || nthreads > MAXT)
		nthreads = 4;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	if (!quiet)
		pthread_create(&st, NULL, storm, NULL);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, caller, (void *)(long)i);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	stop = 1;
	if (!quiet)
		pthread_join(st, &sent);
	printf("PASS: %d threads x %ld calls, %ld SIGUSR1 sent, %ld handled\n", nthreads, ncalls,
		(long)sent, nusr1);
	return 0;
}
