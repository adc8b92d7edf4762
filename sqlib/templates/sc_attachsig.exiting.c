//! expect clean
/* ---- sc_attachsig, mode exiting -------------------------------------------
 * Short-lived bound threads: a few callbacks each, then the thread exits
 * and detach happens in the pthread key destructor of a dying thread. */

static long ncalls;

static int nop(void *arg)
{
	__atomic_add_fetch(&ncalls, 1, __ATOMIC_RELAXED);
	return 1;
}

static void *shortlived(void *arg)
{
	int slot = (int)(long)arg;
	long bad = 0, n = 1 + randn(4);

	target(slot);
	for (long i = 0; i < n; i++)
		bad += sq_callback(nop, NULL) != 1;
	untarget(slot);
	return (void *)(bad | n << 8);
}

int main(void)
{
	pthread_t t[MAXTHREADS];
	long bad = 0, calls = 0, rounds = iters / 8 + 1;
	void *r;

	begin();
	sq_init();
	storm_start();
	for (long k = 0; k < rounds; k++) {
		for (int i = 0; i < nthreads; i++)
			pthread_create(&t[i], NULL, shortlived, (void *)(long)i);
		for (int i = 0; i < nthreads; i++) {
			pthread_join(t[i], &r);
			bad += (long)r & 0xff;
			calls += (long)r >> 8;
		}
	}
	storm_end();
	finish(bad || calls != ncalls, 1);
}
