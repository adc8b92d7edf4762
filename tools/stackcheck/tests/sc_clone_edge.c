// sc_clone_edge: a raw clone whose child makes a syscall as its first
// instruction, before pushing anything, on a MAP_STACK stack.
//
//   top      child_stack = one past the top of the region: SP is outside
//            (lo <= sp < hi fails at hi), killed in the child
//   inside   child_stack = top - 16: inside, clean

#include <sched.h>
#include <time.h>

#include "sctest.h"

enum { STACKSIZE = 64 * 1024 };

int main(int argc, char **argv)
{
	static const char *const modes[] = { "top", "inside", NULL };
	const char *mode = sc_mode(argc, argv, modes);
	unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
	    CLONE_THREAD | CLONE_SYSVSEM;
	static volatile int done;
	char *stk = sc_map(STACKSIZE, MAP_STACK);
	char *sp = stk + STACKSIZE - (strcmp(mode, "top") == 0 ? 0 : 16);
	long tid;

	sc_stack_event(mode, stk, STACKSIZE);
	sc_event("CHILDSP sp=%p", (void *)sp);
	tid = sc_clone_raw(flags, sp, &done);
	if (tid < 0) {
		errno = -tid;
		sc_fail("clone");
	}
	sc_event("CLONED tid=%ld", tid);
	for (int i = 0; i < 5000 && !done; i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	if (!done) {
		sc_event("TIMEOUT child never ran");
		return SC_SETUP;
	}
	sc_event("DONE");
	return 0;
}
