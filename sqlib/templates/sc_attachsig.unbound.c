//! expect clean
/* ---- sc_attachsig, mode unbound -------------------------------------------
 * Foreign threads attach to and detach from the runtime on every callback
 * (SQ_CALLBACK_BIND=0), in a tight loop, in two phases: what the process
 * holds must not grow from the first to the second. */

static long ncalls, phase_iters;

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
	for (long i = 0; i < phase_iters; i++)
		bad += callback(nop, NULL) != 1;
	untarget(slot);
	return (void *)bad;
}

static long run_unbound(long n)
{
	pthread_t t[MAXTHREADS];
	long bad = 0;
	void *r;

	phase_iters = n;
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, cycler, (void *)(long)i);
	for (int i = 0; i < nthreads; i++) {
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	return bad;
}

int main(void)
{
	long bad, first = iters / 4, rest = iters - first;
	res a, b;

	begin();
	setenv("SQ_CALLBACK_BIND", "0", 1);
	sq_init();
	storm_start();
	bad = run_unbound(first);
	res_read(&a);
	bad += run_unbound(rest);
	res_read(&b);
	bad |= ncalls != iters * nthreads;
	leak_judge(&a, &b, rest * nthreads, "attach and detach");
	storm_end();
	finish(bad != 0, 1);
}
