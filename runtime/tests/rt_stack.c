/*
 * rt_stack.c: stack allocator self-tests. "list" makes the runtime hand out
 * every kind of stack, runs a syscall on each G stack, and prints each
 * stack as "[rt] STACK kind lo hi" so that a tracer outside the process can
 * check how it was mapped.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <sys/syscall.h>

#include "rt_test.h"

enum { NG = 8, MAXSTACKS = 4096 };

static sq_chan *hold;

static int holder(void *arg)
{
	uintptr_t v;

	sq_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
	sq_wg_done(arg);
	sq_chan_recv(hold, &v);	/* keep the stack in use until listed */
	return 0;
}

static int test_list(void *unused)
{
	static sq_stackinfo st[MAXSTACKS];
	sq_wg *wg = sq_wg_new();
	int n, i;

	hold = sq_chan_new(0);
	sq_wg_add(wg, NG);
	for (i = 0; i < NG; i++)
		sq_spawn(holder, wg);
	sq_wg_wait(wg);
	n = sq_stacks(st, MAXSTACKS);
	for (i = 0; i < n && i < MAXSTACKS; i++)
		fprintf(stderr, "[rt] STACK %s 0x%" PRIxPTR " 0x%" PRIxPTR "\n",
			st[i].kind, st[i].lo, st[i].hi);
	for (i = 0; i < NG; i++)
		sq_chan_send(hold, 0);
	if (n < NG + 2)
		return rt_fail("fewer stacks than Gs");
	return rt_pass();
}

static const rt_case cases[] = {
	{ "list", test_list, 1, "list every stack the runtime handed out" },
	{ NULL, NULL, 0, NULL },
};

int main(int argc, char **argv)
{
	return rt_main(argc, argv, cases);
}
