/*
 * interp_g.c: the goroutine side of the fuzz interpreter.
 *
 * Everything here runs on G stacks and is compiled with the runtime's split
 * checks, like any code meant to run on Gs: a preemption request (the
 * program's `preempt`, a SIGURG from a fault site) is honoured at the next
 * call, and an overflow is caught. After every operation the G checks the
 * invariants of its own M (sq_check_self), which is safe while other Ms
 * run; the global checks (sq_check) wait for the quiet points between
 * top-level steps (interp_c.c).
 *
 * Every wait in a program is paired by construction, so a legal program
 * cannot deadlock: xfer and pingpong spawn their own peer, spawnw children
 * are waited for by their parent (explicitly, or when its body ends), and
 * every spawned G counts in fz_cur.live, which each top-level step joins.
 * Each node of a program runs at most once per execution (there are no
 * loops), so per-node state needs no allocation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "interp.h"
#include "regloop.h"
#include "sq_harness.h"

enum { RET_MAGIC = FZ_RET_MAGIC, NWG = FZ_MAXG + 8 };

fz_state fz_cur;

typedef struct GFrame {
	sq_wg *wg;		/* this G's spawnw children */
	int pending;
} GFrame;

typedef struct SpawnArg {
	int16_t node;
	sq_wg *wg;		/* spawnw: the parent's wait group */
} SpawnArg;

static SpawnArg sargs[FZ_MAXOPS];
static sq_chan *chans[FZ_MAXOPS][2];	/* xfer (cap 0 or 1), pingpong (both) */
static sq_chan *bufchans[FZ_MAXOPS];
static sq_wg *wgs[NWG];
static long mypid;

static const fz_node *node(int16_t i)
{
	fz_step();
	return &fz_cur.p->node[i];
}

void fz_g_reset(void)
{
	fz_cur.npick = 0;
	fz_cur.nlive = 0;
	fz_cur.nwg = 0;
	fz_cur.ngsteps = 0;
	fz_cur.nsettle = 0;
	fz_cur.settlehead = 0;
	fz_cur.retaking = fz_cur.retaking_m = 0;
	fz_cur.nretake = 0;
	fz_cur.retake_done = 0;
	fz_cur.ntight = 0;
	for (int i = 0; i < FZ_MAXOPS; i++)
		fz_cur.tight[i].active = 0;
	if (!mypid)
		mypid = getpid();
}

static sq_chan *chan(int16_t i, int which, int cap)
{
	return cap ? bufchans[i] : chans[i][which];
}

static sq_wg *wgget(void)
{
	int32_t k = __atomic_fetch_add(&fz_cur.nwg, 1, __ATOMIC_RELAXED);

	if (k >= NWG)
		fz_fail("harness-error", "out of wait groups");
	return wgs[k];
}

/* Channels and wait groups for every node, made once: an execution that
 * allocates what the previous one did not would take other paths. */
void fz_g_alloc(void)
{
	for (int i = 0; i < FZ_MAXOPS; i++) {
		chans[i][0] = sq_chan_new(0);
		chans[i][1] = sq_chan_new(0);
		bufchans[i] = sq_chan_new(1);
		if (!chans[i][0] || !chans[i][1] || !bufchans[i])
			fz_fail("harness-error", "out of memory for channels");
	}
	for (int i = 0; i < NWG; i++)
		if (!(wgs[i] = sq_wg_new()))
			fz_fail("harness-error", "out of memory for wait groups");
}

static void live_add(void)
{
	__atomic_add_fetch(&fz_cur.nlive, 1, __ATOMIC_RELAXED);
	sq_wg_add(fz_cur.live, 1);
}

static void live_done(void)
{
	__atomic_sub_fetch(&fz_cur.nlive, 1, __ATOMIC_RELAXED);
	sq_wg_done(fz_cur.live);
}

/* What a spawned G owes the others when it ends, by returning or by
 * `goexit` (a cleanup, so sq_goexit runs it). */
static void g_done(void *arg)
{
	SpawnArg *s = arg;

	if (s->wg)
		sq_wg_done(s->wg);
	live_done();
}

