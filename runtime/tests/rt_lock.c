/*
 * rt_lock.c: sq_lockosthread / sq_unlockosthread and sq_goexit, in the
 * shapes of Go's own tests (runtime/proc_test.go TestLockOSThreadNesting,
 * testprog/lockosthread.go LockOSThreadMain and LockOSThreadAlt,
 * TestLockOSThreadAvoidsStatePropagation; TestGoexitDefer-like cleanups).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rt_test.h"

static pid_t maintid;

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

__attribute__((constructor)) static void note_main_thread(void)
{
	maintid = gettid_();
}

/* ---- a locked G stays on its M, and its M runs nothing else ------------ */

typedef struct Pingpong {
	sq_chan *ping, *pong;
	int64_t lockedmid;
	long n;
	int bad;	/* the partner ran on the locked M */
} Pingpong;

/* pp lives in the locked G's frame, which is gone once that G has its
 * last value back: everything after the last send uses copies. */
static int partner(void *arg)
{
	Pingpong *pp = arg;
	sq_chan *ping = pp->ping, *pong = pp->pong;
	int64_t lockedmid = pp->lockedmid;
	long n = pp->n;
	uintptr_t v;

	for (long i = 0; i < n; i++) {
		if (sq_chan_recv(ping, &v) != 0)
			break;
		if (sq_mid() == lockedmid)
			pp->bad = 1;
		sq_yield();
		sq_chan_send(pong, v + 1);
	}
	return 0;
}

static sq_mutex *mu;

/* Every way a G can block or be descheduled; after each it must be back
 * on its M and thread. */
static int stay_locked(long n, const char *who)
{
	Pingpong pp = { sq_chan_new(0), sq_chan_new(0), sq_mid(), n, 0 };
	pid_t tid = gettid_();
	uintptr_t v = 0;

	mu = sq_mutex_new();
	sq_spawn(partner, &pp);
	for (long i = 0; i < n; i++) {
		sq_chan_send(pp.ping, v);
		sq_chan_recv(pp.pong, &v);
		if (i % 8 == 0)
			sq_sleep(10000);
		if (i % 8 == 1)
			sq_syscall_block(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
		if (i % 8 == 2) {
			sq_mutex_lock(mu);
			sq_yield();
			sq_mutex_unlock(mu);
		}
		if (sq_mid() != pp.lockedmid || gettid_() != tid) {
			fprintf(stderr, "[rt] MOVED %s round %ld: mid %lld -> %lld\n", who, i,
				(long long)pp.lockedmid, (long long)sq_mid());
			return rt_fail("a locked G moved to another M");
		}
	}
	if (pp.bad)
		return rt_fail("another G ran on the locked M");
	if ((long)v != n)
		return rt_fail("ping-pong lost a value");
	return 0;
}

/* The main G locks itself (to M0, where it starts). */
static int test_lock_main(void *unused)
{
	int r;

	sq_lockosthread();
	if (sq_harness_lockcount() != 1)
		return rt_fail("lock count after one lock");
	r = stay_locked(rt_argl(2000), "main");
	if (r)
		return r;
	sq_unlockosthread();
	if (sq_harness_lockcount() != 0)
		return rt_fail("lock count after unlock");
	return rt_pass();
}

static volatile int other_res = -1;

static int locked_g(void *arg)
{
	int r;

	sq_lockosthread();
	r = stay_locked(rt_argl(2000), "spawned");
	sq_unlockosthread();
	other_res = r;
	return 0;
}

static int test_lock_other(void *unused)
{
	sq_spawn(locked_g, NULL);
	while (other_res == -1)
		sq_sleep(1000000);
	return other_res ? other_res : rt_pass();
}

/* A locked G that sleeps hands its P to a spinning M (stoplockedm's
 * handoff); the timer that wakes it fires on sysmon, which has no P, and
 * puts it on the global queue. Sleeps as short as sysmon's tick keep that
 * spinning M's giving-up and the timer's firing close together: a wakeup
 * lost between them leaves the G runnable with every M parked. */
static int test_lock_sleep(void *unused)
{
	long n = rt_argl(5000);

	sq_lockosthread();
	for (long i = 0; i < n; i++)
		sq_sleep(1000 + (i % 7) * 3000);
	sq_unlockosthread();
	return rt_pass();
}

/* Go's TestLockOSThreadNesting. */
static int test_nesting(void *unused)
{
	if (sq_harness_lockcount() != 0)
		return rt_fail("locked before any lock");
	sq_unlockosthread();	/* nothing to undo: no effect, as in Go */
	sq_lockosthread();
	sq_lockosthread();
	if (sq_harness_lockcount() != 2)
		return rt_fail("two locks, count not 2");
	sq_unlockosthread();
	if (sq_harness_lockcount() != 1)
		return rt_fail("one unlock of two: not still locked");
	sq_unlockosthread();
	if (sq_harness_lockcount() != 0)
		return rt_fail("still locked after as many unlocks as locks");
	if (sq_check(0))
		return rt_fail("invariants");
	return rt_pass();
}

/* ---- a G that exits locked takes its thread with it -------------------- */

static sq_chan *ready;
static pid_t subtid;

static int lock_and_exit(void *arg)
{
	sq_lockosthread();
	subtid = gettid_();
	/* Thread state nobody else should inherit (Go's test unshares and
	 * chdirs; a name does the same job and needs no privilege). */
	prctl(PR_SET_NAME, "tainted", 0, 0, 0);
	if (arg)
		sq_goexit();	/* the same through sq_goexit, from depth */
	sq_chan_send(ready, 1);
	return 0;
}

static int thread_gone(pid_t tid)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
	return stat(path, &st) < 0 && errno == ENOENT;
}

