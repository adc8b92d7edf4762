//! uses locked
//! expect clean
/* ---- sc_locked, mode asleep -----------------------------------------------
 * The sleep mode's ring (nthreads locked Gs, the main G first, and two
 * unlocked ones pass a baton and sleep 1 to 100 us), then the storm and
 * the idle thread end, every member but the last to arrive waits at a
 * gate, and the last sleeps 0.1 to 20 ms before it opens it. For that long
 * every G is blocked and one timer is all that is pending: a deadlock
 * declared there is the bug. The run must end clean. */

enum { SLEEP_PASSES = 4 };

static sq_wg *wg;

typedef struct ringpos {
	int self;
	sq_chan *in, *out;
	long passes;
} ringpos;

static ringpos ring[SLOTS + 2];
static long total_passes;
static int64_t lastsleep[SLOTS + 2];
static sq_chan *gate;
static int arrived;

static void asleep_end(ringpos *rp, int n)
{
	uintptr_t v;

	if (rp == &ring[0]) {
		storm_end();
		idle_stop();
	}
	if (__atomic_add_fetch(&arrived, 1, __ATOMIC_ACQ_REL) < n) {
		sq_chan_recv(gate, &v);
		return;
	}
	sleep_checked(lastsleep[rp - ring], "the last G awake");
	for (int i = 1; i < n; i++)
		sq_chan_send(gate, 1);
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
	asleep_end(rp, nthreads + 2);
	if (rp->self >= 0) {
		untarget(rp->self);
		slot_clear(rp->self);
		sq_unlockosthread();
	}
	if (rp != &ring[0])
		sq_wg_done(wg);
	return 0;
}

static int g_main(void *arg)
{
	int n = nthreads + 2;
	sq_chan *ch[SLOTS + 2];
	long passes = 0;

	storm_start();
	total_passes = iters * SLEEP_PASSES;
	for (int i = 0; i < n; i++)
		ch[i] = sq_chan_new(1);
	for (int i = 0, locked = 0; i < n; i++) {
		int lk = locked < nthreads && (i % 2 == 0 || n - i <= nthreads - locked);

		ring[i] = (ringpos){ lk ? locked++ : -1, ch[i], ch[(i + 1) % n], 0 };
	}
	gate = sq_chan_new(0);
	for (int i = 0; i < n; i++)
		lastsleep[i] = (1 + randn(200)) * 100 * 1000;
	wg = sq_wg_new();
	sq_wg_add(wg, n - 1);
	for (int i = 1; i < n; i++)
		sq_spawn(ring_member, &ring[i]);
	sq_chan_send(ch[0], 0);
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
