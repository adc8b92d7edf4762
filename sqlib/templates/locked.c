/* ---- locked Gs (harness/sc_locked.c) --------------------------------------
 * A locked G publishes (generation << 32 | tid) in its slot while it is
 * locked. A G that reads its tid T, finds T published, reads its tid again
 * (T) and finds the same generation still published ran on T while that G
 * was locked there. A broken rule is a "violation" record and exit 3. */
#include <sys/prctl.h>
#include <time.h>

enum { SLOTS = 64 };

static uint64_t lockslot[SLOTS];
static uint32_t lockgen;
static char vbuf[400];

static int32_t tid_now(void)
{
	return (int32_t)syscall(SYS_gettid);
}

static void slot_publish(int i, int32_t tid)
{
	uint64_t gen = __atomic_add_fetch(&lockgen, 1, __ATOMIC_RELAXED);

	__atomic_store_n(&lockslot[i], gen << 32 | (uint32_t)tid, __ATOMIC_SEQ_CST);
}

static void slot_clear(int i)
{
	__atomic_store_n(&lockslot[i], 0, __ATOMIC_SEQ_CST);
}

static void check_alone(int self, const char *who)
{
	int32_t a = tid_now();

	for (int i = 0; i < SLOTS; i++) {
		uint64_t w = __atomic_load_n(&lockslot[i], __ATOMIC_SEQ_CST);

		if (i == self || !w || (int32_t)(uint32_t)w != a)
			continue;
		if (tid_now() == a && __atomic_load_n(&lockslot[i], __ATOMIC_SEQ_CST) == w) {
			snprintf(vbuf, sizeof vbuf, "%s ran on thread %d while locked G %d was locked to it", who,
				(int)a, i);
			violation("locked", "another G ran on a locked thread", vbuf);
		}
	}
}

static void check_stayed(int self, int32_t tid, const char *after, long round)
{
	int32_t now = tid_now();

	if (now != tid) {
		snprintf(vbuf, sizeof vbuf, "locked G %d, locked to thread %d, ran on thread %d after %s (round %ld)",
			self, (int)tid, (int)now, after, round);
		violation("locked", "a locked G moved", vbuf);
	}
	check_alone(self, "a locked G");
}

static void sleep_checked(int64_t ns, const char *who)
{
	int64_t t0 = mono_ns(), took;

	sq_sleep(ns);
	took = mono_ns() - t0;
	if (took < ns) {
		snprintf(vbuf, sizeof vbuf, "%s asked to sleep %lld ns and was back after %lld ns", who,
			(long long)ns, (long long)took);
		violation("sleep", "a sleep ended early", vbuf);
	}
}

/* 1 to 100 us: where a sleeper's timer and the scheduler giving up meet. */
static int64_t draw_sleep(void)
{
	static const int64_t us[] = { 1, 3, 10, 30, 100 };

	return us[randn(5)] * 1000;
}

//@if ring

/* ---- the baton ring (modes sleep, deadlock, asleep) -------------------------
 * nthreads locked Gs (the main G first) and two unlocked ones, alternating
 * where they can; whoever holds the baton sleeps 1 to 100 us (every 8th
 * pass yields) and passes it on. */
enum { SLEEP_PASSES = 4 };

typedef struct ringpos {
	int self;		/* slot, for a locked one; -1 otherwise */
	sq_chan *in, *out;
	long passes;
} ringpos;

static ringpos ring[SLOTS + 2];
static long total_passes;
static int64_t lastsleep[SLOTS + 2];	/* deadlock, asleep: a member's last sleep */

/* A member's turns: lock (a locked one), take the baton until the end comes
 * round, and pass the end on. */
static void ring_turns(ringpos *rp)
{
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
}

/* A locked member's unlock, at its end. */
static void ring_unlock(ringpos *rp)
{
	if (rp->self >= 0) {
		untarget(rp->self);
		slot_clear(rp->self);
		sq_unlockosthread();
	}
}

/* The ring's places and channels; returns how many members. */
static int ring_make(void)
{
	int n = nthreads + 2;

	total_passes = iters * SLEEP_PASSES;
	for (int i = 0, locked = 0; i < n; i++) {
		int lk = locked < nthreads && (i % 2 == 0 || n - i <= nthreads - locked);

		ring[i] = (ringpos){ lk ? locked++ : -1, sq_chan_new(1), NULL, 0 };
	}
	for (int i = 0; i < n; i++)
		ring[i].out = ring[(i + 1) % n].in;
	return n;
}
//@endif
