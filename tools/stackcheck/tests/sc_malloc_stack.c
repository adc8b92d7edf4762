// sc_malloc_stack: a syscall made on a malloc'd stack (heap memory, never
// MAP_STACK). Under stackcheck: killed at the getpid, in every mode.
//
//   plain    nothing special: dies of SIGSEGV
//   handled  a SIGSEGV handler is installed: stackcheck must not let it run,
//            the process dies of SIGKILL
//   blocked  SIGSEGV is blocked: stackcheck unblocks it, dies of SIGSEGV

#include <signal.h>

#include "sctest.h"

enum { STACKSIZE = 64 * 1024 };        // below malloc's mmap threshold: heap

static void onsegv(int sig)
{
	(void)sig;
	sc_event("HANDLER SIGSEGV");
	_exit(0);
}

int main(int argc, char **argv)
{
	static const char *const modes[] = { "plain", "handled", "blocked", NULL };
	const char *mode = sc_mode(argc, argv, modes);
	char *stk = malloc(STACKSIZE);

	if (stk == NULL)
		sc_fail("malloc");
	if (strcmp(mode, "handled") == 0)
		signal(SIGSEGV, onsegv);
	if (strcmp(mode, "blocked") == 0) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGSEGV);
		sigprocmask(SIG_BLOCK, &set, NULL);
	}
	sc_stack_event("malloc", stk, STACKSIZE);
	sc_call_on_stack(sc_top(stk, STACKSIZE), sc_getpid, NULL);
	sc_event("DONE");
	return 0;
}
