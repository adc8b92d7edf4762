/*
 * sc_stackswitch: foreign C threads call into the runtime from a different
 * stack each time — their pthread stack, ucontext stacks, Boost.Context
 * stacks, malloc'd and mmap'd — in an order drawn from the seed, bound or
 * unbound (SQ_CALLBACK_BIND). Mode "outcall" does the illegal thing: C run
 * by an outcall switches stacks and calls back while runtime frames are up
 * the other stack.
 */
#include "scenario.h"
#include "cstack.h"

static const sc_info info = {
	"sc_stackswitch", "callbacks from foreign threads that switch stacks between calls",
	"legal|outcall", 2000, 4, 300,
};

enum { NSTACKS = 6 };

static long ncalls;

C_SIDE static int twice(void *arg)
{
	return 2 * (int)(long)arg;
}

/* Now and then an outcall from inside the callback: it returns before the
 * callback does, so the next callback, from another stack, is legal (no
 * runtime frames are up the stack any more: the runtime must know). */
static int work(void *arg)
{
	long i = (long)arg;

	if (i % 16 == 0)
		sqt_syscall(SYS_getpid, 0, 0, 0);
	if (i % 64 == 0)
		sqt_yield();
	if (i % 8 == 3 && sqt_outcall(twice, (void *)(i & 0xffff)) != 2 * (int)(i & 0xffff))
		return -1;
	__atomic_add_fetch(&ncalls, 1, __ATOMIC_RELAXED);
	return 1;
}

typedef struct Call {
	long i;
	int ok;
} Call;

C_SIDE static void callin(void *arg)
{
	Call *c = arg;

	c->ok = sc_callback(work, (void *)c->i) == 1;
}

static void *caller(void *arg)
{
	int slot = (int)(long)arg;
	cstack stacks[NSTACKS];
	long bad = 0;

	memset(stacks, 0, sizeof stacks);
	for (int k = 0; k < NSTACKS; k++) {
		stacks[k].kind = k % CS_NKINDS;
		stacks[k].mapped = (k / CS_NKINDS) % 2;
	}
	sc_target(slot);
	for (long i = 0; i < sc.iters; i++, sc_tick()) {
		cstack *s = &stacks[sc_randn(NSTACKS)];
		Call c = { i, 0 };

		if (cs_run(s, callin, &c) < 0 || !c.ok)
			bad++;
	}
	sc_untarget(slot);
	return (void *)bad;
}

/* ---- the illegal switch ------------------------------------------------ */

static cstack other = { .kind = CS_UCONTEXT, .mapped = 1 };

C_SIDE static void callback_from_other(void *arg)
{
	sc_callback(work, arg);
}

C_SIDE static int outcall_switches(void *arg)
{
	cs_run(&other, callback_from_other, arg);
	return 0;
}

static int g_main(void *arg)
{
	sc_event("EVENT outcall then switch");
	sqt_outcall(outcall_switches, NULL);
	sc_finish(SC_WRONG, 0);
}

int main(int argc, char **argv)
{
	pthread_t t[SC_MAXTHREADS];
	long bad = 0;
	void *r;

	sc_begin(argc, argv, &info);
	if (sc_mode("outcall")) {
		sc_expect_fatal(SQ_F_CALLBACK_SP);
		sqt_main(g_main, NULL);
	}
	sc_expect_clean();
	sqt_init();
	sc_storm_start();
	for (int i = 0; i < sc.threads; i++)
		pthread_create(&t[i], NULL, caller, (void *)(long)i);
	for (int i = 0; i < sc.threads; i++) {
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	sc_storm_end();
	sc_event("CALLS done=%ld failed=%ld", ncalls, bad);
	sc_finish(bad || ncalls != sc.iters * sc.threads ? SC_WRONG : SC_CLEAN, 1);
}
