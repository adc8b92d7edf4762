//! uses locked
//! expect clean
/* ---- sc_locked, mode stay -------------------------------------------------
 * nthreads Gs lock themselves to their threads (the main G first); each
 * plays ping-pong with a partner G and between rounds sleeps, makes a
 * blocking or a plain system call, yields, makes an outcall, or locks once
 * more and unlocks; two wanderer Gs yield and sleep meanwhile. A locked G
 * must stay on its thread, and no other G may run on a locked thread. */

enum { STAY_ROUNDS = 8 };

static volatile int stop;
static sq_wg *wg;

typedef struct pair {
	sq_chan *ping, *pong;
} pair;

static pair pairs[SLOTS];

static int partner(void *arg)
{
	pair *pp = arg;
	uintptr_t v;

	while (sq_chan_recv(pp->ping, &v) == 0 && v != UINTPTR_MAX) {
		check_alone(-1, "a partner G");
		if (v % 4 == 0)
			sq_yield();
		sq_chan_send(pp->pong, v + 1);
	}
	sq_wg_done(wg);
	return 0;
}

static int wanderer(void *arg)
{
	long n = 0;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		check_alone(-1, "a wanderer G");
		if (++n % 16 == 0)
			sleep_checked(draw_sleep(), "a wanderer G");
		else
			sq_yield();
	}
	sq_wg_done(wg);
	return 0;
}

static int outcall_tid(void *arg)
{
	*(int32_t *)arg = tid_now();
	return 7;
}

static const char *stay_round(int self, int32_t tid)
{
	struct timespec ts = { 0, 20 * 1000 };
	int32_t ran_on = 0;

	switch (randn(6)) {
	case 0:
		sleep_checked(draw_sleep(), "a locked G");
		return "a sleep";
	case 1:
		sq_syscall_block(SYS_nanosleep, (long)&ts, 0, 0, 0, 0, 0);
		return "a blocking system call";
	case 2:
		sq_syscall(SYS_getppid, 0, 0, 0, 0, 0, 0);
		return "a system call";
	case 3:
		sq_yield();
		return "a yield";
	case 4:
		if (sq_ccall(outcall_tid, &ran_on) != 7 || ran_on != tid) {
			snprintf(vbuf, sizeof vbuf, "locked G %d on thread %d made an outcall that ran on thread %d",
				self, (int)tid, (int)ran_on);
			violation("locked", "an outcall moved", vbuf);
		}
		return "an outcall";
	default:
		sq_lockosthread();
		sq_yield();
		sq_unlockosthread();
		return "a nested lock, a yield and one unlock";
	}
}

static int stay_locked(void *arg)
{
	int self = (int)(long)arg;
	pair *pp = &pairs[self];
	long rounds = iters * STAY_ROUNDS;
	uintptr_t v = 0;
	int32_t tid;

	sq_lockosthread();
	tid = tid_now();
	slot_publish(self, tid);
	target(self);
	for (long i = 0; i < rounds; i++) {
		sq_chan_send(pp->ping, v);
		sq_chan_recv(pp->pong, &v);
		check_stayed(self, tid, "a ping-pong", i);
		check_stayed(self, tid, stay_round(self, tid), i);
	}
	untarget(self);
	slot_clear(self);
	sq_unlockosthread();
	sq_chan_send(pp->ping, UINTPTR_MAX);
	if (v != (uintptr_t)rounds) {
		snprintf(vbuf, sizeof vbuf, "locked G %d: %lu values came back, %ld went out", self,
			(unsigned long)v, rounds);
		violation("locked", "ping-pong", vbuf);
	}
	if (self != 0)
		sq_wg_done(wg);
	return 0;
}

static int g_main(void *arg)
{
	int n = nthreads;

	storm_start();
	wg = sq_wg_new();
	sq_wg_add(wg, (n - 1) + n + 2);
	for (int i = 0; i < n; i++) {
		pairs[i] = (pair){ sq_chan_new(0), sq_chan_new(0) };
		sq_spawn(partner, &pairs[i]);
	}
	for (int i = 1; i < n; i++)
		sq_spawn(stay_locked, (void *)(long)i);
	sq_spawn(wanderer, NULL);
	sq_spawn(wanderer, NULL);
	stay_locked((void *)0L);
	for (;;) {
		int busy = 0;

		for (int i = 1; i < n; i++)
			busy |= __atomic_load_n(&lockslot[i], __ATOMIC_SEQ_CST) != 0;
		if (!busy)
			break;
		sq_sleep(1000 * 1000);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	sq_wg_wait(wg);
	storm_end();
	finish(0, 1);
}

int main(void)
{
	begin();
	sq_main(g_main, NULL);
}
