//! expect fatal SYSTEMSTACK_GSIGNAL
//! only sq
/* ---- sc_sigstack, mode pinger ---------------------------------------------
 * A G runs C through an outcall (so g0 is in use) while another thread
 * sends SIGURG to it, landing anywhere in the C; the runtime's signal
 * handler calls systemstack (the fault site armed below). A correct
 * runtime refuses on the spot (SQ_F_SYSTEMSTACK_GSIGNAL). */

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

/* Does not finish before the pinger has hit this thread at least once. */
static int cwork(void *arg)
{
	long n = (long)arg, before = sent;
	uint64_t h;

	ctid = (int32_t)syscall(SYS_gettid);
	h = rounds(0xcbf29ce484222325ull, n);
	while (sent == before)
		__asm__ volatile("" ::: "memory");
	h = rounds(h, 1000);
	ctid = 0;
	return (int)(h & 0x7fffffff);
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
	int want = (int)(rounds(rounds(0xcbf29ce484222325ull, n), 1000) & 0x7fffffff);
	pthread_t p;

	char spec[64];

	snprintf(spec, sizeof spec, "%s:%s:every", sq_site_name(SQ_SITE_SIGHANDLER_DISPATCH),
		sq_action_name(SQ_ACT_SYSTEMSTACK));
	if (sq_fault_arm(spec) != 0)
		finish(1, 0);
	pthread_create(&p, NULL, pinger, NULL);
	for (long i = 0; i < iters; i++)
		bad += sq_ccall(cwork, (void *)n) != want;
	stop = 1;
	pthread_join(p, NULL);
	finish(bad != 0, 1);
}

int main(void)
{
	begin();
	sq_main(g_main, NULL);
}
