/* A C host installs a one-shot handler (SA_RESETHAND: "restore the signal
 * action to the default upon entry to the signal handler") for SIGPIPE or
 * SIGURG before the Go runtime starts (a constructor that runs before the
 * c-archive's own), calls into Go once, then raises the signal three times
 * on the main thread, outside Go.
 *
 * What the kernel does: the handler runs once; the next SIGPIPE kills the
 * process (default action), the next SIGURGs are ignored. What a runtime
 * that forwards the signal to the host's handler owes: the same.
 *
 * Usage: repro pipe|urg. Prints after each raise. Right: "urg" exits 0
 * (the handler ran once), "pipe" is killed by the second SIGPIPE (status
 * 141 in a shell), as the same host without Go is. Exit 1: the handler
 * ran more than once (or never). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "lib.h"

static volatile long calls;

static void host(int sig, siginfo_t *si, void *uc) { calls++; }

static int sig;

__attribute__((constructor(101))) static void install(void)
{
	struct sigaction sa = { .sa_sigaction = host, .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND };
	FILE *f = fopen("/proc/self/cmdline", "r");
	char buf[256] = "";

	if (f) {
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		buf[n] = 0;
		fclose(f);
	}
	/* argv[1] is after the first NUL */
	sig = strcmp(buf + strlen(buf) + 1, "urg") == 0 ? SIGURG : SIGPIPE;
	sigaction(sig, &sa, NULL);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	GoNop();
	for (int i = 1; i <= 3; i++) {
		raise(sig);
		printf("%s raised %d time%s: one-shot host handler called %ld time%s\n",
			sig == SIGURG ? "SIGURG" : "SIGPIPE", i, i == 1 ? "" : "s", calls, calls == 1 ? "" : "s");
	}
	return calls != 1;
}
