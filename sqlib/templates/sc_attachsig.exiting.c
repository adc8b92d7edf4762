//! expect clean
/* ---- sc_attachsig, mode exiting -------------------------------------------
 * Short-lived bound threads: a few callbacks each, then the thread exits
 * and detach happens in the pthread key destructor of a dying thread; in
 * two phases, and what the process holds must not grow between them. */

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
		bad += callback(nop, NULL) != 1;
	untarget(slot);
	return (void *)(bad | n << 8);
}

/* rounds x threads short-lived threads: the callbacks made, -1 if one was wrong. */
static long run_exiting(long rounds)
{
	long bad = 0, calls = 0;
	pthread_t t[MAXTHREADS];
	void *r;

	for (long k = 0; k < rounds; k++) {
		for (int i = 0; i < nthreads; i++)
			pthread_create(&t[i], NULL, shortlived, (void *)(long)i);
		for (int i = 0; i < nthreads; i++) {
			pthread_join(t[i], &r);
			bad += (long)r & 0xff;
			calls += (long)r >> 8;
		}
	}
	return bad ? -1 : calls;
}

int main(void)
{
	long rounds = iters / 8 + 1, first = rounds / 4 + 1, rest = rounds - first, c1, c2;
	res a, b;

	begin();
	sq_init();
	storm_start();
	c1 = run_exiting(first);
	res_read(&a);
	c2 = run_exiting(rest);
	res_read(&b);
	leak_judge(&a, &b, rest * nthreads, "thread that calls in and exits");
	storm_end();
	finish(c1 < 0 || c2 < 0 || c1 + c2 != ncalls, 1);
}
