// sc_thread_exec: a non-leader thread calls execve while other threads are
// running; the kernel kills the others and gives the execing thread the
// leader's tid. The new image ("child" mode) makes syscalls on the main
// stack and exits 5, which stackcheck must pass through: clean, exit 5.

#include <pthread.h>
#include <time.h>

#include "sctest.h"

static char *self;

static void *spinner(void *arg)
{
	(void)arg;
	for (;;)
		nanosleep(&(struct timespec){ 0, 100000 }, NULL);
	return NULL;
}

static void *execer(void *arg)
{
	char *args[] = { self, "child", NULL };

	(void)arg;
	sc_event("EXEC tid=%ld", (long)syscall(SYS_gettid));
	execv("/proc/self/exe", args);
	sc_fail("execv");
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th;

	if (argc == 2 && strcmp(argv[1], "child") == 0) {
		sc_event("CHILD pid=%d tid=%ld", (int)getpid(), (long)syscall(SYS_gettid));
		return 5;
	}
	if (argc != 2 || strcmp(argv[1], "run") != 0)
		sc_usage(argv[0], "run");
	self = argv[0];
	sc_event("MAIN pid=%d", (int)getpid());
	for (int i = 0; i < 3; i++)
		if (pthread_create(&th, NULL, spinner, NULL) != 0)
			sc_fail("pthread_create");
	if (pthread_create(&th, NULL, execer, NULL) != 0)
		sc_fail("pthread_create");
	pthread_join(th, NULL);
	return SC_SETUP;
}
