//! uses locked
//! only sq
//! expect fatal DEADLOCK
/* ---- sc_locked, mode deadlock ---------------------------------------------
 * The sleep mode's ring (nthreads locked Gs, the main G first, and two
 * unlocked ones pass a baton and sleep 1 to 100 us), then every member
 * blocks for good instead of ending: on a channel nobody sends on or a wait
 * group nobody finishes, still locked or unlocked first, some after a last
 * sleep of 0.1 to 20 ms; each member's way is drawn from the seed. The main
 * G first ends the storm and the idle thread: while a thread the runtime
 * does not own exists, it may call in, and no deadlock may be declared.
 * Then nothing can ever run again: the runtime owes its deadlock error
 * (DEADLOCK, Go's words), and a hang is the bug. */

enum { SLEEP_PASSES = 4 };

typedef struct ringpos {
	int self;
	sq_chan *in, *out;
	long passes;
	int last;		/* how it blocks for good (LAST_*) */
	int64_t lastsleep;	/* its last sleep, with LAST_SLEEP */
} ringpos;

static ringpos ring[SLOTS + 2];
static long total_passes;

enum { LAST_SLEEP = 1, LAST_UNLOCK = 2, LAST_WG = 4 };

static sq_chan *never;
static sq_wg *neverwg;

static _Noreturn void block_for_good(ringpos *rp)
{
	uintptr_t v;

	if (rp == &ring[0]) {
		storm_end();
		idle_stop();
	}
	if (rp->last & LAST_SLEEP)
		sleep_checked(rp->lastsleep, "a last sleep");
	if ((rp->last & LAST_UNLOCK) && rp->self >= 0) {
		untarget(rp->self);
		slot_clear(rp->self);
		sq_unlockosthread();
	}
	if (rp->last & LAST_WG)
		sq_wg_wait(neverwg);
	else
		sq_chan_recv(never, &v);
	violation("deadlock", "blocked for good", "a G blocked for good came back");
}

static int ring_member(void *arg)
{
	ringpos *rp = arg;
	int32_t tid = 0;
	uintptr_t v;

	if (rp->self >= 0) {
		sq_lockosthread();
		tid = tid_now();
		slot_publish(rp->self, tid);
		target(rp->self);
	}
	while (sq_chan_recv(rp->in, &v) == 0 && (long)v < total_passes) {
		if (v % 8 == 7)
			sq_yield();
		else
			sleep_checked(draw_sleep(), rp->self >= 0 ? "a locked G" : "an unlocked G");
		if (rp->self >= 0)
			check_stayed(rp->self, tid, "a sleep", (long)v);
		else
			check_alone(-1, "an unlocked G");
		rp->passes++;
		sq_chan_send(rp->out, v + 1);
	}
	sq_chan_send(rp->out, v);
	block_for_good(rp);
}

static int g_main(void *arg)
{
	int n = nthreads + 2;
	sq_chan *ch[SLOTS + 2];

	storm_start();
	total_passes = iters * SLEEP_PASSES;
	for (int i = 0; i < n; i++)
		ch[i] = sq_chan_new(1);
	for (int i = 0, locked = 0; i < n; i++) {
		int lk = locked < nthreads && (i % 2 == 0 || n - i <= nthreads - locked);

		ring[i] = (ringpos){ lk ? locked++ : -1, ch[i], ch[(i + 1) % n], 0, 0, 0 };
	}
	never = sq_chan_new(0);
	neverwg = sq_wg_new();
	sq_wg_add(neverwg, 1);
	for (int i = 0; i < n; i++) {
		ring[i].last = (int)randn(8);
		ring[i].lastsleep = (1 + randn(200)) * 100 * 1000;
	}
	for (int i = 1; i < n; i++)
		sq_spawn(ring_member, &ring[i]);
	sq_chan_send(ch[0], 0);
	ring_member(&ring[0]);
	return 0;
}

int main(void)
{
	begin();
	sq_main(g_main, NULL);
}
