/*
 * sc_locked: Gs locked to their threads (sqt_lockosthread, Go's
 * runtime.LockOSThread), sleeping on timers and ending while locked.
 *
 * A locked G is the scheduler's awkward customer: whoever dequeues it must
 * hand a P to the one M it may run on and park itself, and that M, parked
 * whenever the G blocks, must give its P away first. Timers make it worse:
 * the G that wakes from a sleep is made runnable by whoever runs the timer,
 * possibly a thread with no P at all, and somebody must still be woken to
 * run it. A wakeup lost there leaves a runnable G and every M parked.
 *
 * Modes (--threads: how many Gs lock themselves; the main G is the first):
 *   stay   each locked G plays ping-pong with a partner G over channels and
 *          between rounds sleeps, makes blocking and plain system calls,
 *          yields, makes an outcall, or locks once more and unlocks; two
 *          wanderer Gs yield and sleep meanwhile. The locked G must find
 *          itself on the thread it locked after every one of them, and no
 *          other G may ever run on a thread while a G is locked to it.
 *   sleep  a baton goes round a ring of the locked Gs and two unlocked
 *          ones; whoever holds it sleeps a short drawn time (1 to 100 us)
 *          or yields, then passes it on. At most one timer is pending and
 *          every other G waits on a channel, so a lost wakeup stops the
 *          whole program: a hang, the watchdog's finding. A sleep that ends
 *          before its time is a violation.
 *   exit   rounds: a G locks (once or twice), names its thread
 *          (PR_SET_NAME: thread state nobody else may inherit), blocks on
 *          a channel and sleeps while locked, then ends locked, by
 *          returning or by sqt_goexit from a few frames down; the next
 *          round's checker Gs first read their own thread's name. The main
 *          G stays locked to its own thread (the thread that must not end)
 *          throughout, and the last G to end locked is the last G to end
 *          before the final checks.
 *   deadlock  the sleep mode's ring, then every member blocks for good
 *          instead of ending: on a channel nobody sends on or a wait group
 *          nobody finishes, still locked or unlocked first, some after a
 *          last sleep (0.1 to 20 ms) whose timer may be the last thing
 *          pending while the others have blocked; each member's way is
 *          drawn from the seed. The main G first ends the storm and the
 *          progress thread (a thread the runtime does not own may call
 *          in: no runtime may declare a deadlock while one exists). Then
 *          nothing can ever run again, and the runtime owes its deadlock
 *          error (SQ_F_DEADLOCK, Go's words); a hang is the watchdog's
 *          finding, a G that comes back a violation. Skipped
 *          where the target never declares one (sqt_declares_deadlock).
 *   asleep  the sleep mode's ring, then the same end without the deadlock:
 *          the storm and the progress thread end, every member but the
 *          last to arrive waits at a gate (a channel), and the last sleeps
 *          a drawn 0.1 to 20 ms and then opens it. For that long every G
 *          is blocked, locked ones with their Ms parked, and one timer is
 *          all that is pending: a runtime that declares a deadlock there
 *          (one that forgets timers, or miscounts parked Ms) is wrong. The
 *          run must end clean.
 *
 * Oracles, all from outside the runtime (gettid, /proc/self/task, the
 * thread's name), so they hold on every target:
 *   - a locked G's thread id does not change while it is locked;
 *   - no G runs on a thread another G is locked to: a locked G publishes
 *     (generation, tid) while locked; a G that reads its tid T, finds T
 *     published, reads its tid again (T) and finds the same generation
 *     still published ran on T while that G was locked there;
 *   - sleeps last at least what they asked for, and all of them end;
 *   - a G that ends locked takes its thread with it: every thread such a G
 *     left must be gone from /proc/self/task within two seconds of the
 *     last round, but one (the thread a runtime must keep: our M0, Go's
 *     m0, parked for good instead), and the process's thread count may
 *     grow by at most EXIT_GROWTH over the rounds (a "leak");
 *   - no G ever runs on a thread in the state a locked G left it in (a
 *     checker finding the name: TestLockOSThreadAvoidsStatePropagation).
 */
#include <sys/prctl.h>

