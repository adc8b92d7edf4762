//! expect clean
/* ---- sc_callblock, mode mixed ---------------------------------------------
 * Callbacks that block on a channel fed by Gs, nest through outcalls that
 * call back in (callback -> outcall -> callback on one thread), and spawn
 * Gs that outlive the callback. */

static sq_chan *feed;
static sq_wg *fed;
static long nok;

static int producer(void *arg)
{
	for (long i = 0; i < (long)arg; i++)
		sq_chan_send(feed, (uintptr_t)i);
	sq_wg_done(fed);
	return 0;
}

static int deepest(void *arg)
{
	return (int)(long)arg * 3;
}

static int cback(void *arg)
{
	return callback(deepest, arg);	/* C run by an outcall calls back */
}

static int inside(void *arg)
{
	long i = (long)arg;
	uintptr_t v;

	if (sq_chan_recv(feed, &v) != 0)
		return -1;
	if (i % 3 == 0 && sq_ccall(cback, arg) != (int)i * 3)
		return -1;
	return 1;
}

static int start_producers(void *arg)
{
	long total = (long)arg;

	sq_wg_add(fed, 2);
	sq_spawn(producer, (void *)(total / 2));
	sq_spawn(producer, (void *)(total - total / 2));
	return 1;
}

static void *caller(void *arg)
{
	int slot = (int)(long)arg;
	long bad = 0;

	target(slot);
	for (long i = 0; i < iters; i++) {
		if (callback(inside, (void *)i) == 1)
			__atomic_add_fetch(&nok, 1, __ATOMIC_RELAXED);
		else
			bad++;
	}
	untarget(slot);
	return (void *)bad;
}

static int wait_producers(void *arg)
{
	sq_wg_wait(fed);
	return 1;
}

int main(void)
{
	pthread_t t[MAXTHREADS];
	long bad = 0;
	void *r;

	begin();
	sq_init();
	storm_start();
	feed = sq_chan_new(0);
	fed = sq_wg_new();
	callback(start_producers, (void *)(iters * nthreads));
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, caller, (void *)(long)i);
	for (int i = 0; i < nthreads; i++) {
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	callback(wait_producers, NULL);
	storm_end();
	finish(bad != 0, 1);
}
