/*
 * interp_c.c: the C side of the fuzz interpreter — the foreign-thread pool,
 * the top level, the C that outcalls run — and one execution from start to
 * its checked, quiescent end.
 *
 * Nothing here has a split check (C_SIDE): it runs on foreign threads, on
 * g0 inside outcalls, and on stacks the runtime does not know.
 *
 * The pool. Foreign threads T0..T3 are made once per process (executions
 * never pay for pthread_create) and wait for commands on a futex. The
 * fuzzer's own thread only dispatches and checks: it never calls in, so it
 * stays a plain foreign thread and sq_check from it has no g0 of its own
 * to worry about. A top-level step is synchronous (call, and every other
 * step, waits for its thread) unless it is `go`, which runs while the top
 * level goes on, until `wait` or the end.
 *
 * Determinism. The runtime runs with one P, no timed preemption, and every
 * scheduling choice taken from the input (sq_harness_picker). sysmon is
 * held after the warm-up (sq_harness_sysmon_hold): it never ticks again,
 * and the interpreter does its work at points the program decides.
 * Between synchronous top-level steps the interpreter makes a quiet point:
 * it retakes the P the last callback left in Psyscall (sq_harness_retake:
 * the P goes to the idle list), waits until every M is parked
 * (sq_harness_quiet), and runs sq_check. So every step starts from the
 * same runtime state however long the previous one took, and sysmon's
 * timing does not decide which path the next callback takes. While `go`
 * steps run, the fuzzer's thread ticks for sysmon (sq_harness_tick).
 * Signals sent to an idle thread are raised by that thread itself, at a
 * known point.
 *
 * Canonical state between executions: no goroutine alive, no site armed,
 * every pool thread bound (bound target) on its own pthread stack, i.e.
 * its last callback came from there; a thread that detached (exited) has
 * been replaced and bound again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "interp.h"
#include "sq_harness.h"
#include "cstack.h"

enum { CMD_CALL, CMD_REBIND, CMD_JOIN, CMD_RAISE, CMD_WARM, CMD_EXIT };

typedef struct Thr {
	pthread_t th;
	int idx;
	int32_t tid;
	uint32_t seq;		/* commands posted (futex word) */
	uint32_t done;		/* commands finished (futex word) */
	int cmd;
	int16_t node;
	int sig;
	int kind;		/* stack kind its next calls come from */
	int lastkind;		/* stack kind of its last callback */
	int fresh;		/* not called in since it was made */
	int async;		/* a `go` is in flight */
} Thr;

int fz_bound = 1;
int fz_cpu = -1;
static Thr thr[FZ_NTHREADS];
static fz_prog prog;
static int inited;

static const int cskind[K_N] = { CS_PTHREAD, CS_UCONTEXT, CS_UCONTEXT, CS_BOOST, CS_BOOST };
static const int csmapped[K_N] = { 0, 0, 1, 0, 1 };

/* Each thread's C stacks, made on first use and kept: the same addresses
 * every execution. busy: the thread is on it now (nested switches take
 * another kind or stay where they are). */
static __thread cstack tls_cs[K_N];
static __thread int tls_busy[K_N];

C_SIDE static const fz_node *node(int16_t i)
{
	fz_step();
	return &prog.node[i];
}

C_SIDE static int32_t mytid(void)
{
	return (int32_t)syscall(SYS_gettid);
}

C_SIDE void fz_raise(int sig)
{
	syscall(SYS_tgkill, getpid(), mytid(), sig);
}

/* Run fn(arg) on this thread's stack of kind k and come back. */
C_SIDE static void run_on(int k, void (*fn)(void *), void *arg)
{
	cstack *s = &tls_cs[k];

	if (k == K_PTHREAD || tls_busy[k]) {
		fn(arg);
		return;
	}
	s->kind = cskind[k];
	s->mapped = csmapped[k];
	fz_cs_prepare(s);	/* its memory, made the first time (no coverage) */
	tls_busy[k] = 1;
	if (cs_run(s, fn, arg) < 0)
		fz_fail("harness-error", "no memory for a %s stack", fz_kindname(k));
	tls_busy[k] = 0;
}

