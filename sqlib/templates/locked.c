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

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
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

