/*
 * sc_mixed: everything at once on two Ps. Foreign threads switch stacks
 * between bound callbacks; short-lived threads attach, call in and die;
 * Gs spawned from a callback make syscalls, block in read(), spin until
 * preempted and run outcalls that call back in; the storm (when chosen)
 * hits every registered thread. Run with SQ_MAXPROCS=2 (set here unless
 * the environment says otherwise).
 */
#include "scenario.h"
#include "cstack.h"

static const sc_info info = {
	"sc_mixed", "stack switches, attach/detach, syscall windows and signals at once",
	"all", 500, 2, 200,
};

enum { SWITCHERS = 2, SHORTLIVED = 2 };

static sqt_wg *gs;
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
	sc_callback(counted, arg);
}

static void *switcher(void *arg)
{
	/* Both switched-to stacks on one side of this thread's stack, the side
	 * the seed's low bit picks (cstack.h): odd above, even below. */
	int place = sc.seed & 1 ? CS_ABOVE : CS_BELOW;
	cstack st[3] = { { .kind = CS_PTHREAD }, { .kind = CS_UCONTEXT, .place = place },
			 { .kind = CS_BOOST, .place = place } };

	sc_target((int)(long)arg);
	/* The first callback from the thread's own stack: its M's g0 takes
	 * that stack's bounds, and every switch after it goes to the side
	 * picked above, whatever the draws below. */
	sc_callback(counted, &nfirst);
	for (long i = 0; i < sc.iters; i++, sc_tick())
		cs_run(&st[i ? sc_randn(3) : 1 + sc_randn(2)], callin, &nswitch);	/* the first one switches */
	sc_untarget((int)(long)arg);
	return NULL;
}

static void *shortlived(void *arg)
{
	sc_target((int)(long)arg);
	sc_callback(counted, &nshort);
	sc_untarget((int)(long)arg);
	return NULL;
}

static void *churner(void *arg)
{
	for (long i = 0; i < sc.iters / 4; i++) {
		pthread_t t;

		pthread_create(&t, NULL, shortlived, arg);
		pthread_join(t, NULL);
	}
	return NULL;
}

static int cside(void *arg)
{
	return sc_callback(counted, &nccall);
}

static int gwork(void *arg)
{
	char c;

	for (long i = 0; i < sc.iters; i++) {
		sqt_syscall(SYS_getpid, 0, 0, 0);
		__atomic_add_fetch(&nsys, 1, __ATOMIC_RELAXED);
		if (i % 8 == 0)
			sqt_outcall(cside, NULL);
		if (i % 16 == 0) {
			sqt_syscall(SYS_write, pfd[1], (long)"x", 1);
			sqt_syscall_block(SYS_read, pfd[0], (long)&c, 1);
		}
	}
	sqt_wg_done(gs);
	return 0;
}

__attribute__((noinline)) static long burn(long x)
{
	return x * 31 + 7;
}

/* The spinner is there to be preempted. With preemption off (a
 * derandomized replay runs SQ_DEBUG=preempt=off on one P) nothing would
 * ever take the P back from it, and every other G and callback would wait
 * for good: then it yields now and then instead. */
static int coop;

static int spinner(void *arg)
{
	long x = 0, n = 0;

	while (spinning) {
		x = burn(x);
		if (coop && (++n & 0xffff) == 0)
			sqt_yield();
	}
	sqt_wg_done(gs);
	return (int)x;
}

static int start_gs(void *arg)
{
	sqt_wg_add(gs, 3);
	sqt_spawn(gwork, NULL);
	sqt_spawn(gwork, NULL);
	sqt_spawn(spinner, NULL);
	return 1;
}

static int wait_gs(void *arg)
{
	while (__atomic_load_n(&nsys, __ATOMIC_RELAXED) < 2 * sc.iters)
		sqt_yield();
	spinning = 0;
	sqt_wg_wait(gs);
	return 1;
}

int main(int argc, char **argv)
{
	pthread_t t[SWITCHERS + SHORTLIVED];
	int i, n = 0;

	sc_begin(argc, argv, &info);
	sc_expect_clean();
	setenv("SQ_MAXPROCS", "2", 0);
	coop = getenv("SQ_DEBUG") && strstr(getenv("SQ_DEBUG"), "preempt=off");
	if (pipe(pfd) < 0)
		return SC_WRONG;
	sqt_init();
	gs = sqt_wg_new();
	sc_storm_start();
	sc_callback(start_gs, NULL);
	for (i = 0; i < SWITCHERS; i++)
		pthread_create(&t[n++], NULL, switcher, (void *)(long)i);
	for (i = 0; i < SHORTLIVED; i++)
		pthread_create(&t[n++], NULL, churner, (void *)(long)(SWITCHERS + i));
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	sc_callback(wait_gs, NULL);
	sc_storm_end();
	sc_event("DONE switch=%ld short=%ld syscalls=%ld ccalls=%ld", nswitch, nshort, nsys, nccall);
	sc_finish(nfirst != SWITCHERS || nswitch != SWITCHERS * sc.iters || nshort != SHORTLIVED * (sc.iters / 4) ||
		nsys != 2 * sc.iters ? SC_WRONG : SC_CLEAN, 1);
}
