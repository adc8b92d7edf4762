//! expect clean
/* ---- sc_attachsig, mode unbound -------------------------------------------
 * Foreign threads attach to and detach from the runtime on every callback
 * (SQ_CALLBACK_BIND=0), in a tight loop. */

static long ncalls;

static int nop(void *arg)
{
	__atomic_add_fetch(&ncalls, 1, __ATOMIC_RELAXED);
	return 1;
}

static void *cycler(void *arg)
{
	int slot = (int)(long)arg;
	long bad = 0;

	target(slot);
	for (long i = 0; i < iters; i++)
		bad += sq_callback(nop, NULL) != 1;
	untarget(slot);
	return (void *)bad;
}

int main(void)
{
	pthread_t t[MAXTHREADS];
	long bad = 0;
	void *r;

	begin();
	setenv("SQ_CALLBACK_BIND", "0", 1);
	sq_init();
	storm_start();
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, cycler, (void *)(long)i);
	for (int i = 0; i < nthreads; i++) {
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	bad |= ncalls != iters * nthreads;
	storm_end();
	finish(bad != 0, 1);
}
