/*
 * rt_harness.c: the harness API a deterministic driver steps the scheduler
 * with (sq_harness.h): quiet, retake, sysmon held and ticked by hand, the
 * calling M's own invariants.
 *
 * The main thread stays foreign (sq_init) and calls in; with one P (set
 * here unless SQ_MAXPROCS says otherwise) a bound thread back in C leaves
 * the P in Psyscall, and only a retake frees it. sysmon is held first
 * wherever its own retakes would race with what a test looks at. Waits for
 * quiet have no deadline: a hang is the runner's timeout, after a
 * "[rt] WAIT" line that says for what.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "rt_test.h"

enum { NG = 16 };

static int check(int ok, const char *what)
{
	fprintf(stderr, "[rt] %s %s\n", ok ? "OK" : "BAD", what);
	return ok;
}

#define EXPECT(cond) do { if (!check((cond), #cond)) return rt_fail(#cond); } while (0)

static void start(void)
{
	setenv("SQ_MAXPROCS", "1", 0);
	sq_init();
}

/* Poll until the scheduler is quiet but for `busy` Ms. */
static void wait_quiet(const char *what, int busy)
{
	fprintf(stderr, "[rt] WAIT quiet %s\n", what);
	while (sq_harness_quiet(busy) != 1)
		sched_yield();
}

static int nop(void *arg)
{
	(void)arg;
	return 0;
}

/* ---- calls that exist in harness builds only ---------------------------- */

/* Normal builds: every sq_harness_* call is -ENOSYS; sq_check_self works
 * in both. Harness builds: each does its job from a quiet start. */
static int test_flavour(void *unused)
{
	int h = sq_harness_build(), nosys = h ? 0 : -ENOSYS;

	start();
	EXPECT(sq_check_self(0, NULL, 0) == 0);
	/* The Ms sq_init started go idle on their own time (under qemu, after
	 * this line has run): wait for it, then the answer must be 1. */
	if (h)
		wait_quiet("after init", 0);
	EXPECT(sq_harness_quiet(0) == (h ? 1 : nosys));
	EXPECT(sq_harness_retake() == (h ? 0 : nosys));
	EXPECT(sq_harness_retake_mine() == (h ? -EINVAL : nosys));
	EXPECT(sq_harness_sysmon_hold() == nosys);
	EXPECT(sq_harness_tick() == (h ? 0 : nosys));
	EXPECT(sq_harness_sysmon_release() == nosys);
	EXPECT(sq_harness_reset_ticks() == nosys);
	EXPECT(sq_harness_attached() == (h ? SQ_ATTACHED_NONE : nosys));
	EXPECT(sq_harness_misuse("window-throwsplit") == (h ? -EINVAL : nosys));
	/* This program's threads: the Ms sq_init started and sysmon at least
	 * (qemu-user cannot count them: -EIO). */
	EXPECT(h ? sq_harness_nthreads() >= 2 || sq_harness_nthreads() == -EIO : sq_harness_nthreads() == nosys);
	return rt_pass();
}

/* ---- retakes -------------------------------------------------------------- */

/* A bound thread's callback returns: its P stays in Psyscall, not idle.
 * Retaken with nothing queued, it goes straight to the idle list: quiet at
 * once, with no spinning M started to find nothing. */
static int test_retake(void *unused)
{
	start();
	EXPECT(sq_harness_sysmon_hold() == 0);
	EXPECT(sq_callback(nop, NULL) == 0);
	EXPECT(sq_harness_quiet(0) == 0);
	EXPECT(sq_harness_retake() == 1);
	EXPECT(sq_harness_quiet(0) == 1);
	EXPECT(sq_harness_retake() == 0);
	EXPECT(sq_harness_reset_ticks() == 0);
	return rt_pass();
}

static sq_wg *gate;
static long ran, passed;

/* Waits at the gate, then ends. */
static int gated(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&ran, 1, __ATOMIC_RELAXED);
	sq_wg_wait(gate);
	__atomic_add_fetch(&passed, 1, __ATOMIC_RELAXED);
	return 0;
}

static int spawn_gated(void *arg)
{
	(void)arg;
	gate = sq_wg_new();
	sq_wg_add(gate, 1);
	for (int i = 0; i < NG; i++)
		sq_spawn(gated, NULL);
	return sq_harness_reset_ticks();	/* our P runs: not quiet */
}

static int open_gate(void *arg)
{
	(void)arg;
	sq_wg_done(gate);
	return 0;
}