C_SIDE static void cs_release(void)
{
	for (int k = 0; k < K_N; k++) {
		cstack *s = &tls_cs[k];

		if (!s->mem)
			continue;
		if (s->mapped)
			munmap(s->mem, CS_SIZE);
		else
			free(s->mem);
		s->mem = NULL;
	}
}

C_SIDE static void nothing(void *arg)
{
	(void)arg;
}

/* ---- C bodies (outcalls) ----------------------------------------------------- */

C_SIDE static void callin(int16_t i)
{
	int r;

	fz_callin_begin();
	r = sq_callback(fz_cb_entry, (void *)(intptr_t)i);
	fz_callin_end();

	if (r != (FZ_RET_MAGIC ^ i))
		fz_fail("wrong-result", "callback of node %d returned %#x", i, r);
}

C_SIDE static void switched(void *arg)
{
	fz_run_c(node((int16_t)(intptr_t)arg)->body);
}

/* C that takes its time: a busy loop (a sleep would cost the timer's
 * latency, tens of microseconds, for nothing more). */
C_SIDE static void csleep(int w)
{
	switch (w) {
	case 0:
		sched_yield();
		break;
	case 1:
	case 2:
		fz_busy(w == 1 ? 2000 : 8000);
		break;
	case 3:
		syscall(SYS_getpid);
		break;
	}
}

/* The xswitch this thread is on now, per stack kind (NULL: none). Legal
 * programs never call back from a switched stack (CTX_CNOCB has no
 * callback); an xswitch does. */
static __thread const fz_node *tls_xswitch[K_N];

/* The xswitch whose stack this thread runs on, if any. */
C_SIDE static const fz_node *on_xswitch(void)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);

	for (int k = 1; k < K_N; k++)
		if (tls_xswitch[k] && sp >= (uintptr_t)tls_cs[k].mem &&
		    sp < (uintptr_t)tls_cs[k].mem + CS_SIZE)
			return tls_xswitch[k];
	return NULL;
}

/* sq_refuse: the illegal arm in force at each site, and the first illegal
 * operation that ran without the runtime refusing it (a fixed runtime
 * throws when an illegal arm fires or an xswitch calls back, so fired, or
 * returned, means it went on). A site re-armed or disarmed is settled
 * first: its counters restart. */
static struct { char site[FZ_SPECLEN]; const fz_node *nd; } inforce[FZ_MAXARMS];
static int ninforce;
static const fz_node *unrefused;

C_SIDE static void settle(int k)
{
	if (inforce[k].nd && !unrefused && sq_fault_fired(inforce[k].site) > 0)
		unrefused = inforce[k].nd;
	inforce[k].nd = NULL;
}

C_SIDE void fz_arm(const fz_node *nd)
{
	const char *spec = prog.spec[nd->arm];

	if (prog.illegal) {
		size_t n = strcspn(spec, ":");

		for (int k = 0; k < ninforce; k++)
			if (inforce[k].nd && !strncmp(inforce[k].site, spec, n) && !inforce[k].site[n])
				settle(k);
		if (fz_refusal(&prog, nd) && ninforce < FZ_MAXARMS) {
			snprintf(inforce[ninforce].site, FZ_SPECLEN, "%.*s", (int)n, spec);
			inforce[ninforce++].nd = nd;
		}
	}
	if (sq_fault_arm(spec) != 0)
		fz_fail("harness-error", "cannot arm %s", spec);
}

C_SIDE void fz_disarm(void)
{
	for (int k = 0; k < ninforce; k++)
		settle(k);
	ninforce = 0;
	sq_fault_disarm_all();
}

C_SIDE void fz_refuse_verdict(void)
{
	for (int k = 0; k < ninforce; k++)
		settle(k);
	if (unrefused && unrefused->op == OP_ARM)
		fz_fail("wrong-result", "%s ran and the runtime went on (expected \"%s\")",
			prog.spec[unrefused->arm], fz_refusal(&prog, unrefused));
	if (unrefused)
		fz_fail("wrong-result", "a callback from a switched C stack inside an outcall ran "
			"(expected \"%s\")", fz_refusal(&prog, unrefused));
}

