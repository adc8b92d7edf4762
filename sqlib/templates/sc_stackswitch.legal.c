//! expect clean
//! uses cstack
/* ---- sc_stackswitch, mode legal -------------------------------------------
 * Foreign threads call in from a different stack each time: their pthread
 * stack, ucontext and Boost.Context stacks, malloc'd and mmap'd, in an
 * order drawn from the seed. */

enum { NSTACKS = 6 };

static long ncalls;

C_SIDE static int twice(void *arg)
{
	return 2 * (int)(long)arg;
}

/* Now and then an outcall from inside the callback: it returns before the
 * callback does, so the next callback, from another stack, is legal. */
static int work(void *arg)
{
	long i = (long)arg;

	if (i % 16 == 0)
		sq_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
	if (i % 64 == 0)
		sq_yield();
	if (i % 8 == 3 && sq_ccall(twice, (void *)(i & 0xffff)) != 2 * (int)(i & 0xffff))
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

	c->ok = callback(work, (void *)c->i) == 1;
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
	target(slot);
	for (long i = 0; i < iters; i++) {
		cstack *s = &stacks[randn(NSTACKS)];
		Call c = { i, 0 };

		if (cs_run(s, callin, &c) < 0 || !c.ok)
			bad++;
	}
	untarget(slot);
	return (void *)bad;
}

int main(void)
{
	pthread_t t[MAXTHREADS];
	long bad = 0;
	void *r;

	begin();
	sq_init();
	storm_start();
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, caller, (void *)(long)i);
	for (int i = 0; i < nthreads; i++) {
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	storm_end();
	finish(bad || ncalls != iters * nthreads, 1);
}
