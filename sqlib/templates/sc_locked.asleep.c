//! uses locked
//! expect clean
/* ---- sc_locked, mode asleep -----------------------------------------------
 * The sleep mode's ring, then the storm and the idle thread end, every
 * member but the last to arrive waits at a gate, and the last sleeps 0.1
 * to 20 ms before it opens it. For that long every G is blocked and one
 * timer is all that is pending: a deadlock declared there is the bug. The
 * run must end clean. */

static sq_wg *wg;
static sq_chan *gate;
static int arrived;

static int ring_member(void *arg)
{
	ringpos *rp = arg;
	int n = nthreads + 2;
	uintptr_t v;

	ring_turns(rp);
	if (rp == &ring[0]) {
		storm_end();
		idle_stop();
	}
	if (__atomic_add_fetch(&arrived, 1, __ATOMIC_ACQ_REL) < n) {
		sq_chan_recv(gate, &v);
	} else {
		sleep_checked(lastsleep[rp - ring], "the last G awake");
		for (int i = 1; i < n; i++)
			sq_chan_send(gate, 1);
	}
	ring_unlock(rp);
	if (rp != &ring[0])
		sq_wg_done(wg);
	return 0;
}

static int g_main(void *arg)
{
	int n;
	long passes = 0;

	storm_start();
	n = ring_make();
	gate = sq_chan_new(0);
	for (int i = 0; i < n; i++)
		lastsleep[i] = (1 + randn(200)) * 100 * 1000;
	wg = sq_wg_new();
	sq_wg_add(wg, n - 1);
	for (int i = 1; i < n; i++)
		sq_spawn(ring_member, &ring[i]);
	sq_chan_send(ring[0].in, 0);
	ring_member(&ring[0]);
	sq_wg_wait(wg);
	for (int i = 0; i < n; i++)
		passes += ring[i].passes;
	if (passes != total_passes) {
		snprintf(vbuf, sizeof vbuf, "%ld passes made, %ld wanted", passes, total_passes);
		violation("sleep", "baton", vbuf);
	}
	finish(0, 1);
}

int main(void)
{
	begin();
	sq_main(g_main, NULL);
}