#include "scenario.h"

static const sc_info info = {
	"sc_locked", "Gs locked to their threads: they stay there alone, their sleeps come back, and one that ends locked takes its thread along",
	"stay|sleep|exit|deadlock|asleep", 200, 2, 60,
};

enum {
	STAY_ROUNDS = 8,	/* stay: rounds per --iters */
	SLEEP_PASSES = 4,	/* sleep: baton passes per --iters (exit: one round each) */
	EXIT_WARMUP = 8,	/* exit: rounds before the first thread count */
	EXIT_CHECKERS = 3,	/* exit: checker Gs per round */
	EXIT_GROWTH = 8,	/* exit: threads the process may gain over the rounds */
	EXIT_KEPT = 1,		/* exit: threads left by locked Gs that may stay */
	EXIT_WAIT_MS = 2000,	/* exit: how long the left threads have to end */
};

static const char TAINT[] = "sc-locked-left";

static int32_t tid_now(void)
{
	return (int32_t)syscall(SYS_gettid);
}

/* ---- who is locked where --------------------------------------------------
 * Slot i: (generation << 32 | tid) while locked G i is locked, 0 otherwise.
 * Published after the lock and cleared before the unlock (or the exit),
 * so a published slot always means "locked there". */

static uint64_t lockslot[SC_MAXTHREADS];
static uint32_t lockgen;

static void slot_publish(int i, int32_t tid)
{
	uint64_t gen = __atomic_add_fetch(&lockgen, 1, __ATOMIC_RELAXED);

	__atomic_store_n(&lockslot[i], gen << 32 | (uint32_t)tid, __ATOMIC_SEQ_CST);
}

static void slot_clear(int i)
{
	__atomic_store_n(&lockslot[i], 0, __ATOMIC_SEQ_CST);
}

/* The calling G (the owner of slot self, or -1) must not be on a thread
 * another G is locked to. One reading of the tid proves nothing (the G
 * may have moved since, and the locked G come); the same tid read again
 * with the same generation published before and after it does. */
static void check_alone(int self, const char *who)
{
	int32_t a = tid_now();

	for (int i = 0; i < SC_MAXTHREADS; i++) {
		uint64_t w = __atomic_load_n(&lockslot[i], __ATOMIC_SEQ_CST);

		if (i == self || !w || (int32_t)(uint32_t)w != a)
			continue;
		if (tid_now() == a && __atomic_load_n(&lockslot[i], __ATOMIC_SEQ_CST) == w)
			sc_violation("locked", "another G ran on a locked thread",
				"%s ran on thread %d while locked G %d was locked to it", who, (int)a, i);
	}
}

/* A locked G after anything that may have descheduled it. */
static void check_stayed(int self, int32_t tid, const char *after, long round)
{
	int32_t now = tid_now();

	if (now != tid)
		sc_violation("locked", "a locked G moved",
			"locked G %d, locked to thread %d, ran on thread %d after %s (round %ld)", self, (int)tid,
			(int)now, after, round);
	check_alone(self, "a locked G");
}

static void sleep_checked(int64_t ns, const char *who)
{
	int64_t t0 = sc_mono_ns(), took;

	if (sqt_sleep(ns) == -ENOSYS)
		sc_skip("the target has no timers (sqt_sleep: ENOSYS)");
	took = sc_mono_ns() - t0;
	if (took < ns)
		sc_violation("sleep", "a sleep ended early", "%s asked to sleep %lld ns and was back after %lld ns",
			who, (long long)ns, (long long)took);
}

/* The scenario's locks: a target without them skips every mode. */
static void lock_or_skip(void)
{
	if (sqt_lockosthread() == -ENOSYS)
		sc_skip("the target cannot lock a G to its thread (sqt_lockosthread: ENOSYS)");
}

/* Short sleeps, in the range where a sleeper's timer and the scheduler's
 * giving up on work meet: from below a context switch to a sysmon tick. */
static int64_t draw_sleep(void)
{
	static const int64_t us[] = { 1, 3, 10, 30, 100 };

	return us[sc_randn(5)] * 1000;
}

static volatile int stop;
static sqt_wg *wg;