/* Gs queued behind a P in Psyscall: not quiet until retaken; quiet once
 * they all wait at the gate, and again once they have all ended. */
static int test_quiet(void *unused)
{
	sq_stats st;

	start();
	EXPECT(sq_harness_sysmon_hold() == 0);
	EXPECT(sq_callback(spawn_gated, NULL) == -EBUSY);
	EXPECT(sq_harness_quiet(0) == 0);	/* our P is still in Psyscall */
	EXPECT(sq_harness_retake() == 1);
	wait_quiet("at the gate", 0);
	EXPECT(ran == NG && passed == 0);
	EXPECT(sq_callback(open_gate, NULL) == 0);
	EXPECT(sq_harness_retake() == 1);
	wait_quiet("after the gate", 0);
	EXPECT(passed == NG);
	sq_stats_get(&st);
	EXPECT(st.gcount == 0);
	EXPECT(sq_check(1) == 0);
	return rt_pass();
}

static long one;

static int mark(void *arg)
{
	(void)arg;
	__atomic_store_n(&one, 1, __ATOMIC_RELEASE);
	return 0;
}

/* C run by sq_ccall: take our own P; the G queued on it runs meanwhile on
 * an M of the runtime's, which parks again (this thread's extra M does
 * not count). */
static int retake_in_c(void *arg)
{
	int r = sq_harness_retake_mine();

	(void)arg;
	if (r != 1)
		return 100 + r;
	wait_quiet("while in C", 0);
	if (!__atomic_load_n(&one, __ATOMIC_ACQUIRE))
		return 2;
	return sq_harness_retake_mine();	/* gone already: 0 */
}

static int call_out(void *arg)
{
	(void)arg;
	sq_spawn(mark, NULL);
	if (sq_harness_retake_mine() != -EINVAL)	/* a G, not C */
		return 3;
	return sq_ccall(retake_in_c, NULL);
}

static int test_retake_mine(void *unused)
{
	start();
	EXPECT(sq_harness_sysmon_hold() == 0);
	EXPECT(sq_callback(call_out, NULL) == 0);
	EXPECT(one == 1);
	EXPECT(sq_harness_retake_mine() == -EINVAL);	/* a thread in C, no sq_ccall */
	return rt_pass();
}

/* ---- sysmon, held and ticked by hand ------------------------------------- */

/* While held, sysmon leaves a P in Psyscall alone however long it stays
 * there (50 ms: 2,500 of its quickest ticks); released, it takes it back
 * by itself. Nothing here can pass for being slow: a held sysmon that
 * ticked would be seen, a released one is waited for. */
static int test_hold(void *unused)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	start();
	EXPECT(sq_harness_sysmon_hold() == 0);
	EXPECT(sq_harness_sysmon_hold() == 0);	/* idempotent */
	EXPECT(sq_callback(nop, NULL) == 0);
	nanosleep(&ts, NULL);
	EXPECT(sq_harness_quiet(0) == 0);	/* still in Psyscall */
	EXPECT(sq_harness_sysmon_release() == 0);
	EXPECT(sq_harness_tick() == -EBUSY);	/* sysmon's again */
	wait_quiet("for sysmon's retake", 0);
	EXPECT(sq_harness_sysmon_hold() == 0);	/* and held again */
	EXPECT(sq_callback(nop, NULL) == 0);
	nanosleep(&ts, NULL);
	EXPECT(sq_harness_quiet(0) == 0);
	EXPECT(sq_harness_retake() == 1);
	return rt_pass();
}

static int spawn_mark(void *arg)
{
	(void)arg;
	sq_spawn(mark, NULL);
	return 0;
}

/* A tick takes a P seen in the same call twice, when work waits for it;
 * a P nobody waits for stays in its call. One P: with two, the other's
 * spinning M would take the queued G itself. */
static int test_tick(void *unused)
{
	setenv("SQ_MAXPROCS", "1", 1);
	start();
	EXPECT(sq_harness_sysmon_hold() == 0);
	EXPECT(sq_callback(spawn_mark, NULL) == 0);
	EXPECT(sq_harness_tick() == 0);		/* first sight of this call */
	EXPECT(sq_harness_tick() == 1);
	wait_quiet("after the tick", 0);
	EXPECT(one == 1);
	EXPECT(sq_callback(nop, NULL) == 0);
	EXPECT(sq_harness_tick() == 0);
	EXPECT(sq_harness_tick() == 0);
	EXPECT(sq_harness_tick() == 0);
	EXPECT(sq_harness_quiet(0) == 0);	/* left in Psyscall */
	EXPECT(sq_harness_retake() == 1);
	EXPECT(sq_harness_quiet(0) == 1);
	return rt_pass();
}