static int g_entry(void *arg)
{
	sq_defer d;

	sq_defer_push(&d, g_done, arg);
	fz_run_g(node(((SpawnArg *)arg)->node)->body);
	sq_defer_pop(&d, 1);
	return 0;
}

static uintptr_t xvalue(int16_t i, int k)
{
	return (uintptr_t)0xf00d0000u + (uintptr_t)i * 16 + (uintptr_t)k;
}

static int xfer_peer(void *arg)
{
	int16_t i = (int16_t)(intptr_t)arg;

	if (sq_chan_send(chan(i, 0, node(i)->a), xvalue(i, 0)) != 0)
		fz_fail("wrong-result", "xfer: send failed");
	live_done();
	return 0;
}

static int pong_peer(void *arg)
{
	int16_t i = (int16_t)(intptr_t)arg;
	uintptr_t v;

	for (int k = 0; k < node(i)->a; k++) {
		if (sq_chan_recv(chan(i, 0, 0), &v) != 0 || v != xvalue(i, k))
			fz_fail("wrong-result", "pingpong: peer received %#lx, want %#lx",
				(unsigned long)v, (unsigned long)xvalue(i, k));
		if (sq_chan_send(chan(i, 1, 0), v + 1) != 0)
			fz_fail("wrong-result", "pingpong: peer send failed");
	}
	live_done();
	return 0;
}

/* Half a KiB of stack per frame, touched so the pages are really used. */
__attribute__((noinline)) static int recurse(int d)
{
	volatile char buf[512];

	buf[0] = (char)d;
	buf[sizeof buf - 1] = (char)d;
	if (d > 1 && !recurse(d - 1))
		return 0;
	return buf[0] == (char)d && buf[sizeof buf - 1] == (char)d;
}

static void wantret(const char *what, long got, long want)
{
	if (got != want)
		fz_fail("wrong-result", "%s returned %ld, want %ld", what, got, want);
}

/* Sleeps are never restarted after a signal handler (signal(7)): a signal
 * sent to a busy thread may cut them short. */
static void wantsleep(const char *what, long got)
{
	if (got != 0 && got != -EINTR)
		fz_fail("wrong-result", "%s returned %ld, want 0 or -EINTR", what, got);
}

static void op_syscall(int w)
{
	struct timespec ts = { 0, 0 };

	switch (w) {
	case 0:
		wantret("syscall getpid", sq_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0), mypid);
		break;
	case 1:
		wantret("syscall sched_yield", sq_syscall(SYS_sched_yield, 0, 0, 0, 0, 0, 0), 0);
		break;
	case 2:
		wantsleep("syscall nanosleep", sq_syscall(SYS_nanosleep, (long)&ts, 0, 0, 0, 0, 0));
		break;
	case 3:
		ts.tv_nsec = 5000;
		wantsleep("syscall nanosleep", sq_syscall(SYS_nanosleep, (long)&ts, 0, 0, 0, 0, 0));
		break;
	case 4:
		/* The kernel writes into the G's stack inside the window. */
		ts.tv_sec = -1;
		wantret("syscall clock_gettime",
			sq_syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0, 0, 0, 0), 0);
		if (ts.tv_sec < 0)
			fz_fail("wrong-result", "clock_gettime did not write the G's stack");
		break;
	case 5:
		wantret("syscall write(-1)", sq_syscall(SYS_write, -1, (long)&ts, 1, 0, 0, 0), -EBADF);
		break;
	}
}

/* A blocking call that comes back once every other goroutine has run out
 * of work: the P is handed off, whatever is runnable runs, and the G
 * returns to an idle runtime, whatever the machine's timing (the fuzzer's
 * thread decides when: fz_settle_tick). What a timed blocking call gives
 * only when the timing is kind. */
static void op_settle(void)
{
	int32_t k = __atomic_fetch_add(&fz_cur.nsettle, 1, __ATOMIC_ACQ_REL);
	fz_settler *s;

	if (k >= FZ_MAXSETTLE)
		fz_fail("harness-error", "too many settle waits");
	s = &fz_cur.settle[k];
	s->word = 0;
	s->back = 0;
	s->runtime_m = sq_harness_attached() == SQ_ATTACHED_M;
	__atomic_store_n(&s->ready, 1, __ATOMIC_RELEASE);
	fz_attention();
	fz_settle_block(&s->word);
	__atomic_store_n(&s->back, 1, __ATOMIC_RELEASE);
	fz_attention();
}