/* ---- stay ------------------------------------------------------------------ */

typedef struct pair {
	sqt_chan *ping, *pong;
} pair;

static pair pairs[SC_MAXTHREADS];

static int partner(void *arg)
{
	pair *pp = arg;
	uintptr_t v;

	while (sqt_chan_recv(pp->ping, &v) == 0 && v != UINTPTR_MAX) {
		check_alone(-1, "a partner G");
		if (v % 4 == 0)
			sqt_yield();
		sqt_chan_send(pp->pong, v + 1);
	}
	sqt_wg_done(wg);
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
			sqt_yield();
	}
	sqt_wg_done(wg);
	return 0;
}

typedef struct outarg {
	int32_t tid;
	int32_t ran_on;
} outarg;

static int outcall_tid(void *arg)
{
	((outarg *)arg)->ran_on = tid_now();
	return 7;
}

/* One round's way of being descheduled, drawn; returns what it was. */
static const char *stay_round(int self, int32_t tid)
{
	struct timespec ts = { 0, 20 * 1000 };
	outarg oa = { tid, 0 };

	switch (sc_randn(6)) {
	case 0:
		sleep_checked(draw_sleep(), "a locked G");
		return "a sleep";
	case 1:
		sqt_syscall_block(SYS_nanosleep, (long)&ts, 0, 0);
		return "a blocking system call";
	case 2:
		sqt_syscall(SYS_getppid, 0, 0, 0);
		return "a system call";
	case 3:
		sqt_yield();
		return "a yield";
	case 4:
		if (sqt_outcall(outcall_tid, &oa) != 7 || oa.ran_on != tid)
			sc_violation("locked", "an outcall moved",
				"locked G %d on thread %d made an outcall that ran on thread %d", self, (int)tid,
				(int)oa.ran_on);
		return "an outcall";
	default:	/* nested: one unlock of two leaves it locked */
		sqt_lockosthread();
		sqt_yield();
		sqt_unlockosthread();
		return "a nested lock, a yield and one unlock";
	}
}

static int stay_locked(void *arg)
{
	int self = (int)(long)arg;
	pair *pp = &pairs[self];
	long rounds = sc.iters * STAY_ROUNDS;
	uintptr_t v = 0;
	int32_t tid;

	lock_or_skip();
	tid = tid_now();
	slot_publish(self, tid);
	sc_target(self);
	for (long i = 0; i < rounds; i++, sc_tick()) {
		sqt_chan_send(pp->ping, v);
		sqt_chan_recv(pp->pong, &v);
		check_stayed(self, tid, "a ping-pong", i);
		check_stayed(self, tid, stay_round(self, tid), i);
	}
	sc_untarget(self);
	slot_clear(self);
	sqt_unlockosthread();
	sqt_chan_send(pp->ping, UINTPTR_MAX);
	if (v != (uintptr_t)rounds)
		sc_violation("locked", "ping-pong", "locked G %d: %lu values came back, %ld went out", self,
			(unsigned long)v, rounds);
	if (self != 0)
		sqt_wg_done(wg);
	return 0;
}

