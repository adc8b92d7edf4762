/*
 * sc_attachsig: foreign threads attach to and detach from the runtime in a
 * tight loop while signals arrive: from the storm thread (--injector storm)
 * or from fault sites armed inside needm/dropm/minit/unminit (--injector
 * sites, SQ_FAULT). Mode "unbound" detaches after every callback; mode
 * "exiting" binds, makes a few callbacks and exits, so detach happens in the
 * pthread key destructor of a dying thread, again and again. Either way the
 * work runs in two phases, and what the process holds (threads, fds,
 * mappings, resident memory) must not grow from the first to the second
 * beyond outside.h's bounds: an M, a stack or a thread lost per cycle shows.
 */
#include "scenario.h"

static const sc_info info = {
	"sc_attachsig", "attach/detach cycles of foreign threads under signals",
	"unbound|exiting", 20000, 4, 3000,
};

static long ncalls;

static int nop(void *arg)
{
	__atomic_add_fetch(&ncalls, 1, __ATOMIC_RELAXED);
	return 1;
}

static long phase_iters;

static void *cycler(void *arg)
{
	int slot = (int)(long)arg;
	long bad = 0;

	sc_target(slot);
	for (long i = 0; i < phase_iters; i++, sc_tick())
		bad += sc_callback(nop, NULL) != 1;
	sc_untarget(slot);
	return (void *)bad;
}

/* Every thread makes n callbacks, each attaching and detaching. */
static long run_unbound(long n)
{
	pthread_t t[SC_MAXTHREADS];
	long bad = 0;
	void *r;

	phase_iters = n;
	for (int i = 0; i < sc.threads; i++)
		pthread_create(&t[i], NULL, cycler, (void *)(long)i);
	for (int i = 0; i < sc.threads; i++) {
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	return bad;
}

/* One short-lived bound thread: a few callbacks, then exit with the M. */
static void *shortlived(void *arg)
{
	int slot = (int)(long)arg;
	long bad = 0, n = 1 + sc_randn(4);

	sc_target(slot);
	for (long i = 0; i < n; i++)
		bad += sc_callback(nop, NULL) != 1;
	sc_untarget(slot);
	return (void *)(bad | n << 8);
}

/* rounds x threads short-lived threads; returns the callbacks they made,
 * or -1 if one came back wrong. */
static long run_exiting(long rounds)
{
	long bad = 0, calls = 0;
	pthread_t t[SC_MAXTHREADS];
	void *r;

	for (long k = 0; k < rounds; k++, sc_tick()) {
		for (int i = 0; i < sc.threads; i++)
			pthread_create(&t[i], NULL, shortlived, (void *)(long)i);
		for (int i = 0; i < sc.threads; i++) {
			pthread_join(t[i], &r);
			bad += (long)r & 0xff;
			calls += (long)r >> 8;
		}
	}
	return bad ? -1 : calls;
}

int main(int argc, char **argv)
{
	long bad = 0, first, rest;
	sc_res a, b;

	sc_begin(argc, argv, &info);
	sc_expect_clean();
	if (sc_mode("unbound"))
		setenv("SQ_CALLBACK_BIND", "0", 1);
	sqt_init();
	sc_storm_start();
	if (sc_mode("exiting")) {
		long rounds = sc.iters / 8 + 1, c1, c2;

		first = rounds / 4 + 1;
		rest = rounds - first;
		c1 = run_exiting(first);
		sc_res_read(&a);
		c2 = run_exiting(rest);
		sc_res_read(&b);
		bad = c1 < 0 || c2 < 0 || c1 + c2 != ncalls;
		sc_leak_judge(&a, &b, rest * sc.threads, "thread that calls in and exits");
	} else {
		first = sc.iters / 4;
		rest = sc.iters - first;
		bad = run_unbound(first);
		sc_res_read(&a);
		bad += run_unbound(rest);
		sc_res_read(&b);
		bad |= ncalls != sc.iters * sc.threads;
		sc_leak_judge(&a, &b, rest * sc.threads, "attach and detach");
	}
	sc_storm_end();
	sc_event("CALLS done=%ld usr1=%ld", ncalls, sc_nusr1);
	sc_finish(bad ? SC_WRONG : SC_CLEAN, 1);
}