static void op_sysblock(int w)
{
	struct timespec ts = { 0, w == 3 ? 1000000 : 200000 };

	switch (w) {
	case 4:
		op_settle();
		break;
	case 0:
		wantret("sysblock getpid", sq_syscall_block(SYS_getpid, 0, 0, 0, 0, 0, 0), mypid);
		break;
	case 1:
	case 3:
		wantsleep("sysblock nanosleep",
			sq_syscall_block(SYS_nanosleep, (long)&ts, 0, 0, 0, 0, 0));
		break;
	case 2:
		wantsleep("sysblock ppoll", sq_syscall_block(SYS_ppoll, 0, 0, (long)&ts, 0, 8, 0));
		break;
	}
}

static void spawn(int16_t i, GFrame *f, int waited)
{
	SpawnArg *s = &sargs[i];

	s->node = i;
	s->wg = NULL;
	if (waited) {
		if (!f->wg)
			f->wg = wgget();
		s->wg = f->wg;
		sq_wg_add(f->wg, 1);
		f->pending++;
	}
	live_add();
	sq_spawn(g_entry, s);
}

static void op_xfer(int16_t i)
{
	uintptr_t v = 0;

	live_add();
	sq_spawn(xfer_peer, (void *)(intptr_t)i);
	if (sq_chan_recv(chan(i, 0, node(i)->a), &v) != 0 || v != xvalue(i, 0))
		fz_fail("wrong-result", "xfer: received %#lx, want %#lx", (unsigned long)v,
			(unsigned long)xvalue(i, 0));
}

static void op_pingpong(int16_t i)
{
	uintptr_t v = 0;

	live_add();
	sq_spawn(pong_peer, (void *)(intptr_t)i);
	for (int k = 0; k < node(i)->a; k++) {
		if (sq_chan_send(chan(i, 0, 0), xvalue(i, k)) != 0 ||
		    sq_chan_recv(chan(i, 1, 0), &v) != 0 || v != xvalue(i, k) + 1)
			fz_fail("wrong-result", "pingpong: received %#lx, want %#lx", (unsigned long)v,
				(unsigned long)xvalue(i, k) + 1);
	}
}

/* `tight`: registers full of values derived from the node (every class
 * the arch has: regloop.h), in a loop with no call until the G has been
 * preempted once (oracle.c's fz_tight_arm asks); then they must all still
 * hold. */
static sc_regs tregs[FZ_MAXOPS];

static void op_tight(int16_t i)
{
	fz_tight *t = &fz_cur.tight[i];
	uint64_t bad;
	char reg[64];
	int timer;

	/* One round, no reload: the values loaded once are checked once, when
	 * the loop is halted; a preemption lands in the spin, with every value
	 * in place. */
	sc_regs_init(&tregs[i], 0x71647400u + (uint64_t)i * 1009, UINT64_MAX);
	tregs[i].left = UINT64_MAX;
	t->halt = &tregs[i].halt;
	t->ready = 0;
	t->asked = 0;
	t->goid = sq_goid();
	/* The G's own request lands once the loop spins (fz_tight_arm); the
	 * fuzzer's thread, which polls while ntight counts a loop, asks again
	 * only once the loop says it is ready (regloop's live word, stored
	 * with the vector registers already loaded). So a request finds the G
	 * in the loop, the program's code, never in libc or the runtime,
	 * where it would be left for a split check the loop never makes; and
	 * another loop preempted first finds these values when it resumes. */
	tregs[i].live = &t->ready;
	__atomic_store_n(&t->active, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&fz_cur.ntight, 1, __ATOMIC_ACQ_REL);
	fz_attention();
	timer = fz_tight_arm(t);
	bad = sc_regloop(&tregs[i]);
	if (timer >= 0)
		sq_harness_preempt_after_done(timer);
	__atomic_store_n(&t->ready, 0, __ATOMIC_RELEASE);
	fz_tight_done(t);
	if (bad)
		fz_fail("wrong-result", "tight: %s changed while the goroutine was preempted",
			sc_regname(bad - 1, reg, sizeof reg));
}