static void run_stay(void)
{
	int n = sc.threads;

	wg = sqt_wg_new();
	sqt_wg_add(wg, (n - 1) + n + 2);	/* locked Gs but main, partners, wanderers */
	for (int i = 0; i < n; i++) {
		pairs[i] = (pair){ sqt_chan_new(0), sqt_chan_new(0) };
		sqt_spawn(partner, &pairs[i]);
	}
	for (int i = 1; i < n; i++)
		sqt_spawn(stay_locked, (void *)(long)i);
	sqt_spawn(wanderer, NULL);
	sqt_spawn(wanderer, NULL);
	stay_locked((void *)0L);
	/* The wanderers stop once every locked G is done: count those first. */
	for (;;) {
		int busy = 0;

		for (int i = 1; i < n; i++)
			busy |= __atomic_load_n(&lockslot[i], __ATOMIC_SEQ_CST) != 0;
		if (!busy)
			break;
		sqt_sleep(1000 * 1000);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	sqt_wg_wait(wg);
	sc_event("STAY locked=%d rounds=%ld each", n, sc.iters * STAY_ROUNDS);
}

/* ---- sleep ------------------------------------------------------------------ */

typedef struct ringpos {
	int self;		/* slot, for a locked one; -1 otherwise */
	sqt_chan *in, *out;
	long passes;
	int last;		/* deadlock: how it blocks for good (LAST_*) */
	int64_t lastsleep;	/* deadlock, asleep: its last sleep */
} ringpos;

static ringpos ring[SC_MAXTHREADS + 2];
static long total_passes;

/* ---- deadlock (the sleep ring's other end) ---------------------------------- */

enum { LAST_SLEEP = 1, LAST_UNLOCK = 2, LAST_WG = 4 };

static sqt_chan *never;		/* nobody ever sends on it */
static sqt_wg *neverwg;		/* nobody ever finishes it */

/* deadlock, asleep: the main G ends the storm and the progress thread
 * before it blocks, so that once every G has, nothing the runtime does not
 * own is left that may call in. */
static void end_outsiders(ringpos *rp)
{
	if (rp == &ring[0]) {
		sc_storm_end();
		sc_ticker_stop();
		sc_event("%s the main G ended the storm and the progress thread", sc.mode);
	}
}

static _Noreturn void block_for_good(ringpos *rp)
{
	int wg = rp->last & LAST_WG;
	uintptr_t v;

	end_outsiders(rp);
	if (rp->last & LAST_SLEEP)
		sleep_checked(rp->lastsleep, "a last sleep");
	if ((rp->last & LAST_UNLOCK) && rp->self >= 0) {
		sc_untarget(rp->self);
		slot_clear(rp->self);
		sqt_unlockosthread();
	}
	if (wg)
		sqt_wg_wait(neverwg);
	else
		sqt_chan_recv(never, &v);
	sc_violation("deadlock", "blocked for good", "a G blocked on a %s nobody will ever %s came back",
		wg ? "wait group" : "channel", wg ? "finish" : "send on");
}

static sqt_chan *gate;		/* asleep: the last to arrive opens it */
static int arrived;

/* asleep: wait at the gate, or, last to arrive, sleep and open it: the main
 * G has arrived before, so the last arrival sleeps with nothing left that
 * may call in. */
static void asleep_end(ringpos *rp, int n)
{
	uintptr_t v;

	end_outsiders(rp);
	if (__atomic_add_fetch(&arrived, 1, __ATOMIC_ACQ_REL) < n) {
		sqt_chan_recv(gate, &v);
		return;
	}
	sleep_checked(rp->lastsleep, "the last G awake");
	sc_event("ASLEEP every other G waited %lld us at the gate", (long long)(rp->lastsleep / 1000));
	for (int i = 1; i < n; i++)
		sqt_chan_send(gate, 1);
}

static int ring_member(void *arg)
{
	ringpos *rp = arg;
	int32_t tid = 0;
	uintptr_t v;

	if (rp->self >= 0) {
		lock_or_skip();
		tid = tid_now();
		slot_publish(rp->self, tid);
		sc_target(rp->self);
	}
	while (sqt_chan_recv(rp->in, &v) == 0 && (long)v < total_passes) {
		if (v % 8 == 7)
			sqt_yield();
		else
			sleep_checked(draw_sleep(), rp->self >= 0 ? "a locked G" : "an unlocked G");
		if (rp->self >= 0)
			check_stayed(rp->self, tid, "a sleep", (long)v);
		else
			check_alone(-1, "an unlocked G");
		rp->passes++;
		sc_tick();
		sqt_chan_send(rp->out, v + 1);
	}
	/* The end goes once round the ring: each member forwards it and
	 * leaves; the last forward lands in a buffer nobody reads. */
	sqt_chan_send(rp->out, v);
	if (sc_mode("deadlock"))
		block_for_good(rp);
	if (sc_mode("asleep"))
		asleep_end(rp, sc.threads + 2);
	if (rp->self >= 0) {
		sc_untarget(rp->self);
		slot_clear(rp->self);
		sqt_unlockosthread();
	}
	if (rp != &ring[0])
		sqt_wg_done(wg);
	return 0;
}

static void run_sleep(void)
{
	int n = sc.threads + 2;
	sqt_chan *ch[SC_MAXTHREADS + 2];
	long passes = 0;

	total_passes = sc.iters * SLEEP_PASSES;
	for (int i = 0; i < n; i++)
		ch[i] = sqt_chan_new(1);
	/* Locked and unlocked members alternate round the ring where they can. */
	for (int i = 0, locked = 0; i < n; i++) {
		int lk = locked < sc.threads && (i % 2 == 0 || n - i <= sc.threads - locked);

		ring[i] = (ringpos){ lk ? locked++ : -1, ch[i], ch[(i + 1) % n], 0, 0, 0 };
	}
	if (sc_mode("asleep"))
		gate = sqt_chan_new(0);
	if (sc_mode("deadlock")) {
		never = sqt_chan_new(0);
		neverwg = sqt_wg_new();
		sqt_wg_add(neverwg, 1);
	}
	for (int i = 0; i < n && !sc_mode("sleep"); i++) {
		if (sc_mode("deadlock"))
			ring[i].last = (int)sc_randn(8);
		ring[i].lastsleep = (1 + sc_randn(200)) * 100 * 1000;
	}
	wg = sqt_wg_new();
	sqt_wg_add(wg, n - 1);
	for (int i = 1; i < n; i++)
		sqt_spawn(ring_member, &ring[i]);
	sqt_chan_send(ch[0], 0);
	ring_member(&ring[0]);
	sqt_wg_wait(wg);
	for (int i = 0; i < n; i++)
		passes += ring[i].passes;
	sc_event("SLEEP members=%d locked=%d passes=%ld", n, sc.threads, passes);
	if (passes != total_passes)
		sc_violation("sleep", "baton", "%ld passes made, %ld wanted", passes, total_passes);
}

/* ---- exit ------------------------------------------------------------------- */

static sqt_chan *born, *go_on, *dying;
static int32_t *left;		/* the threads locked Gs ended on */
static long nleft;
static int nogoexit, goexit_returned;

static int thread_alive(int32_t tid)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
	return access(path, F_OK) == 0;
}

