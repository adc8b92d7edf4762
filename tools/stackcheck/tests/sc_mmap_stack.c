// sc_mmap_stack: a syscall made on an mmap'd stack.
//
//   stack    MAP_STACK: clean
//   plain    no MAP_STACK: killed
//   reserve  MAP_STACK mapped PROT_NONE, then opened with mprotect (what
//            glibc does for thread stacks): mprotect keeps MAP_STACK, clean
//   deep     no mmap at all: the main stack grows by 2 MiB (Linux extends the
//            [stack] mapping on demand), then getpid at the bottom: clean

#include <alloca.h>

#include "sctest.h"

enum { STACKSIZE = 256 * 1024, DEEP = 2 * 1024 * 1024 };

static void runon(const char *name, char *stk)
{
	sc_stack_event(name, stk, STACKSIZE);
	sc_call_on_stack(sc_top(stk, STACKSIZE), sc_getpid, NULL);
}

__attribute__((noinline)) static void deep(void)
{
	volatile char *p = alloca(DEEP);

	for (size_t i = 0; i < DEEP; i += 4096)
		p[DEEP - 1 - i] = 1;    // touch downward: each fault grows [stack]
	sc_event("DEEP sp=%p", (void *)p);
	syscall(SYS_getpid);
	p[0] = 0;
}

int main(int argc, char **argv)
{
	static const char *const modes[] = { "stack", "plain", "reserve", "deep", NULL };
	const char *mode = sc_mode(argc, argv, modes);

	if (strcmp(mode, "stack") == 0)
		runon("mapstack", sc_map(STACKSIZE, MAP_STACK));
	else if (strcmp(mode, "plain") == 0)
		runon("plain", sc_map(STACKSIZE, 0));
	else if (strcmp(mode, "reserve") == 0) {
		char *stk = mmap(NULL, STACKSIZE, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (stk == MAP_FAILED)
			sc_fail("mmap");
		if (mprotect(stk + 4096, STACKSIZE - 4096, PROT_READ | PROT_WRITE) < 0)
			sc_fail("mprotect");
		runon("reserve", stk);
	} else
		deep();
	sc_event("DONE");
	return 0;
}
