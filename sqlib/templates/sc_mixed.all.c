//! expect clean
//! uses cstack
/* ---- sc_mixed, mode all ---------------------------------------------------
 * Everything at once: foreign threads switch stacks between bound
 * callbacks; short-lived threads attach, call in and die; Gs spawned from
 * a callback make syscalls, block in read(), spin until preempted and run
 * outcalls that call back in. Two Ps unless the settings say otherwise. */

enum { SWITCHERS = 2, SHORTLIVED = 2 };

static sq_wg *gs;
static int pfd[2];
static long nswitch, nshort, nsys, nccall, nfirst;
static volatile int spinning = 1;

static int counted(void *arg)
{
	__atomic_add_fetch((long *)arg, 1, __ATOMIC_RELAXED);
	return 1;
}

C_SIDE static void callin(void *arg)
{
	callback(counted, arg);
}

static void *switcher(void *arg)
{
	/* The side of this thread's stack the switched-to stacks are mapped
	 * on, as the finding's seed picked it. */
	int place = @SEED@ull & 1 ? CS_ABOVE : CS_BELOW;
	cstack st[3] = { { .kind = CS_PTHREAD }, { .kind = CS_UCONTEXT, .place = place },
			 { .kind = CS_BOOST, .place = place } };

	target((int)(long)arg);
	/* The first callback from the thread's own stack: its M's g0 takes
	 * that stack's bounds, and every switch after it goes to the side
	 * picked above, whatever the draws below. */
	callback(counted, &nfirst);
	for (long i = 0; i < iters; i++)
		cs_run(&st[i ? randn(3) : 1 + randn(2)], callin, &nswitch);	/* the first one switches */
	untarget((int)(long)arg);
	return NULL;
}

static void *shortlived(void *arg)
{
	target((int)(long)arg);
	callback(counted, &nshort);
	untarget((int)(long)arg);
	return NULL;
}

static void *churner(void *arg)
{
	for (long i = 0; i < iters / 4; i++) {
		pthread_t t;

		pthread_create(&t, NULL, shortlived, arg);
		pthread_join(t, NULL);
	}
	return NULL;
}

static int cside(void *arg)
{
	return callback(counted, &nccall);
}

static int gwork(void *arg)
{
	char c;

	for (long i = 0; i < iters; i++) {
		sq_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
		__atomic_add_fetch(&nsys, 1, __ATOMIC_RELAXED);
		if (i % 8 == 0)
			sq_ccall(cside, NULL);
		if (i % 16 == 0) {
			sq_syscall(SYS_write, pfd[1], (long)"x", 1, 0, 0, 0);
			sq_syscall_block(SYS_read, pfd[0], (long)&c, 1, 0, 0, 0);
		}
	}
	sq_wg_done(gs);
	return 0;
}

__attribute__((noinline)) static long burn(long x)
{
	return x * 31 + 7;
}

/* With preemption off (SQ_DEBUG=preempt=off, one P) nothing takes the P
 * back from the spinner: then it yields now and then. */
static int coop;

static int spinner(void *arg)
{
	long x = 0, n = 0;

	while (spinning) {
		x = burn(x);
		if (coop && (++n & 0xffff) == 0)
			sq_yield();
	}
	sq_wg_done(gs);
	return (int)x;
}

static int start_gs(void *arg)
{
	sq_wg_add(gs, 3);
	sq_spawn(gwork, NULL);
	sq_spawn(gwork, NULL);
	sq_spawn(spinner, NULL);
	return 1;
}

static int wait_gs(void *arg)
{
	while (__atomic_load_n(&nsys, __ATOMIC_RELAXED) < 2 * iters)
		sq_yield();
	spinning = 0;
	sq_wg_wait(gs);
	return 1;
}

int main(void)
{
	pthread_t t[SWITCHERS + SHORTLIVED];
	int i, n = 0;

	begin();
	setenv("SQ_MAXPROCS", "2", 0);
	coop = getenv("SQ_DEBUG") && strstr(getenv("SQ_DEBUG"), "preempt=off");
	if (pipe(pfd) < 0)
		return 1;
	sq_init();
	gs = sq_wg_new();
	storm_start();
	callback(start_gs, NULL);
	for (i = 0; i < SWITCHERS; i++)
		pthread_create(&t[n++], NULL, switcher, (void *)(long)i);
	for (i = 0; i < SHORTLIVED; i++)
		pthread_create(&t[n++], NULL, churner, (void *)(long)(SWITCHERS + i));
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	callback(wait_gs, NULL);
	storm_end();
	finish(nfirst != SWITCHERS || nswitch != SWITCHERS * iters || nshort != SHORTLIVED * (iters / 4) || nsys != 2 * iters, 1);
}
