/*
 * sc_callblock: callbacks that block. Foreign threads call in and wait on
 * channels fed by Gs, make outcalls from inside the callback that call back
 * in again (callback -> outcall -> callback on the same thread), and spawn
 * Gs that outlive the callback. With one P, every blocked callback G must
 * give its P away and get one back on its own thread.
 */
#include "scenario.h"

static const sc_info info = {
	"sc_callblock", "callbacks that block on Gs, nest through outcalls, and spawn",
	"mixed", 500, 3, 200,
};

static sqt_chan *feed;
static sqt_wg *fed;
static long nok;

static int producer(void *arg)
{
	for (long i = 0; i < (long)arg; i++)
		sqt_chan_send(feed, (uintptr_t)i);
	sqt_wg_done(fed);
	return 0;
}

static int deepest(void *arg)
{
	return (int)(long)arg * 3;
}

static int cback(void *arg)
{
	return sc_callback(deepest, arg);	/* C run by an outcall calls back */
}

static int inside(void *arg)
{
	long i = (long)arg;
	uintptr_t v;

	if (sqt_chan_recv(feed, &v) != 0)
		return -1;
	if (i % 3 == 0 && sqt_outcall(cback, arg) != (int)i * 3)
		return -1;
	return 1;
}

static int start_producers(void *arg)
{
	long total = (long)arg;

	sqt_wg_add(fed, 2);
	sqt_spawn(producer, (void *)(total / 2));
	sqt_spawn(producer, (void *)(total - total / 2));
	return 1;
}

static void *caller(void *arg)
{
	int slot = (int)(long)arg;
	long bad = 0;

	sc_target(slot);
	for (long i = 0; i < sc.iters; i++, sc_tick()) {
		if (sc_callback(inside, (void *)i) == 1)
			__atomic_add_fetch(&nok, 1, __ATOMIC_RELAXED);
		else
			bad++;
	}
	sc_untarget(slot);
	return (void *)bad;
}

static int wait_producers(void *arg)
{
	sqt_wg_wait(fed);
	return 1;
}

int main(int argc, char **argv)
{
	pthread_t t[SC_MAXTHREADS];
	long bad = 0;
	void *r;

	sc_begin(argc, argv, &info);
	sc_expect_clean();
	sqt_init();
	sc_storm_start();
	feed = sqt_chan_new(0);
	fed = sqt_wg_new();
	sc_callback(start_producers, (void *)(sc.iters * sc.threads));
	for (int i = 0; i < sc.threads; i++)
		pthread_create(&t[i], NULL, caller, (void *)(long)i);
	for (int i = 0; i < sc.threads; i++) {
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	sc_callback(wait_producers, NULL);
	sc_storm_end();
	sc_event("CALLS ok=%ld bad=%ld", nok, bad);
	sc_finish(bad ? SC_WRONG : SC_CLEAN, 1);
}