static long count_alive(void)
{
	long n = 0;

	for (long i = 0; i < nleft; i++)
		n += thread_alive(left[i]);
	return n;
}

/* sqt_goexit a few frames down: the frames above it never run again. */
static __attribute__((noinline)) int goexit_from(int depth)
{
	volatile int frame = depth;

	if (depth == 0) {
		if (sqt_goexit() == -ENOSYS)
			return -ENOSYS;
		__atomic_store_n(&goexit_returned, 1, __ATOMIC_RELAXED);
		return 0;
	}
	return goexit_from(depth - 1) + frame - depth;
}

static int exiter(void *arg)
{
	long round = (long)arg;
	int twice = round % 3 == 1, self = 1;
	uintptr_t v;
	int32_t tid;

	lock_or_skip();
	if (twice)
		sqt_lockosthread();
	tid = tid_now();
	slot_publish(self, tid);
	sc_target(self);
	prctl(PR_SET_NAME, TAINT, 0, 0, 0);
	sqt_chan_send(born, (uintptr_t)tid);
	sqt_chan_recv(go_on, &v);	/* parked locked: its M waits, its P goes */
	check_stayed(self, tid, "a channel receive", round);
	sleep_checked(draw_sleep(), "a G about to exit locked");
	check_stayed(self, tid, "a sleep", round);
	sc_untarget(self);
	slot_clear(self);
	sqt_chan_send(dying, (uintptr_t)round);
	if (round % 2 == 1 && goexit_from(3) == -ENOSYS)
		__atomic_store_n(&nogoexit, 1, __ATOMIC_RELAXED);
	return 0;	/* still locked (once or twice): the thread goes too */
}

static int checker(void *arg)
{
	char name[17] = "";

	check_alone(-1, "a checker G");
	prctl(PR_GET_NAME, name, 0, 0, 0);
	if (strcmp(name, TAINT) == 0)
		sc_violation("locked", "thread state propagated",
			"a G ran on thread %d named \"%s\", the name a G that ended locked gave its thread",
			(int)tid_now(), name);
	sqt_wg_done(arg);
	return 0;
}

