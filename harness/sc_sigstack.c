/*
 * sc_sigstack: signal handlers that reach systemstack. A G runs C through
 * an outcall, so g0 is in use; another thread sends that thread SIGURG
 * while the fault site in the runtime's handler calls systemstack. A
 * correct runtime refuses on the spot ("systemstack called from signal
 * stack"). One that accepts runs on g0 over the frames of the interrupted
 * C, and switches "back" to m->curg instead of gsignal.
 */
#include "scenario.h"

static const sc_info info = {
	"sc_sigstack", "systemstack reached from the signal handler while g0 is busy",
	"ccall", 200, 1,
};

static volatile int32_t ctid;
static volatile int stop;

__attribute__((noinline)) static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ull;
}

/* The C side: a checksum whose every step keeps state in registers and
 * frames on g0, long enough for the pinger to land inside it. */
static int cwork(void *arg)
{
	uint64_t h = 0xcbf29ce484222325ull;
	long n = (long)arg;

	ctid = (int32_t)syscall(SYS_gettid);
	for (long i = 0; i < n; i++)
		h = mix(h, (uint64_t)i);
	ctid = 0;
	return (int)(h & 0x7fffffff);
}

static int expected(long n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (long i = 0; i < n; i++)
		h = mix(h, (uint64_t)i);
	return (int)(h & 0x7fffffff);
}

static void *pinger(void *arg)
{
	pid_t pid = getpid();

	while (!stop) {
		int32_t t = ctid;

		if (t)
			syscall(SYS_tgkill, pid, t, SIGURG);
	}
	return NULL;
}

static int g_main(void *arg)
{
	long n = 200000, bad = 0;
	int want = expected(n);
	pthread_t p;

	if (sqt_arm("sighandler.dispatch:systemstack:every") != 0)
		sc_finish(SC_WRONG, 0);
	pthread_create(&p, NULL, pinger, NULL);
	for (long i = 0; i < sc.iters; i++)
		bad += sqt_outcall(cwork, (void *)n) != want;
	stop = 1;
	pthread_join(p, NULL);
	sc_event("DONE outcalls=%ld wrong=%ld", sc.iters, bad);
	sc_finish(bad ? SC_WRONG : SC_CLEAN, 1);
}

int main(int argc, char **argv)
{
	sc_begin(argc, argv, &info);
	sc_expect_fatal("systemstack called from signal stack");
	sqt_main(g_main, NULL);
}