C_SIDE static void checkc(const char *after)
{
	char why[200];

	if (sq_check_self(0, why, sizeof why) > 0)
		fz_fail("invariant", "%s (after %s in an outcall)", why, after);
}

/* A C body. In CTX_C the thread is on g0 (the runtime's frames are above
 * us on this stack); in CTX_CNOCB it is on a stack the outcall switched to,
 * where nothing with a split check may run. */
C_SIDE void fz_run_c(int16_t i)
{
	for (; i >= 0; i = node(i)->next) {
		const fz_node *nd = node(i);

		switch (nd->op) {
		case OP_CALLBACK: {
			const fz_node *x = prog.illegal ? on_xswitch() : NULL;

			callin(i);
			if (x && !unrefused)
				unrefused = x;
			break;
		}
		case OP_CSWITCH: {
			/* Only a real switch makes an xswitch's callbacks illegal. */
			int x = nd->illegal && nd->a != K_PTHREAD && !tls_busy[nd->a];

			if (x)
				tls_xswitch[nd->a] = nd;
			run_on(nd->a, switched, (void *)(intptr_t)i);
			if (x)
				tls_xswitch[nd->a] = NULL;
			break;
		}
		case OP_SLEEP:
			csleep(nd->a);
			break;
		case OP_RETAKE:
			fz_retake(5000000);
			break;
		case OP_RAISE:
			fz_raise(fz_sigs[nd->a]);
			break;
		case OP_ARM:
			fz_arm(nd);
			break;
		case OP_DISARM:
			fz_disarm();
			break;
		}
		/* Not on an xswitch's stack: the check has split checks. */
		if (nd->ctx == CTX_C && !(prog.illegal && on_xswitch()))
			checkc(fz_opname(nd->op));
	}
}

C_SIDE int fz_ccall_entry(void *arg)
{
	int16_t i = (int16_t)(intptr_t)arg;

	if (i < 0) {		/* warm-up: make this M's C stacks */
		for (int k = 1; k < K_N; k++)
			run_on(k, nothing, NULL);
		return FZ_RET_MAGIC ^ i;
	}
	checkc("outcall entry");
	fz_run_c(node(i)->body);
	return FZ_RET_MAGIC ^ i;
}

/* ---- the pool --------------------------------------------------------------- */

C_SIDE static void top_call(void *arg)
{
	Thr *t = arg;

	callin(t->node);
	/* Join what the call left running, from where the call was made. */
	if (__atomic_load_n(&fz_cur.nlive, __ATOMIC_RELAXED) > 0)
		sq_callback(fz_join_entry, NULL);
}

C_SIDE static void do_cmd(Thr *t)
{
	switch (t->cmd) {
	case CMD_CALL:
		run_on(t->kind, top_call, t);
		t->lastkind = t->kind;
		t->fresh = 0;
		break;
	case CMD_REBIND:
		sq_callback(fz_nop_entry, NULL);
		t->lastkind = K_PTHREAD;
		t->fresh = 0;
		break;
	case CMD_JOIN:
		sq_callback(fz_join_entry, NULL);
		t->lastkind = K_PTHREAD;
		t->fresh = 0;
		break;
	case CMD_RAISE:
		fz_raise(t->sig);
		break;
	case CMD_WARM:
		for (int k = 1; k < K_N; k++)
			run_on(k, nothing, NULL);
		sq_callback(fz_warm_entry, NULL);
		t->lastkind = K_PTHREAD;
		t->fresh = 0;
		break;
	}
}

/* A pool thread's exit, once the runtime is done with it: our key's
 * destructor, which runs after the runtime's (the key was made after the
 * runtime's; if a libc ran them the other way round, the thread would still
 * be attached here, and the destructor asks to run again). */