static void checkself(const char *after)
{
	char why[200];

	if (sq_check_self(1, why, sizeof why) > 0)
		fz_fail("invariant", "%s (after %s on goroutine %llu)", why, after,
			(unsigned long long)sq_goid());
}

static void step(int16_t i, GFrame *f)
{
	const fz_node *nd = node(i);

	switch (nd->op) {
	case OP_SPAWN:
		spawn(i, f, 0);
		break;
	case OP_SPAWNW:
		spawn(i, f, 1);
		break;
	case OP_WAITW:
		if (f->pending) {
			sq_wg_wait(f->wg);
			f->pending = 0;
		}
		break;
	case OP_YIELD:
		sq_yield();
		break;
	case OP_SYSCALL:
		op_syscall(nd->a);
		break;
	case OP_SYSBLOCK:
		op_sysblock(nd->a);
		break;
	case OP_OUTCALL:
		wantret("outcall", sq_ccall(fz_ccall_entry, (void *)(intptr_t)i), RET_MAGIC ^ i);
		break;
	case OP_PREEMPT:
		fz_raise(SIGURG);	/* honoured at the next split check */
		break;
	case OP_RAISE:
		fz_raise(fz_sigs[nd->a]);
		break;
	case OP_XFER:
		op_xfer(i);
		break;
	case OP_PINGPONG:
		op_pingpong(i);
		break;
	case OP_RECURSE:
		wantret("recurse", recurse(nd->a), 1);
		break;
	case OP_ARM:
		fz_arm(nd);
		break;
	case OP_DISARM:
		fz_disarm();
		break;
	case OP_CHECK:
		break;		/* every step checks; this one is only a point */
	case OP_LOCK:
		sq_lockosthread();
		break;
	case OP_UNLOCK:
		sq_unlockosthread();
		break;
	case OP_GOEXIT:
		sq_goexit();	/* a spawned G's own body only (decode.c) */
	case OP_TIGHT:
		op_tight(i);
		break;
	}
	__atomic_add_fetch(&fz_cur.ngsteps, 1, __ATOMIC_RELAXED);
	checkself(fz_opname(nd->op));
}

static void run_g(int16_t i, GFrame *f)
{
	for (; i >= 0; i = node(i)->next)
		step(i, f);
}

void fz_run_g(int16_t first)
{
	GFrame f = { NULL, 0 };

	run_g(first, &f);
	if (f.pending)
		sq_wg_wait(f.wg);
}

int fz_cb_entry(void *arg)
{
	int16_t i = (int16_t)(intptr_t)arg;

	checkself("callback entry");
	fz_run_g(node(i)->body);
	return RET_MAGIC ^ i;
}

int fz_join_entry(void *unused)
{
	(void)unused;
	if (__atomic_load_n(&fz_cur.nlive, __ATOMIC_RELAXED) > 0)
		sq_wg_wait(fz_cur.live);
	return 0;
}

int fz_nop_entry(void *unused)
{
	(void)unused;
	return 0;
}

/* ---- warm-up ------------------------------------------------------------------
 * Before the first execution: populate the runtime's free lists (dead Gs
 * with their stacks, idle Ms, the stack pool) so that executions find the
 * runtime in the same state whether they come first or ten-thousandth. */

static int warm_child(void *arg)
{
	sq_yield();
	/* Block all at once (one M each), then come back one at a time to an
	 * idle runtime: every M ends up parked the way later ones will be. */
	op_settle();
	sq_ccall(fz_ccall_entry, (void *)(intptr_t)-1);	/* C stacks on this M */
	sq_wg_done(arg);
	return 0;
}

int fz_warm_entry(void *arg)
{
	sq_wg *wg = sq_wg_new();
	int n = FZ_MAXG + 8;

	(void)arg;
	fz_cur.nsettle = fz_cur.settlehead = 0;
	sq_wg_add(wg, n);
	for (int i = 0; i < n; i++)
		sq_spawn(warm_child, wg);
	sq_wg_wait(wg);
	sq_wg_free(wg);
	return 0;
}