/* Round r: checkers look at what round r - 1 left, then a G ends locked.
 * The last round's G is the last to end before the final checks, which
 * see the runtime as it left it (its thread by the count of the living). */
static void exit_round(long r, sqt_wg *checked)
{
	uintptr_t v;

	sqt_wg_add(checked, EXIT_CHECKERS);
	for (int k = 0; k < EXIT_CHECKERS; k++)
		sqt_spawn(checker, checked);
	sqt_wg_wait(checked);
	sqt_spawn(exiter, (void *)r);
	sqt_chan_recv(born, &v);
	left[nleft++] = (int32_t)v;
	sqt_chan_send(go_on, 1);
	sqt_chan_recv(dying, &v);
	sc_tick();
}

static void run_exit(void)
{
	long rounds = sc.iters, t0 = -1, t1, alive;
	sqt_wg *checked = sqt_wg_new();
	int64_t deadline;
	sq_rec r;

	/* The main G keeps its own thread: the one a runtime may not end. */
	lock_or_skip();
	slot_publish(0, tid_now());
	born = sqt_chan_new(0);
	go_on = sqt_chan_new(0);
	dying = sqt_chan_new(0);
	left = calloc((size_t)(rounds + EXIT_WARMUP), sizeof *left);
	for (long i = 0; i < rounds + EXIT_WARMUP; i++) {
		if (i == EXIT_WARMUP)
			t0 = sc_count_dir("/proc/self/task");
		exit_round(i, checked);
		if (nogoexit)
			sc_skip("the target cannot end a G from below (sqt_goexit: ENOSYS)");
	}
	deadline = sc_mono_ns() + (int64_t)EXIT_WAIT_MS * 1000000;
	while ((alive = count_alive()) > EXIT_KEPT && sc_mono_ns() < deadline)
		sqt_sleep(5 * 1000 * 1000);
	t1 = sc_count_dir("/proc/self/task");
	slot_clear(0);
	sqt_unlockosthread();
	rec_begin(&r, "usage");
	rec_str(&r, "cycle", "a G that ends locked");
	rec_int(&r, "cycles", rounds);
	rec_int(&r, "threads", t1 - t0);
	rec_int(&r, "left_alive", alive);
	rec_end(&r, 1);
	sc_event("EXIT rounds=%ld threads %ld -> %ld, left alive %ld of %ld", rounds + EXIT_WARMUP, t0, t1, alive,
		nleft);
	if (goexit_returned)
		sc_violation("locked", "goexit returned", "sqt_goexit came back to its caller");
	if (alive > EXIT_KEPT)
		sc_violation("locked", "a locked G's thread outlived it",
			"%ld of the %ld threads that Gs ended locked on are still alive %d ms after the last"
			" (at most %d may stay: the thread a runtime must keep)", alive, nleft, EXIT_WAIT_MS,
			EXIT_KEPT);
	if (t0 >= 0 && t1 - t0 > EXIT_GROWTH)
		sc_violation("leak", "threads", "threads grew by %ld over %ld Gs that ended locked (from %ld to %ld;"
			" bound %d)", t1 - t0, rounds, t0, t1, EXIT_GROWTH);
}

static int g_main(void *arg)
{
	sc_storm_start();
	if (sc_mode("stay"))
		run_stay();
	else if (sc_mode("sleep") || sc_mode("deadlock") || sc_mode("asleep"))
		run_sleep();
	else
		run_exit();
	sc_storm_end();
	sc_finish(SC_CLEAN, 1);
}

int main(int argc, char **argv)
{
	sc_begin(argc, argv, &info);
	if (sc_mode("deadlock")) {
		if (!sqt_declares_deadlock())
			sc_skip("the target never declares a deadlock (a c-archive's runtime, or one that cannot "
				"count the process's threads)");
		sc_expect_fatal(SQ_F_DEADLOCK);
	} else {
		sc_expect_clean();
	}
	sqt_main(g_main, NULL);
}
