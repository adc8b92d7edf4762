//! uses locked
//! only sq
//! expect fatal DEADLOCK
/* ---- sc_locked, mode deadlock ---------------------------------------------
 * The sleep mode's ring, then every member blocks for good instead of
 * ending: on a channel nobody sends on or a wait group nobody finishes,
 * still locked or unlocked first, some after a last sleep of 0.1 to 20 ms;
 * each member's way is drawn from the seed. The main G first ends the storm
 * and the idle thread: while a thread the runtime does not own exists, it
 * may call in, and no deadlock may be declared. Then nothing can ever run
 * again: the runtime owes its deadlock error (DEADLOCK, Go's words), and a
 * hang is the bug. */

enum { LAST_SLEEP = 1, LAST_UNLOCK = 2, LAST_WG = 4 };

static int last[SLOTS + 2];
static sq_chan *never;
static sq_wg *neverwg;

static int ring_member(void *arg)
{
	ringpos *rp = arg;
	int i = (int)(rp - ring);
	uintptr_t v;

	ring_turns(rp);
	if (rp == &ring[0]) {
		storm_end();
		idle_stop();
	}
	if (last[i] & LAST_SLEEP)
		sleep_checked(lastsleep[i], "a last sleep");
	if (last[i] & LAST_UNLOCK)
		ring_unlock(rp);
	if (last[i] & LAST_WG)
		sq_wg_wait(neverwg);
	else
		sq_chan_recv(never, &v);
	violation("deadlock", "blocked for good", "a G blocked for good came back");
}

static int g_main(void *arg)
{
	int n;

	storm_start();
	n = ring_make();
	never = sq_chan_new(0);
	neverwg = sq_wg_new();
	sq_wg_add(neverwg, 1);
	for (int i = 0; i < n; i++) {
		last[i] = (int)randn(8);
		lastsleep[i] = (1 + randn(200)) * 100 * 1000;
	}
	for (int i = 1; i < n; i++)
		sq_spawn(ring_member, &ring[i]);
	sq_chan_send(ring[0].in, 0);
	return ring_member(&ring[0]);
}

int main(void)
{
	begin();
	sq_main(g_main, NULL);
}
