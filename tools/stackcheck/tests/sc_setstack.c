// sc_setstack: a thread started with pthread_attr_setstack. glibc starts it
// with clone on that memory as is; OpenBSD's libc would remap it MAP_STACK,
// stackcheck does not (it cannot see pthread_attr_setstack).
//
//   keep     mmap'd MAP_STACK: clean
//   remap    mmap'd MAP_STACK, then replaced by a MAP_FIXED mapping without
//            MAP_STACK before the thread starts: killed in the new thread
//   malloc   malloc'd: killed (clean on OpenBSD, see docs)

#include <pthread.h>

#include "sctest.h"

enum { STACKSIZE = 256 * 1024 };

static void *thread(void *arg)
{
	(void)arg;
	sc_event("THREAD tid=%ld", (long)syscall(SYS_gettid));
	return NULL;
}

int main(int argc, char **argv)
{
	static const char *const modes[] = { "keep", "remap", "malloc", NULL };
	const char *mode = sc_mode(argc, argv, modes);
	pthread_attr_t attr;
	pthread_t th;
	char *stk;

	if (strcmp(mode, "malloc") == 0) {
		if (posix_memalign((void **)&stk, 4096, STACKSIZE) != 0)
			sc_fail("posix_memalign");
	} else {
		stk = sc_map(STACKSIZE, MAP_STACK);
	}
	if (strcmp(mode, "remap") == 0 &&
	    mmap(stk, STACKSIZE, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		sc_fail("mmap MAP_FIXED");
	sc_event("MAIN tid=%ld", (long)syscall(SYS_gettid));
	sc_stack_event(mode, stk, STACKSIZE);
	pthread_attr_init(&attr);
	if (pthread_attr_setstack(&attr, stk, STACKSIZE) != 0)
		sc_fail("pthread_attr_setstack");
	if (pthread_create(&th, &attr, thread, NULL) != 0)
		sc_fail("pthread_create");
	pthread_join(th, NULL);
	sc_event("DONE");
	return 0;
}
