/* A C host that handles SIGURG and SIGUSR2 itself, installed before the
 * Go runtime starts (a constructor that runs before the c-archive's own).
 * os/signal's documentation: a c-archive "will not install any other
 * signal handlers by default. If there is an existing signal handler, the
 * Go runtime will turn on the SA_ONSTACK flag and otherwise keep the
 * signal handler." Each signal is raised 100 times on the main thread,
 * outside Go, after one call into Go. Exit 0 when both handlers saw all. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include "lib.h"

static volatile long calls[65];

static void host(int sig, siginfo_t *si, void *uc) { calls[sig]++; }

__attribute__((constructor(101))) static void install(void)
{
	struct sigaction sa = { .sa_sigaction = host, .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART };

	sigaction(SIGURG, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
}

int main(void)
{
	int sigs[] = { SIGUSR2, SIGURG }, bad = 0;

	GoNop();
	for (int k = 0; k < 2; k++) {
		struct sigaction cur;

		sigaction(sigs[k], NULL, &cur);
		for (int i = 0; i < 100; i++)
			raise(sigs[k]);
		printf("%-7s handler installed: %-8s host handler called %3ld of 100\n",
			sigs[k] == SIGURG ? "SIGURG" : "SIGUSR2",
			cur.sa_sigaction == host ? "host's" : "Go's", calls[sigs[k]]);
		bad |= calls[sigs[k]] != 100;
	}
	return bad;
}