static pthread_key_t exitkey;
static uint32_t nexits;

C_SIDE static void exited(void *arg)
{
	if (sq_harness_attached() != SQ_ATTACHED_NONE) {
		pthread_setspecific(exitkey, arg);	/* after the runtime's dropm */
		return;
	}
	__atomic_add_fetch(&nexits, 1, __ATOMIC_ACQ_REL);
	fz_attention();
}

C_SIDE static void *thr_main(void *arg)
{
	Thr *t = arg;
	uint32_t seen = __atomic_load_n(&t->seq, __ATOMIC_ACQUIRE);

	pthread_setspecific(exitkey, t);
	t->tid = mytid();
	__atomic_store_n(&t->done, seen, __ATOMIC_RELEASE);
	fz_wake(&t->done);
	for (;;) {
		fz_wait_change(&t->seq, seen, -1);
		seen = __atomic_load_n(&t->seq, __ATOMIC_ACQUIRE);
		if (t->cmd == CMD_EXIT) {
			/* Thread exit: the runtime's key destructor detaches a
			 * bound M (dropm) after we return, then exited() says so.
			 * From here on t belongs to the thread taking our place. */
			cs_release();
			__atomic_store_n(&t->done, seen, __ATOMIC_RELEASE);
			fz_attention();
			return NULL;
		}
		do_cmd(t);
		__atomic_store_n(&t->done, seen, __ATOMIC_RELEASE);
		fz_attention();
	}
}

C_SIDE static void thr_start(Thr *t)
{
	t->tid = 0;
	t->kind = t->lastkind = K_PTHREAD;
	t->fresh = 1;
	t->async = 0;
	pthread_attr_t attr;

	__atomic_store_n(&t->seq, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);	/* not ready yet */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t->th, &attr, thr_main, t) != 0)
		fz_fail("harness-error", "pthread_create failed");
	pthread_attr_destroy(&attr);
	fz_wait_change(&t->done, 1, -1);	/* thr_main says it is ready */
}

C_SIDE static void post(Thr *t, int cmd)
{
	t->cmd = cmd;
	__atomic_add_fetch(&t->seq, 1, __ATOMIC_ACQ_REL);
	fz_wake(&t->seq);
}

C_SIDE static int anyasync(void);

/* What the fuzzer's thread does while it waits for the pool (no coverage:
 * how often it runs is timing). */
C_SIDE static int64_t await_tick(void)
{
	static int64_t ticked;
	int64_t slice = 0, now;
	int settling, tight;

	/* Both, every time: a settler waits for quiet that a tight loop
	 * keeps away until it is released here. A tight loop alone is waited
	 * for in short timed waits, not yields: it spins on the CPU we share
	 * (fz_one_cpu), and a yield gives it the rest of its time slice each
	 * time (three slices, some 12 ms, per loop), where a timed wait's
	 * wakeup takes the CPU back at once. */
	settling = fz_settle_tick();
	tight = fz_tight_tick();
	if (settling)
		slice = FZ_POLL;
	else if (tight)
		slice = 20000;
	if (anyasync()) {
		/* sysmon's pace, however often we are called (polling). */
		now = fz_now();
		if (now - ticked >= 20000) {
			sq_harness_tick();
			ticked = now;
		}
		if (!slice)
			slice = 100000;
	}
	return slice;
}

C_SIDE static void await(Thr *t, const char *what)
{
	if (fz_await(&t->done, &t->seq, await_tick, 4000000000LL) < 0) {
		sq_harness_dump();
		fz_fail("hang", "T%d did not finish %s in 4s", t->idx, what);
	}
	t->async = 0;
}

C_SIDE static void command(Thr *t, int cmd, const char *what)
{
	post(t, cmd);
	await(t, what);
}

/* `detach`: the thread exits (a bound M goes back through dropm) and a
 * fresh thread takes its place; it attaches at its first callback. */
