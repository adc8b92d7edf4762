// sc_kill_race: writer threads write to stdout in a loop while another
// thread breaks the MAP_STACK rule. On OpenBSD the violation ends the
// process at once: no writer gets another system call through. Under
// stackcheck, nothing a writer writes may come after the KILL line (the
// driver merges stdout and stderr into one pipe, so their order is the
// order of the writes).
//
//   syscall   main calls getpid on a malloc'd stack: killed at the syscall
//   signal    main spins on a malloc'd stack and a writer signals it; the
//             handler would run there: killed at the delivery
//   thread    main starts one more thread, on a malloc'd stack given to
//             pthread_attr_setstack: killed at its first syscall
//
//   sc_kill_race MODE [NWRITERS]     NWRITERS defaults to 4
//
// The writers run on MAP_STACK stacks of their own (pthread_attr_setstack),
// so that they run under any libc: musl maps thread stacks without
// MAP_STACK. The violation comes only once every writer has written a few
// lines, so that all of them are running then. Each writer line is
// "w<i> <n>".

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "sctest.h"

enum { STACKSIZE = 64 * 1024, THREADSTACK = 256 * 1024, WARMUP = 8, MAXWRITERS = 64 };

static atomic_int started[MAXWRITERS];
static atomic_int onspin, handled;
static pid_t maintid;
static int signalmode;

// onusr1 counts only a signal that landed on the malloc'd stack: the ones
// writer 0 sent before main got there ran on the main stack.
static void onusr1(int sig)
{
	(void)sig;
	if (atomic_load(&onspin))
		atomic_store(&handled, 1);
}

// writer writes forever; writer 0 also signals main in signal mode.
static void *writer(void *arg)
{
	int i = (int)(intptr_t)arg;
	char line[32];

	for (long n = 0;; n++) {
		int len = snprintf(line, sizeof line, "w%d %ld\n", i, n);
		if (write(1, line, len) < 0)
			_exit(SC_SETUP);
		atomic_fetch_add(&started[i], 1);
		if (signalmode && i == 0 && n % 64 == 0)
			syscall(SYS_tgkill, getpid(), maintid, SIGUSR1);
	}
	return NULL;
}

static void spin(void *arg)
{
	(void)arg;
	atomic_store(&onspin, 1);
	while (!atomic_load(&handled))
		;
}

static void *offend(void *arg)
{
	(void)arg;
	syscall(SYS_getpid);
	return NULL;
}

// start runs fn(arg) in a new thread on stk (THREADSTACK bytes).
static pthread_t start(void *(*fn)(void *), void *arg, void *stk)
{
	pthread_attr_t attr;
	pthread_t th;

	pthread_attr_init(&attr);
	if (pthread_attr_setstack(&attr, stk, THREADSTACK) != 0)
		sc_fail("pthread_attr_setstack");
	if (pthread_create(&th, &attr, fn, arg) != 0)
		sc_fail("pthread_create");
	return th;
}

static void warmup(int n)
{
	for (int i = 0; i < n; i++)
		while (atomic_load(&started[i]) < WARMUP)
			;
}

int main(int argc, char **argv)
{
	static const char *const modes[] = { "syscall", "signal", "thread", NULL };
	const char *mode = sc_mode(argc, argv, modes);
	int n = argc > 2 ? atoi(argv[2]) : 4;
	int threadmode = strcmp(mode, "thread") == 0;
	size_t size = threadmode ? THREADSTACK : STACKSIZE;
	char *stk;

	if (n < 1 || n > MAXWRITERS)
		sc_usage(argv[0], "syscall|signal|thread [NWRITERS]");
	if (posix_memalign((void **)&stk, 4096, size) != 0)
		sc_fail("posix_memalign");
	signalmode = strcmp(mode, "signal") == 0;
	maintid = syscall(SYS_gettid);
	signal(SIGUSR1, onusr1);
	sc_stack_event("malloc", stk, size);
	for (int i = 0; i < n; i++)
		start(writer, (void *)(intptr_t)i, sc_map(THREADSTACK, MAP_STACK));
	warmup(n);
	// No event here: it would be one more write to order against the kill.
	if (threadmode)
		pthread_join(start(offend, NULL, stk), NULL);
	else
		sc_call_on_stack(sc_top(stk, size), signalmode ? spin : sc_getpid, NULL);
	sc_event("DONE");
	_exit(0);
}
