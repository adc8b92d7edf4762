/* A C host that handles SIGURG and SIGUSR2 itself, installed before the
 * Go runtime starts (a constructor that runs before the c-archive's own).
 * os/signal's documentation: a c-archive "will not install any other
 * signal handlers by default. If there is an existing signal handler, the
 * Go runtime will turn on the SA_ONSTACK flag and otherwise keep the
 * signal handler."
 *
 * Each signal is raised 100 times on the main thread, outside Go, after
 * one call into Go; then SIGURG is sent 100 times (tgkill) to a thread
 * that is running Go code in a callback. Exit 0 when the host's handler
 * saw every one. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "lib.h"

static volatile long calls[65];
static volatile pid_t spinner;

static void host(int sig, siginfo_t *si, void *uc) { calls[sig]++; }

__attribute__((constructor(101))) static void install(void)
{
	struct sigaction sa = { .sa_sigaction = host, .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART };

	sigaction(SIGURG, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
}

static void *spin(void *arg)
{
	spinner = syscall(SYS_gettid);
	GoSpin(400);
	return NULL;
}

int main(void)
{
	int sigs[] = { SIGUSR2, SIGURG }, bad = 0;
	struct timespec ms = { 0, 1000000 };
	pthread_t t;
	long before;

	setvbuf(stdout, NULL, _IOLBF, 0);	/* lines out before a crash */
	GoNop();
	for (int k = 0; k < 2; k++) {
		struct sigaction cur;

		sigaction(sigs[k], NULL, &cur);
		for (int i = 0; i < 100; i++)
			raise(sigs[k]);
		printf("%-7s raised outside Go        handler installed: %-6s  host handler called %3ld of 100\n",
			sigs[k] == SIGURG ? "SIGURG" : "SIGUSR2",
			cur.sa_sigaction == host ? "host's" : "Go's", calls[sigs[k]]);
		bad |= calls[sigs[k]] != 100;
	}
	before = calls[SIGURG];
	pthread_create(&t, NULL, spin, NULL);
	nanosleep(&(struct timespec){ 0, 50000000 }, NULL);	/* inside GoSpin by now */
	for (int i = 0; i < 100; i++) {
		syscall(SYS_tgkill, getpid(), spinner, SIGURG);
		nanosleep(&ms, NULL);
	}
	pthread_join(t, NULL);
	printf("SIGURG  sent to a thread running Go                             host handler called %3ld of 100\n",
		calls[SIGURG] - before);
	bad |= calls[SIGURG] - before != 100;
	return bad;
}