C_SIDE static void detach(Thr *t)
{
	uint32_t want = __atomic_load_n(&nexits, __ATOMIC_ACQUIRE) + 1;

	post(t, CMD_EXIT);
	await(t, "detach");
	thr_start(t);		/* while the old thread goes */
	if (fz_await_count(&nexits, want, 4000000000LL) < 0)
		fz_fail("hang", "T%d's thread did not exit in 4s", t->idx);
}

C_SIDE static int anyasync(void)
{
	for (int i = 0; i < FZ_NTHREADS; i++)
		if (thr[i].async)
			return 1;
	return 0;
}

/* A quiet point between top-level steps: see the file comment. */
C_SIDE static void quiet(const char *after)
{
	if (anyasync())
		return;
	sq_harness_retake();
	fz_wait_idle(after);
	if (sq_check(0) > 0)
		fz_fail("invariant", "sq_check found violations after %s", after);
}

/* ---- the top level ------------------------------------------------------------ */

C_SIDE static void top(int16_t i)
{
	for (; i >= 0; i = node(i)->next) {
		const fz_node *nd = node(i);
		Thr *t = &thr[nd->a];

		switch (nd->op) {
		case OP_CALL:
		case OP_GO:
			await(t, "its previous go");
			t->node = i;
			post(t, CMD_CALL);
			if (nd->op == OP_GO)
				t->async = 1;
			else
				await(t, "call");
			break;
		case OP_WAIT:
			await(t, "go");
			break;
		case OP_SWITCH:
			await(t, "its previous go");
			t->kind = nd->b;
			break;
		case OP_SIGNAL:
			if (t->async) {
				/* It is busy: the signal lands wherever it is. */
				syscall(SYS_tgkill, getpid(), t->tid, fz_sigs[nd->b]);
			} else {
				t->sig = fz_sigs[nd->b];
				command(t, CMD_RAISE, "signal");
			}
			break;
		case OP_DETACH:
			await(t, "its previous go");
			detach(t);
			break;
		case OP_ARM:
			fz_arm(nd);
			break;
		case OP_DISARM:
			fz_disarm();
			break;
		}
		if (!anyasync())
			quiet(fz_opname(nd->op));
	}
}

/* Back to the canonical state, and the quiescent checks. */
C_SIDE static void finish(void)
{
	sq_stats st;
	int bad;

	for (int i = 0; i < FZ_NTHREADS; i++)
		await(&thr[i], "its go");
	if (__atomic_load_n(&fz_cur.nlive, __ATOMIC_RELAXED) > 0)
		command(&thr[0], CMD_JOIN, "the final join");
	sq_fault_disarm_all();
	for (int i = 0; i < FZ_NTHREADS; i++) {
		Thr *t = &thr[i];

		t->kind = K_PTHREAD;
		if (fz_bound && (t->fresh || t->lastkind != K_PTHREAD))
			command(t, CMD_REBIND, "rebind");
	}
	quiet("the end of the program");
	sq_stats_get(&st);
	if (st.gcount != 0)
		fz_fail("invariant", "%lld goroutines alive at the end", (long long)st.gcount);
	if ((bad = sq_check(1)) > 0)
		fz_fail("invariant", "sq_check(quiescent) found %d violations at the end", bad);
	if (fz_check_mapstack() > 0)
		fz_fail("invariant", "a runtime stack is not MAP_STACK");
}

/* ---- scheduling ------------------------------------------------------------------ */

static int dbgpicks[64];

C_SIDE static int pick(void *ctx, int n)
{
	uint32_t k = fz_cur.npick++;
	const fz_prog *p = fz_cur.p;

	if (k < 64)
		dbgpicks[k] = n;

	(void)ctx;
	if (p)
		for (int i = 0; i < p->ncp; i++)
			if (p->cp[i].at == k)
				return p->cp[i].choice % n;
	return 0;
}

/* ---- signals the program uses ------------------------------------------------------ */

static long nusr1;

C_SIDE static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
	__atomic_add_fetch(&nusr1, 1, __ATOMIC_RELAXED);
}

