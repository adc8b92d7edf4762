//! uses locked
//! expect clean
/* ---- sc_locked, mode sleep ------------------------------------------------
 * A baton goes round a ring of nthreads locked Gs (the main G first) and
 * two unlocked ones; whoever holds it sleeps 1 to 100 us (every 8th pass
 * yields) and passes it on. At most one timer is pending and every other G
 * waits on a channel: a wakeup the scheduler loses stops the program for
 * good (a hang). */

static sq_wg *wg;

static int ring_member(void *arg)
{
	ringpos *rp = arg;

	ring_turns(rp);
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
	wg = sq_wg_new();
	sq_wg_add(wg, n - 1);
	for (int i = 1; i < n; i++)
		sq_spawn(ring_member, &ring[i]);
	sq_chan_send(ring[0].in, 0);
	ring_member(&ring[0]);
	sq_wg_wait(wg);
	for (int i = 0; i < n; i++)
		passes += ring[i].passes;
	storm_end();
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
