// sc_sigaltstack: signals delivered to an SA_ONSTACK handler, or to a thread
// running on a stack that is not MAP_STACK.
//
//   mapstack      signal stack mmap'd MAP_STACK: clean
//   malloc        signal stack malloc'd: sigaltstack marks it MAP_STACK, as
//                 OpenBSD's sigaltstack remaps it: clean
//   remapped      signal stack mmap'd MAP_STACK, installed, then replaced by a
//                 MAP_FIXED mapping without MAP_STACK: killed at delivery
//   spin-nostack  the main thread spins (no syscalls) on a malloc'd stack and
//                 a helper thread signals it; the handler runs on that stack:
//                 killed at delivery
//   spin-onstack  the same, but the handler is SA_ONSTACK on a MAP_STACK
//                 signal stack: the interrupted stack does not matter, clean

#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "sctest.h"

enum { ALTSIZE = 64 * 1024, SPINSIZE = 64 * 1024 };

static volatile int handled;
static char *altlo;

static void onusr1(int sig)
{
	char here;

	(void)sig;
	handled = 1;
	if (altlo != NULL)
		sc_event("HANDLER onalt=%d", &here >= altlo && &here < altlo + ALTSIZE);
}

static void setalt(char *stk)
{
	stack_t ss = { .ss_sp = stk, .ss_size = ALTSIZE };

	altlo = stk;
	sc_stack_event("altstack", stk, ALTSIZE);
	if (sigaltstack(&ss, NULL) < 0)
		sc_fail("sigaltstack");
}

static void sethandler(int flags)
{
	struct sigaction sa = { .sa_handler = onusr1, .sa_flags = flags };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		sc_fail("sigaction");
}

// spin waits on the stack under test, making no syscall, until handled.
static void spin(void *arg)
{
	(void)arg;
	while (!handled)
		;
}

static void *poker(void *arg)
{
	pid_t tid = *(pid_t *)arg;

	// Give main time to get onto the spin stack; resend until handled.
	for (int i = 0; i < 5000 && !handled; i++) {
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
		syscall(SYS_tgkill, getpid(), tid, SIGUSR1);
	}
	return NULL;
}

static void spinscenario(int onstack)
{
	static pid_t maintid;
	char *stk = malloc(SPINSIZE);
	pthread_t th;

	if (stk == NULL)
		sc_fail("malloc");
	if (onstack)
		setalt(sc_map(ALTSIZE, MAP_STACK));
	sethandler(onstack ? SA_ONSTACK : 0);
	maintid = syscall(SYS_gettid);
	sc_stack_event("spin", stk, SPINSIZE);
	if (pthread_create(&th, NULL, poker, &maintid) != 0)
		sc_fail("pthread_create");
	sc_call_on_stack(sc_top(stk, SPINSIZE), spin, NULL);
	pthread_join(th, NULL);
}

int main(int argc, char **argv)
{
	static const char *const modes[] = {
		"mapstack", "malloc", "remapped", "spin-nostack", "spin-onstack", NULL,
	};
	const char *mode = sc_mode(argc, argv, modes);
	char *stk;

	if (strncmp(mode, "spin-", 5) == 0) {
		spinscenario(strcmp(mode, "spin-onstack") == 0);
		sc_event("DONE");
		return 0;
	}
	if (strcmp(mode, "malloc") == 0) {
		if ((stk = malloc(ALTSIZE)) == NULL)
			sc_fail("malloc");
	} else {
		stk = sc_map(ALTSIZE, MAP_STACK);
	}
	setalt(stk);
	if (strcmp(mode, "remapped") == 0 &&
	    mmap(stk, ALTSIZE, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		sc_fail("mmap MAP_FIXED");
	sethandler(SA_ONSTACK);
	raise(SIGUSR1);
	if (!handled)
		return SC_SETUP;
	sc_event("DONE");
	return 0;
}