/* SIGUSR2 is raised synchronously (ops.h): check this M where it stands. */
C_SIDE static void on_usr2(int sig, siginfo_t *si, void *uc)
{
	char why[200];

	(void)sig, (void)si, (void)uc;
	if (sq_check_self(0, why, sizeof why) > 0)
		fz_fail("invariant", "%s (at a check signal)", why);
}

C_SIDE static void handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sigfillset(&sa.sa_mask);
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sa.sa_sigaction = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_sigaction = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
}

/* ---- start-up and one execution ------------------------------------------------------ */

C_SIDE void fz_init(int bound, int onecore)
{
	if (inited)
		return;
	inited = 1;
	fz_bound = bound;
	setenv("SQ_MAXPROCS", "1", 1);
	setenv("SQ_DEBUG", "preempt=off", 1);
	setenv("SQ_CRASH", "abort", 1);
	unsetenv("SQ_FAULT");
	if (bound)
		unsetenv("SQ_CALLBACK_BIND");
	else
		setenv("SQ_CALLBACK_BIND", "0", 1);
	/* sysmon inherits this: its 20 us ticks stay 20 us. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	/* Before any thread exists: they all inherit it. sq_race keeps every
	 * CPU, for races that do not wait for a preemption. */
	if (onecore)
		fz_cpu = fz_one_cpu();
	handlers();
	sq_init();
	sq_harness_picker(pick, NULL);
	fz_mapstack_init();
	if (!(fz_cur.live = sq_wg_new()))
		fz_fail("harness-error", "out of memory");
	fz_g_alloc();
	pthread_key_create(&exitkey, exited);
	for (int i = 0; i < FZ_NTHREADS; i++) {
		thr[i].idx = i;
		thr_start(&thr[i]);
	}
	fz_g_reset();
	/* Warm-up, which also binds every thread: the canonical state. */
	for (int i = 0; i < FZ_NTHREADS; i++)
		command(&thr[i], CMD_WARM, "warm-up");
	quiet("the warm-up");
	/* From here on the interpreter retakes and ticks for sysmon, at points
	 * the program decides. Not before: the warm-up's callbacks come one
	 * after another with no quiet point between, and a fresh extra M finds
	 * the P the callback before it left in Psyscall; sysmon retakes it. */
	if (sq_harness_sysmon_hold() != 0)
		fz_fail("harness-error", "cannot hold sysmon");
	if (sq_check(1) > 0)
		fz_fail("invariant", "sq_check(quiescent) found violations after the warm-up");
	if (fz_check_mapstack() > 0)
		fz_fail("invariant", "a runtime stack is not MAP_STACK");
	fz_watchdog_start();
}

C_SIDE void fz_exec(const uint8_t *data, size_t size, int mode)
{
	fz_leak_before();
	fz_decode(data, size, &prog, mode);
	ninforce = 0;
	unrefused = NULL;
	fz_g_reset();
	sq_harness_reset_ticks();
	fz_cur.p = &prog;
	fz_watchdog_arm();
	top(prog.top);
	finish();
	if (getenv("FZ_DEBUG_MS")) {
		sq_stats st;

		sq_stats_get(&st);
		fprintf(stderr, "ms=%lld extram=%lld gs=%lld preempt=%lld async=%lld picks=%u\n",
			(long long)st.mcount, (long long)st.extram_total, (long long)st.gfree,
			(long long)st.npreempt, (long long)st.nasyncpreempt, fz_cur.npick);
	}
	if (getenv("FZ_DEBUG_PICKS")) {
		fprintf(stderr, "picks=%u:", fz_cur.npick);
		for (uint32_t i = 0; i < fz_cur.npick && i < 64; i++)
			fprintf(stderr, " %d", dbgpicks[i]);
		fprintf(stderr, "\n");
	}
	fz_watchdog_disarm();
	fz_cur.p = NULL;
	fz_leak_after(data, size, mode);
}

C_SIDE void fz_print_input(const uint8_t *data, size_t size, int mode, FILE *f)
{
	static fz_prog p;

	fz_decode(data, size, &p, mode);
	fz_print(&p, f);
}