static int tainted(void)
{
	char name[17] = "";

	prctl(PR_GET_NAME, name, 0, 0, 0);
	return strcmp(name, "tainted") == 0;
}

static long ntainted;

static int check_thread(void *arg)
{
	if (tainted())
		__atomic_add_fetch(&ntainted, 1, __ATOMIC_RELAXED);
	sq_wg_done(arg);
	return 0;
}

static void send_ready(void *arg)
{
	sq_chan_send(ready, 1);
}

static int lock_and_goexit(void *arg)
{
	sq_defer d;

	sq_defer_push(&d, send_ready, NULL);
	return lock_and_exit((void *)1);
}

/* Go's LockOSThreadAlt and TestLockOSThreadAvoidsStatePropagation: each
 * G exits locked; its thread ends, and no later G runs on a thread in the
 * state it left. Repeated, so that exited Ms are reused. */
static int test_exit_thread(void *unused)
{
	uintptr_t v;
	sq_wg *wg = sq_wg_new();
	int rounds = (int)rt_argl(20);

	ready = sq_chan_new(0);
	sq_lockosthread();	/* the main G keeps M0 to itself */
	for (int i = 0; i < rounds; i++) {
		sq_spawn(i % 2 ? lock_and_goexit : lock_and_exit, NULL);
		sq_chan_recv(ready, &v);
		for (long k = 0; !thread_gone(subtid); k++) {
			if (k > 100000)
				return rt_fail("the locked G's thread did not end");
			sq_sleep(100000);
		}
		sq_wg_add(wg, 8);
		for (int k = 0; k < 8; k++)
			sq_spawn(check_thread, wg);
		sq_wg_wait(wg);
	}
	fprintf(stderr, "[rt] EXITED rounds=%d tainted=%ld\n", rounds, ntainted);
	if (ntainted)
		return rt_fail("a G ran on a thread a locked G had left");
	sq_unlockosthread();
	return rt_pass();
}

/* Go's LockOSThreadMain: a G locked on the main thread exits; the main
 * thread cannot end, it is parked, and the program goes on elsewhere. */
static int on_main(void *arg)
{
	sq_lockosthread();
	*(int *)arg = gettid_() == maintid;
	sq_chan_send(ready, 1);
	return 0;	/* exits locked: M0 is parked for good */
}

static int test_exit_main(void *unused)
{
	uintptr_t v;
	int wasmain = 0;

	if (sq_maxprocs() != 1)
		return rt_fail("needs SQ_MAXPROCS=1");
	ready = sq_chan_new(1);
	sq_spawn(on_main, &wasmain);
	sq_chan_recv(ready, &v);
	sq_sleep(1000000);
	if (!wasmain)
		return rt_fail("the spawned G did not start on the main thread");
	if (gettid_() == maintid)
		return rt_fail("the main G runs on the thread its locked G exited on");
	return rt_pass();
}

/* ---- sq_goexit from depth: cleanups innermost first -------------------- */

static char order[8];
static int norder;

static void note(void *arg)
{
	order[norder++] = (char)(long)arg;
}

static __attribute__((noinline)) void depth(int n)
{
	sq_defer d;

	if (n == 0) {
		sq_goexit();
		note((void *)'X');	/* never */
	}
	sq_defer_push(&d, note, (void *)(long)('0' + n));
	depth(n - 1);
	sq_defer_pop(&d, 1);		/* never: goexit ran it */
}

static int goexiter(void *arg)
{
	sq_defer done, kept;

	sq_defer_push(&done, (void (*)(void *))sq_wg_done, arg);
	sq_defer_push(&kept, note, (void *)'k');
	sq_defer_pop(&kept, 0);		/* popped without running */
	depth(3);
	note((void *)'Y');		/* never */
	return 0;
}

static int test_goexit(void *unused)
{
	sq_wg *wg = sq_wg_new();

	sq_wg_add(wg, 1);
	sq_spawn(goexiter, wg);
	sq_wg_wait(wg);
	fprintf(stderr, "[rt] GOEXIT order=%.*s\n", norder, order);
	if (norder != 3 || memcmp(order, "123", 3) != 0)
		return rt_fail("cleanups did not run innermost first, once each");
	return rt_pass();
}

static const rt_case cases[] = {
	{ "lock-main", test_lock_main, 1, "[N] the main G locked: stays on M0 through N blocking rounds" },
	{ "lock-other", test_lock_other, 1, "[N] a spawned G locked: the same" },
	{ "lock-sleep", test_lock_sleep, 1, "[N] the main G locked sleeps N short times: every timer's wakeup reaches its M" },
	{ "nesting", test_nesting, 1, "lock counts nest; unlock without lock does nothing" },
	{ "exit-thread", test_exit_thread, 1, "[N] Gs exit locked: their threads end, their state goes with them" },
	{ "exit-main", test_exit_main, 1, "a G locked on the main thread exits; the program goes on (SQ_MAXPROCS=1)" },
	{ "goexit", test_goexit, 1, "sq_goexit from depth runs the cleanups innermost first" },
	{ NULL, NULL, 0, NULL },
};

int main(int argc, char **argv)
{
	return rt_main(argc, argv, cases);
}