/* ---- the calling M's own invariants --------------------------------------- */

static char why[200];

static int break_window(void *arg)
{
	int before = sq_check_self(0, NULL, 0), r;

	(void)arg;
	if ((r = sq_harness_misuse("window-throwsplit")) != 0)
		return 100 + r;
	return before * 10 + sq_check_self(0, why, sizeof why);
}

static int checked_g(void *arg)
{
	int r;

	(void)arg;
	if (sq_check_self(1, why, sizeof why) != 0)
		return 1000;
	r = sq_ccall(break_window, NULL);
	/* exitsyscall left the window whole again. */
	return r + 1000 * sq_check_self(1, NULL, 0);
}

/* A G in its window that lost throwsplit is seen from the window's C;
 * the G itself, running again, is whole. */
static int test_check_self(void *unused)
{
	int r;

	start();
	r = sq_callback(checked_g, NULL);
	fprintf(stderr, "[rt] CHECKSELF r=%d why=%s\n", r, why);
	EXPECT(r == 1);
	EXPECT(strstr(why, "without throwsplit") != NULL);
	EXPECT(sq_check_self(0, NULL, 0) == 0);
	return rt_pass();
}

/* ---- what a thread is ----------------------------------------------------- */

static int gattached;
static sq_wg *done;

static int record(void *arg)
{
	(void)arg;
	gattached = sq_harness_attached();
	sq_wg_done(done);
	return 0;
}

/* The spawned G cannot run on this locked M: it runs on a runtime M while
 * the callback's G waits. */
static int spawn_record(void *arg)
{
	(void)arg;
	done = sq_wg_new();
	sq_wg_add(done, 1);
	sq_spawn(record, NULL);
	sq_wg_wait(done);
	return sq_harness_attached();
}

static int test_attached(void *unused)
{
	EXPECT(sq_harness_attached() == SQ_ATTACHED_NONE);
	start();
	EXPECT(sq_callback(spawn_record, NULL) == SQ_ATTACHED_EXTRA);
	EXPECT(gattached == SQ_ATTACHED_M);
	return rt_pass();
}

/* ---- reports -------------------------------------------------------------- */

static int test_dump(void *unused)
{
	start();
	EXPECT(sq_callback(nop, NULL) == 0);
	EXPECT(sq_harness_dump() == 0);
	return rt_pass();
}

static void on_abrt(int sig)
{
	(void)sig;
	fprintf(stderr, "[rt] ABRT caught\n");
	rt_pass();
	_exit(0);
}

/* The handler from before the runtime gets SIGABRT back; the runtime's
 * own would print a fatal error and exit 2. */
static int test_sigabrt(void *unused)
{
	struct sigaction sa = { 0 };

	sa.sa_handler = on_abrt;
	sigaction(SIGABRT, &sa, NULL);
	start();
	EXPECT(sq_callback(nop, NULL) == 0);
	EXPECT(sq_harness_restore_sigabrt() == 0);
	raise(SIGABRT);
	return rt_fail("SIGABRT did not reach the program's handler");
}

static const rt_case cases[] = {
	{ "flavour", test_flavour, 0, "harness calls: -ENOSYS in normal builds, working in harness ones" },
	{ "retake", test_retake, 0, "a P left in Psyscall, retaken with nothing queued, is idle at once" },
	{ "quiet", test_quiet, 0, "quiet once queued Gs have run to a gate, and again once they end" },
	{ "retake-mine", test_retake_mine, 0, "C run by sq_ccall gives up its P; the queued G runs" },
	{ "hold", test_hold, 0, "a held sysmon retakes nothing; released, it does" },
	{ "tick", test_tick, 0, "a hand tick takes a P that work waits for, and only that (one P)" },
	{ "check-self", test_check_self, 0, "sq_check_self sees a window without throwsplit" },
	{ "attached", test_attached, 0, "no g, an extra M, a runtime M" },
	{ "dump", test_dump, 0, "sq_harness_dump prints the M/G dump" },
	{ "sigabrt", test_sigabrt, 0, "SIGABRT back to the program's own handler" },
	{ NULL, NULL, 0, NULL },
};

int main(int argc, char **argv)
{
	return rt_main(argc, argv, cases);
}
