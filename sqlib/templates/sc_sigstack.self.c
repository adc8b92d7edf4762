//! expect fatal SYSTEMSTACK_GSIGNAL
//! only sq
/* ---- sc_sigstack, mode self -----------------------------------------------
 * A G runs C through an outcall (so g0 is in use), the C signals its own
 * thread at a fixed point, and the runtime's signal handler calls
 * systemstack (the fault site armed below). A correct runtime refuses on
 * the spot (SQ_F_SYSTEMSTACK_GSIGNAL). */

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

static int cwork(void *arg)
{
	long n = (long)arg;
	uint64_t h = rounds(0xcbf29ce484222325ull, n);

	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGURG);	/* handled before it returns */
	h = rounds(h, 1000);
	return (int)(h & 0x7fffffff);
}

static int g_main(void *arg)
{
	long n = 20000, bad = 0;
	int want = (int)(rounds(rounds(0xcbf29ce484222325ull, n), 1000) & 0x7fffffff);

	char spec[64];

	snprintf(spec, sizeof spec, "%s:%s:every", sq_site_name(SQ_SITE_SIGHANDLER_DISPATCH),
		sq_action_name(SQ_ACT_SYSTEMSTACK));
	if (sq_fault_arm(spec) != 0)
		finish(1, 0);
	for (long i = 0; i < iters; i++)
		bad += sq_ccall(cwork, (void *)n) != want;
	finish(bad != 0, 1);
}

int main(void)
{
	begin();
	sq_main(g_main, NULL);
}
