/* A C thread with a signal stack of its own calls into Go, and between
 * calls two signals reach it at once: SIGUSR1, which the host handles on
 * its signal stack, and SIGURG, which the Go runtime handles in a C
 * archive (preemption). Both are sent while the thread has them blocked
 * and arrive together when it unblocks them, as they do whenever signals
 * pile up in a blocked window (the runtime's own attach and detach block
 * every signal): the kernel then stacks the second signal's frame below
 * the first's on the same signal stack.
 *
 * The thread's signal stack is the top of a larger block whose lower part
 * holds a known pattern, so a handler that runs off the low end of the
 * stack is seen instead of corrupting the heap.
 *
 *   ./repro-<tc> [stack bytes, default 8192] [rounds, default 1000]
 *
 * Prints how many bytes below the signal stack were written; exit 0 when
 * none were, 1 otherwise. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "lib.h"

enum { BELOW = 64 << 10, PATTERN = 0xa5 };

static size_t size = 8192;
static long rounds = 1000;
static unsigned char *block;	/* [BELOW bytes of pattern][the signal stack] */
static volatile long nusr1;

/* The host's own handler, on the signal stack as hosts are told to (Go's
 * os/signal: SA_ONSTACK). */
static void on_usr1(int sig)
{
	nusr1++;
}

static void *work(void *arg)
{
	stack_t st = { .ss_sp = block + BELOW, .ss_size = size }, off = { .ss_flags = SS_DISABLE };
	pid_t pid = getpid(), tid = syscall(SYS_gettid);
	sigset_t both, old;

	sigemptyset(&both);
	sigaddset(&both, SIGUSR1);
	sigaddset(&both, SIGURG);
	sigaltstack(&st, NULL);
	for (long i = 0; i < rounds; i++) {
		GoWork(100);	/* into Go and back out: the thread has no goroutine now */
		pthread_sigmask(SIG_BLOCK, &both, &old);
		syscall(SYS_tgkill, pid, tid, SIGUSR1);
		syscall(SYS_tgkill, pid, tid, SIGURG);
		pthread_sigmask(SIG_SETMASK, &old, NULL);	/* both arrive here */
	}
	sigaltstack(&off, NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	long below = 0;
	pthread_t t;

	if (argc > 1)
		size = strtoul(argv[1], NULL, 0);
	if (argc > 2)
		rounds = strtol(argv[2], NULL, 0);
	if (!(block = malloc(BELOW + size)))
		return 2;
	memset(block, PATTERN, BELOW + size);
	sigaction(SIGUSR1, &(struct sigaction){ .sa_handler = on_usr1, .sa_flags = SA_ONSTACK }, NULL);
	pthread_create(&t, NULL, work, NULL);
	pthread_join(t, NULL);
	for (long i = 0; i < BELOW; i++)	/* from the lowest byte written */
		if (block[i] != PATTERN) {
			below = BELOW - i;
			break;
		}
	printf("signal stack %zu bytes, %ld rounds, SIGUSR1 handled %ld times: %ld bytes written below it\n",
		size, rounds, nusr1, below);
	return below != 0;
}
