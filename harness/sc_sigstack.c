/*
 * sc_sigstack: signal handlers that reach systemstack. A G runs C through
 * an outcall, so g0 is in use, and a SIGURG arrives in the middle of that
 * C while the fault site in the runtime's handler calls systemstack. A
 * correct runtime refuses on the spot ("systemstack called from signal
 * stack"). One that accepts runs on g0 over the frames of the interrupted
 * C, and switches "back" to m->curg instead of gsignal.
 *
 * Mode "self": the C signals its own thread at a fixed point, so the
 * handler lands on the same frames every time (replays are exact). Mode
 * "pinger": another thread sends the signals, landing anywhere in the C.
 */
#include "scenario.h"

static const sc_info info = {
	"sc_sigstack", "systemstack reached from the signal handler while g0 is busy",
	"self|pinger", 200, 1, 20,
};

static volatile int32_t ctid;
static volatile int stop;
static volatile long sent;

__attribute__((noinline)) static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ull;
}

static uint64_t rounds(uint64_t h, long n)
{
	for (long i = 0; i < n; i++)
		h = mix(h, (uint64_t)i);
	return h;
}

/* The C side: a checksum whose every step keeps state in registers and
 * frames on g0, and does not finish before the pinger has hit this thread
 * at least once while it runs. */
static int cwork(void *arg)
{
	long n = (long)arg, before = sent;
	uint64_t h;

	ctid = (int32_t)syscall(SYS_gettid);
	h = rounds(0xcbf29ce484222325ull, n);
	if (sc_mode("self"))
		syscall(SYS_tgkill, getpid(), ctid, SIGURG);	/* handled before it returns */
	else
		while (sent == before)
			__asm__ volatile("" ::: "memory");
	h = rounds(h, 1000);
	ctid = 0;
	return (int)(h & 0x7fffffff);
}

static int expected(long n)
{
	return (int)(rounds(rounds(0xcbf29ce484222325ull, n), 1000) & 0x7fffffff);
}

static void *pinger(void *arg)
{
	pid_t pid = getpid();

	while (!stop) {
		int32_t t = ctid;

		if (t && syscall(SYS_tgkill, pid, t, SIGURG) == 0)
			sent++;
	}
	return NULL;
}

static int g_main(void *arg)
{
	long n = 20000, bad = 0;
	int want = expected(n);
	pthread_t p;
	char spec[64];
	int r;

	snprintf(spec, sizeof spec, "%s:%s:every", sq_site_name(SQ_SITE_SIGHANDLER_DISPATCH),
		sq_action_name(SQ_ACT_SYSTEMSTACK));
	if ((r = sqt_arm(spec)) == -ENOSYS)
		sc_skip("the target has no fault sites to reach systemstack from its signal handler");
	if (r != 0)
		sc_finish(SC_WRONG, 0);
	if (sc_mode("pinger"))
		pthread_create(&p, NULL, pinger, NULL);
	for (long i = 0; i < sc.iters; i++, sc_tick())
		bad += sqt_outcall(cwork, (void *)n) != want;
	stop = 1;
	if (sc_mode("pinger"))
		pthread_join(p, NULL);
	sc_event("DONE outcalls=%ld wrong=%ld", sc.iters, bad);
	sc_finish(bad ? SC_WRONG : SC_CLEAN, 1);
}

int main(int argc, char **argv)
{
	sc_begin(argc, argv, &info);
	sc_expect_fatal(SQ_F_SYSTEMSTACK_GSIGNAL);
	sqt_main(g_main, NULL);
}
