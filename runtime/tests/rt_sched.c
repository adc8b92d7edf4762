/*
 * rt_sched.c: scheduler self-tests: channels across many Gs, a G blocked in
 * a syscall, preemption of a spinning G, yields.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rt_test.h"

enum { NG_DEFAULT = 10000 };

static sq_chan *ring_in;
static sq_wg *ring_wg;

/* Each G receives a value, adds 1, passes it on; the last one reports. */
typedef struct Link {
	sq_chan *in;
	sq_chan *out;
} Link;

static int relay(void *arg)
{
	Link *l = arg;
	uintptr_t v;

	if (sq_chan_recv(l->in, &v) != 0)
		return 1;
	sq_chan_send(l->out, v + 1);
	sq_wg_done(ring_wg);
	return 0;
}

/* N Gs in a chain of unbuffered channels, plus a fan-in over a buffered one. */
static int test_chain(void *unused)
{
	long n = rt_argl(NG_DEFAULT), i;
	sq_chan **ch = calloc((size_t)n + 1, sizeof *ch);
	Link *links = calloc((size_t)n, sizeof *links);
	uintptr_t v;
	sq_stats st;

	ring_wg = sq_wg_new();
	for (i = 0; i <= n; i++)
		ch[i] = sq_chan_new(i % 3 == 0 ? 0 : 1);
	ring_in = ch[0];
	sq_wg_add(ring_wg, (int)n);
	for (i = 0; i < n; i++) {
		links[i].in = ch[i];
		links[i].out = ch[i + 1];
		sq_spawn(relay, &links[i]);
	}
	sq_chan_send(ch[0], 0);
	if (sq_chan_recv(ch[n], &v) != 0)
		return rt_fail("receive from the last link failed");
	sq_wg_wait(ring_wg);
	fprintf(stderr, "[rt] CHAIN n=%ld value=%lu\n", n, (unsigned long)v);
	if ((long)v != n)
		return rt_fail("value did not pass through every G");
	/* The relays are past wg_done; let them finish exiting. */
	for (i = 0; i < 1000000; i++) {
		sq_stats_get(&st);
		if (st.gcount == 1)
			break;
		sq_yield();
	}
	fprintf(stderr, "[rt] STATS gcount=%lld gfree=%lld stacks=%lld mcount=%lld\n",
		(long long)st.gcount, (long long)st.gfree, (long long)st.stacks_inuse,
		(long long)st.mcount);
	if (sq_check(1) != 0)
		return rt_fail("invariant check found leaks");
	return rt_pass();
}

static int pipefd[2];
static long progress;

static int reader(void *arg)
{
	char c;
	long r = sq_syscall(SYS_read, pipefd[0], (long)&c, 1, 0, 0, 0);

	fprintf(stderr, "[rt] READER got r=%ld\n", r);
	sq_wg_done(arg);
	return 0;
}

static int worker(void *arg)
{
	for (int i = 0; i < 1000; i++) {
		__atomic_add_fetch(&progress, 1, __ATOMIC_RELAXED);
		sq_yield();
	}
	sq_wg_done(arg);
	return 0;
}

/* A G blocked in read() must not stop the others, even with one P. */
static int test_blocked_read(void *unused)
{
	sq_wg *wg = sq_wg_new(), *rwg = sq_wg_new();

	if (pipe(pipefd) < 0)
		return rt_fail("pipe");
	sq_wg_add(rwg, 1);
	sq_spawn(reader, rwg);
	sq_yield();
	sq_wg_add(wg, 4);
	for (int i = 0; i < 4; i++)
		sq_spawn(worker, wg);
	sq_wg_wait(wg);
	fprintf(stderr, "[rt] WORKERS done progress=%ld\n", progress);
	if (progress != 4000)
		return rt_fail("workers did not all finish");
	if (write(pipefd[1], "x", 1) != 1)
		return rt_fail("write");
	sq_wg_wait(rwg);
	return rt_pass();
}

static volatile int stop_spin;
static volatile long spins;

__attribute__((noinline)) static void checked(void)
{
	spins++;
}

static int spinner(void *arg)
{
	while (!stop_spin)
		checked();	/* a split check on every call */
	sq_wg_done(arg);
	return 0;
}

static int stopper(void *arg)
{
	stop_spin = 1;
	sq_wg_done(arg);
	return 0;
}

/* With one P, the stopper only runs if the spinner is preempted. */
static int test_preempt(void *unused)
{
	sq_wg *wg = sq_wg_new();
	sq_stats st;

	sq_wg_add(wg, 2);
	sq_spawn(spinner, wg);
	sq_spawn(stopper, wg);
	sq_wg_wait(wg);
	sq_stats_get(&st);
	fprintf(stderr, "[rt] PREEMPT spins=%ld npreempt=%lld\n", spins, (long long)st.npreempt);
	if (sq_maxprocs() == 1 && st.npreempt < 1)
		return rt_fail("no preemption recorded with one P");
	return rt_pass();
}

static long yields;

static int yielder(void *arg)
{
	for (long i = 0; i < (long)arg; i++) {
		sq_yield();
		__atomic_add_fetch(&yields, 1, __ATOMIC_RELAXED);
	}
	sq_wg_done(ring_wg);
	return 0;
}

/* Many Gs yielding on several Ps: idle Ps steal from busy ones all the
 * time, so a yielding G is often taken by another M right after it went
 * back on its queue. Its context must be saved by then. */
static volatile int napping = 1;

/* Sleeps in short blocking syscalls, so its P keeps going idle and the
 * spinning Ms keep stealing. */
static int napper(void *arg)
{
	struct timespec ts = { 0, 20000 };

	while (napping)
		sq_syscall_block(SYS_nanosleep, (long)&ts, 0, 0, 0, 0, 0);
	sq_wg_done(ring_wg);
	return 0;
}

static int test_yield_steal(void *unused)
{
	long n = rt_argl(20000);
	int ng = 2 * sq_maxprocs() - 1;

	ring_wg = sq_wg_new();
	sq_wg_add(ring_wg, ng + 1);
	sq_spawn(napper, NULL);
	for (int i = 0; i < ng; i++)
		sq_spawn(yielder, (void *)n);
	while (__atomic_load_n(&yields, __ATOMIC_RELAXED) < ng * n)
		sq_yield();
	napping = 0;
	sq_wg_wait(ring_wg);
	fprintf(stderr, "[rt] YIELDS %ld\n", yields);
	if (yields != ng * n)
		return rt_fail("yields lost");
	return rt_pass();
}

/* ---- deterministic scheduling ---------------------------------------- */

static uint64_t pickseed;
static long npicks;
static char trace[4096];
static long ntrace;

static int pick(void *ctx, int n)
{
	pickseed = pickseed * 6364136223846793005ull + 1442695040888963407ull;
	npicks++;
	return (int)((pickseed >> 33) % (uint64_t)n);
}

static int tracer(void *arg)
{
	for (int i = 0; i < 40; i++) {
		long k = __atomic_fetch_add(&ntrace, 1, __ATOMIC_RELAXED);

		if (k < (long)sizeof trace - 1)
			trace[k] = (char)('a' + (long)arg);
		sq_yield();
	}
	sq_wg_done(ring_wg);
	return 0;
}

/* With a picker on one P the interleaving is a function of the picks. */
static int test_picker(void *unused)
{
	uint64_t h = 1469598103934665603ull;

	pickseed = (uint64_t)rt_argl(1);
	ring_wg = sq_wg_new();
	sq_wg_add(ring_wg, 4);
	sq_harness_picker(pick, NULL);
	for (long i = 0; i < 4; i++)
		sq_spawn(tracer, (void *)i);
	sq_wg_wait(ring_wg);
	sq_harness_picker(NULL, NULL);
	for (long i = 0; i < ntrace; i++)
		h = (h ^ (uint8_t)trace[i]) * 1099511628211ull;
	fprintf(stderr, "[rt] SCHEDULE picks=%ld hash=%016llx trace=%.60s\n", npicks,
		(unsigned long long)h, trace);
	if (npicks < 100 || ntrace != 160)
		return rt_fail("the picker did not choose the schedule");
	return rt_pass();
}

/* ---- sq_sleep, sq_mutex, sq_mid, per-spawn stacks ---------------------- */

static volatile int sleeper_woke;
static volatile long others_ran;

static int sleeper(void *arg)
{
	int64_t ns = (int64_t)(long)arg;
	struct timespec a, b;
	long before = others_ran;

	clock_gettime(CLOCK_MONOTONIC, &a);
	sq_sleep(ns);
	clock_gettime(CLOCK_MONOTONIC, &b);
	if ((b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec) < ns)
		sleeper_woke = -1;	/* woke early */
	else if (others_ran == before)
		sleeper_woke = -2;	/* nothing ran meanwhile: the M slept, not the G */
	else
		sleeper_woke = 1;
	return 0;
}

static int busy_until_woken(void *arg)
{
	while (!sleeper_woke) {
		others_ran++;
		sq_yield();
	}
	sq_wg_done(arg);
	return 0;
}

static int napper2(void *arg)
{
	for (int i = 0; i < 20; i++)
		sq_sleep(1000 + (long)arg * 100);
	sq_wg_done(ring_wg);
	return 0;
}

/* A sleeping G lets others run on its M (one P); it wakes no sooner than
 * asked; many sleepers all wake; the main G sleeping alone is no deadlock. */
static int test_sleep(void *unused)
{
	sq_wg *wg = sq_wg_new();

	sq_wg_add(wg, 1);
	sq_spawn(sleeper, (void *)(long)20000000);
	sq_spawn(busy_until_woken, wg);
	sq_wg_wait(wg);
	if (sleeper_woke == -1)
		return rt_fail("sq_sleep returned before its time");
	if (sleeper_woke == -2)
		return rt_fail("no other G ran while one slept");
	ring_wg = sq_wg_new();
	sq_wg_add(ring_wg, 100);
	for (long i = 0; i < 100; i++)
		sq_spawn(napper2, (void *)i);
	sq_wg_wait(ring_wg);
	sq_sleep(20000000);	/* alone: a pending timer is no deadlock */
	return rt_pass();
}

static sq_mutex *mu;
static long mucount;
static volatile int inside;
static long mubad;

static int locker(void *arg)
{
	for (int i = 0; i < 1000; i++) {
		if (i % 2 || !sq_mutex_trylock(mu))
			sq_mutex_lock(mu);
		if (inside++)
			mubad++;
		mucount++;
		if (i % 10 == 0)
			sq_yield();	/* the others must park, not spin the M */
		if (i % 100 == 0)
			sq_sleep(10000);
		inside--;
		sq_mutex_unlock(mu);
	}
	sq_wg_done(arg);
	return 0;
}

static int test_mutex(void *unused)
{
	sq_wg *wg = sq_wg_new();

	mu = sq_mutex_new();
	sq_wg_add(wg, 8);
	for (int i = 0; i < 8; i++)
		sq_spawn(locker, wg);
	sq_wg_wait(wg);
	fprintf(stderr, "[rt] MUTEX count=%ld overlaps=%ld\n", mucount, mubad);
	if (mucount != 8000 || mubad)
		return rt_fail("the mutex did not exclude");
	if (!sq_mutex_trylock(mu) || sq_mutex_trylock(mu))
		return rt_fail("trylock");
	sq_mutex_unlock(mu);
	sq_mutex_free(mu);
	return rt_pass();
}

__attribute__((noinline)) static long deep(long n)
{
	volatile char pad[1024];

	pad[0] = (char)n;
	return n == 0 ? pad[0] : deep(n - 1) + pad[0];
}

static int deep_g(void *arg)
{
	deep((long)arg);
	sq_wg_done(ring_wg);
	return 0;
}

/* Recursion that the default stack cannot hold, on a G spawned with a
 * larger one; sizes out of range are refused. */
static int test_spawn_stack(void *unused)
{
	ring_wg = sq_wg_new();
	if (sq_spawn_stack(deep_g, NULL, 4096) != -EINVAL)
		return rt_fail("a 4 KiB stack was accepted");
	sq_wg_add(ring_wg, 2);
	if (sq_spawn_stack(deep_g, (void *)(long)8000, 16 << 20) != 0)
		return rt_fail("sq_spawn_stack refused 16 MiB");
	sq_spawn_stack(deep_g, (void *)(long)10, 0);	/* 0: the default */
	sq_wg_wait(ring_wg);
	if (sq_check(0))
		return rt_fail("invariants");
	return rt_pass();
}

static int64_t gmid;

static int mid_g(void *arg)
{
	gmid = sq_mid();
	sq_wg_done(arg);
	return 0;
}

static int test_mid(void *unused)
{
	sq_wg *wg = sq_wg_new();

	sq_wg_add(wg, 1);
	sq_spawn(mid_g, wg);
	sq_wg_wait(wg);
	fprintf(stderr, "[rt] MID main=%lld g=%lld\n", (long long)sq_mid(), (long long)gmid);
	if (sq_mid() < 0 || gmid < 0)
		return rt_fail("no M id on a G");
	return rt_pass();
}

/* ---- asynchronous preemption -------------------------------------------- */

static volatile int tight_stop;
static volatile long tight_spins;

/* No calls at all, so no split check: only a signal can preempt it. */
static int tight(void *arg)
{
	while (!tight_stop)
		tight_spins++;
	sq_wg_done(arg);
	return 0;
}

static int stopper2(void *arg)
{
	tight_stop = 1;
	sq_wg_done(arg);
	return 0;
}

/* Go's TestAsyncPreempt shape: with one P, a loop without calls must be
 * preempted so that another G runs. */
static int test_preempt_tight(void *unused)
{
	sq_wg *wg = sq_wg_new();
	sq_stats st;

	if (!sq_harness_asyncpreempt()) {
		printf("SKIP %s: no asynchronous preemption in this build or on this arch\n", rt_current);
		return 0;
	}
	sq_wg_add(wg, 2);
	sq_spawn(tight, wg);
	sq_spawn(stopper2, wg);
	sq_wg_wait(wg);
	sq_stats_get(&st);
	fprintf(stderr, "[rt] TIGHT spins=%ld npreempt=%lld async=%lld\n", tight_spins,
		(long long)st.npreempt, (long long)st.nasyncpreempt);
	if (sq_maxprocs() == 1 && st.nasyncpreempt < 1)
		return rt_fail("no asynchronous preemption recorded with one P");
	return rt_pass();
}

/* sq_harness_preempt_g: a harness asks for a goroutine's preemption by
 * its id, wherever it runs, and sees its count grow. The spinner moves
 * between Ms freely; only the request may end its loop (preempt=off). */
static volatile int byg_ready, byg_stop;
static volatile uint64_t byg_goid;
static const char *byg_err;

static int byg_spinner(void *arg)
{
	byg_goid = sq_goid();
	byg_ready = 1;
	while (!byg_stop)
		;
	sq_wg_done(arg);
	return 0;
}

static void *byg_prober(void *arg)
{
	struct timespec ms = { 0, 1000000 };
	int64_t base, n = 0;
	int i;

	while (!byg_ready)
		sched_yield();
	if ((base = sq_harness_preempt_g(byg_goid, 1)) < 0) {
		byg_err = "no live goroutine with the spinner's id";
	} else {
		/* A request that finds the G between Ms is not made: ask again
		 * each millisecond, as the fuzz interpreter does. */
		for (i = 0; i < 10000 && (n = sq_harness_preempt_g(byg_goid, 0)) <= base; i++) {
			nanosleep(&ms, NULL);
			sq_harness_preempt_g(byg_goid, 1);
		}
		if (n <= base)
			byg_err = "the spinner's preemption count did not grow in 10000 requests";
	}
	byg_stop = 1;
	return NULL;
}

/* A goroutine spinning under preempt=off while a thread of its own probes
 * it from outside: spawn both, wait for both. 0, or -1 if the thread could
 * not start. */
static int spin_and_probe(int (*spin)(void *), void *(*probe)(void *))
{
	sq_wg *wg = sq_wg_new();
	pthread_t t;

	sq_wg_add(wg, 1);
	if (pthread_create(&t, NULL, probe, NULL) != 0)
		return -1;
	sq_spawn(spin, wg);
	sq_wg_wait(wg);
	pthread_join(t, NULL);
	return 0;
}

/* The preemption calls' tests need both; else they say SKIP. */
static int async_harness(void)
{
	if (sq_harness_asyncpreempt() && sq_harness_preempt_g(sq_goid(), 0) >= 0)
		return 1;
	printf("SKIP %s: needs asynchronous preemption and a harness build\n", rt_current);
	return 0;
}

static int test_preempt_g(void *unused)
{
	if (!async_harness())
		return 0;
	if (sq_harness_preempt_g(0, 0) != -ESRCH || sq_harness_preempt_g(UINT64_MAX, 1) != -ESRCH)
		return rt_fail("a goroutine id nobody has did not give -ESRCH");
	if (spin_and_probe(byg_spinner, byg_prober) != 0)
		return rt_fail("pthread_create");
	if (byg_err)
		return rt_fail(byg_err);
	/* sq_wg_done comes before the goroutine's end: wait for it. */
	for (int i = 0; i < 5000 && sq_harness_preempt_g(byg_goid, 0) != -ESRCH; i++)
		sq_sleep(1000000);
	if (sq_harness_preempt_g(byg_goid, 0) != -ESRCH)
		return rt_fail("an ended goroutine's id still answered after 5 s");
	return rt_pass();
}

/* sq_harness_preempt_notify: the runtime sets a harness's word when the
 * G honours its next preemption, and the G, spinning on that word, ends
 * its own loop (preempt=off: only the request can preempt it). A second
 * registration replaces the first. */
static uint32_t pn_stop, pn_decoy;
static volatile int pn_ready, pn_checked;
static volatile uint64_t pn_goid;
static const char *pn_err;

static int pn_spinner(void *arg)
{
	pn_goid = sq_goid();
	pn_ready = 1;
	while (!__atomic_load_n(&pn_stop, __ATOMIC_ACQUIRE))
		;
	while (!pn_checked)	/* alive while the prober reads its count */
		sq_yield();
	sq_wg_done(arg);
	return 0;
}

static void *pn_prober(void *arg)
{
	struct timespec ms = { 0, 1000000 };
	int64_t base;
	int i;

	while (!pn_ready)
		sched_yield();
	base = sq_harness_preempt_g(pn_goid, 0);
	if (sq_harness_preempt_notify(pn_goid, &pn_decoy) != 0 ||
	    sq_harness_preempt_notify(pn_goid, &pn_stop) != 0) {
		pn_err = "no live goroutine with the spinner's id";
		__atomic_store_n(&pn_stop, 1, __ATOMIC_RELEASE);
		pn_checked = 1;
		return NULL;
	}
	for (i = 0; i < 10000 && !__atomic_load_n(&pn_stop, __ATOMIC_ACQUIRE); i++) {
		sq_harness_preempt_g(pn_goid, 1);
		nanosleep(&ms, NULL);
	}
	if (!__atomic_load_n(&pn_stop, __ATOMIC_ACQUIRE)) {
		pn_err = "the word was not set in 10000 requests";
		__atomic_store_n(&pn_stop, 1, __ATOMIC_RELEASE);
	} else if (sq_harness_preempt_g(pn_goid, 0) <= base) {
		pn_err = "the word was set with no preemption counted";
	} else if (__atomic_load_n(&pn_decoy, __ATOMIC_ACQUIRE)) {
		pn_err = "a replaced registration's word was set too";
	}
	pn_checked = 1;
	return NULL;
}

static int test_preempt_notify(void *unused)
{
	if (!async_harness())
		return 0;
	if (sq_harness_preempt_notify(0, &pn_decoy) != -ESRCH ||
	    sq_harness_preempt_notify(UINT64_MAX, &pn_decoy) != -ESRCH)
		return rt_fail("a goroutine id nobody has did not give -ESRCH");
	if (spin_and_probe(pn_spinner, pn_prober) != 0)
		return rt_fail("pthread_create");
	if (pn_err)
		return rt_fail(pn_err);
	return rt_pass();
}

/* sq_harness_preempt_after: the G asks for its own preemption through a
 * timer on its thread and spins on the notify word; no other thread asks
 * (preempt=off). A watchdog thread ends the spin after 10 s, a failure. */
static uint32_t pa_stop;
static volatile int pa_done, pa_timer = -1, pa_offg;
static volatile int64_t pa_base = -1, pa_after = -1;

/* A split check of the test's own, not the runtime's: a request that
 * landed while the G was still in runtime code (the arming call, where no
 * asynchronous preemption is taken) is honoured here, before the loop,
 * and sets the word; one that lands from here on finds the G in its own
 * code, where the asynchronous one is. A frame, so that it has a check. */
static __attribute__((noinline)) int pa_probe(void)
{
	volatile char frame[64];

	frame[0] = 1;
	return frame[0];
}

static int pa_spinner(void *arg)
{
	uint64_t self = sq_goid();

	pa_base = sq_harness_preempt_g(self, 0);
	/* The request may land before the loop: the signal comes while the G
	 * is still in the arming call, where it is only recorded, and a split
	 * check honours it (docs/fuzz.md): on the call's way back, or in
	 * pa_probe. The word is then set already: arm again, as the fuzzer
	 * does; only a preemption inside the loop passes. */
	for (int i = 0; i < 8; i++) {
		__atomic_store_n(&pa_stop, 0, __ATOMIC_RELEASE);
		sq_harness_preempt_notify(self, &pa_stop);
		if (pa_timer >= 0)
			sq_harness_preempt_after_done(pa_timer);
		pa_timer = sq_harness_preempt_after(50000);
		pa_probe();
		if (pa_timer < 0 || __atomic_load_n(&pa_stop, __ATOMIC_ACQUIRE) != 1)
			break;
	}
	while (!__atomic_load_n(&pa_stop, __ATOMIC_ACQUIRE))
		;
	pa_after = sq_harness_preempt_g(self, 0);
	if (pa_timer >= 0)
		sq_harness_preempt_after_done(pa_timer);
	pa_done = 1;
	sq_wg_done(arg);
	return 0;
}

static void *pa_watchdog(void *arg)
{
	pa_offg = sq_harness_preempt_after(1000);	/* a plain thread: refused */
	for (int i = 0; i < 10000 && !pa_done && !__atomic_load_n(&pa_stop, __ATOMIC_ACQUIRE); i++) {
		struct timespec ms = { 0, 1000000 };

		nanosleep(&ms, NULL);
	}
	if (!__atomic_load_n(&pa_stop, __ATOMIC_ACQUIRE))
		__atomic_store_n(&pa_stop, 2, __ATOMIC_RELEASE);
	return NULL;
}

static int test_preempt_after(void *unused)
{
	sq_stats st;
	int64_t async0;

	if (!async_harness())
		return 0;
	sq_stats_get(&st);
	async0 = st.nasyncpreempt;
	if (spin_and_probe(pa_spinner, pa_watchdog) != 0)
		return rt_fail("pthread_create");
	sq_stats_get(&st);
	if (pa_timer < 0)
		return rt_fail("sq_harness_preempt_after failed on a goroutine");
	if (pa_stop == 2)
		return rt_fail("the timer's request was not honoured in 10 s");
	if (pa_after <= pa_base)
		return rt_fail("the word was set with no preemption counted");
	if (st.nasyncpreempt <= async0)
		return rt_fail("the loop was not preempted asynchronously: the timer's SIGURG was not taken as a request");
	if (pa_offg != -EINVAL)
		return rt_fail("sq_harness_preempt_after off a goroutine did not give -EINVAL");
	return rt_pass();
}

/* ---- a program's signal handler is no safe point --------------------------- */

static volatile int alrm_in, alrm_stop;
static int64_t alrm_mid;

/* The program's SIGALRM handler, installed before the runtime without
 * SA_ONSTACK: spins until the prober has had a preemption request
 * dispatched on its thread while it runs. No entry check: on the signal
 * stack g is still the G, whose guard says nothing about this stack. */
__attribute__((no_instrument_function)) static void alrm_handler(int sig)
{
	alrm_in = 1;
	while (!alrm_stop)
		__asm__ volatile("" ::: "memory");	/* alrm_stop is volatile: read anew */
}

/* A thread the runtime does not know: sysmon's part, three requests, each
 * seen dispatched by the runtime's handler before the next. */
static void *alrm_prober(void *arg)
{
	int64_t h;

	while (!alrm_in)
		sched_yield();
	for (int i = 0; i < 3; i++) {
		h = sq_fault_hits("sighandler.dispatch");
		sq_harness_preempt(alrm_mid, 1);
		while (sq_fault_hits("sighandler.dispatch") == h)
			sched_yield();
	}
	alrm_stop = 1;
	return NULL;
}

static int host_handler_g(void *unused)
{
	pthread_t t;
	sq_stats st;
	int64_t before;

	if (!sq_harness_asyncpreempt() || sq_harness_preempt(sq_mid(), 0) < 0) {
		printf("SKIP %s: needs asynchronous preemption and a harness build\n", rt_current);
		return 0;
	}
	alrm_mid = sq_mid();
	sq_stats_get(&st);
	before = st.nasyncpreempt;
	if (pthread_create(&t, NULL, alrm_prober, NULL) != 0)
		return rt_fail("pthread_create");
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGALRM);	/* runs the handler */
	sq_stats_get(&st);
	fprintf(stderr, "[rt] HOSTHANDLER async=%lld\n", (long long)(st.nasyncpreempt - before));
	pthread_join(t, NULL);
	if (st.nasyncpreempt != before)
		return rt_fail("the G was preempted asynchronously inside the program's signal handler");
	return rt_pass();
}

/* The preemption routine must never divert a G inside a handler of the
 * program's (its sigreturn would then run wherever the G resumes): the
 * runtime gives handlers it leaves in place SA_ONSTACK, and refuses a
 * safe point off the G's stack. Run with SQ_DEBUG=preempt=off, one P. */
static int test_host_handler(void *unused)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = alrm_handler;	/* plain: no SA_ONSTACK */
	sigaction(SIGALRM, &sa, NULL);
	sq_main(host_handler_g, NULL);
}

static const rt_case cases[] = {
	{ "sleep", test_sleep, 1, "sq_sleep parks the G, not the M" },
	{ "mutex", test_mutex, 1, "8 Gs x 1000 sq_mutex sections, with yields and sleeps inside" },
	{ "spawn-stack", test_spawn_stack, 1, "deep recursion on a G with a 16 MiB stack" },
	{ "mid", test_mid, 1, "sq_mid on Gs" },
	{ "preempt-tight", test_preempt_tight, 1, "a loop with no calls is preempted asynchronously" },
	{ "preempt-g", test_preempt_g, 1, "a harness asks for a goroutine's preemption by its id" },
	{ "preempt-notify", test_preempt_notify, 1, "the runtime sets a harness's word at a G's next preemption" },
	{ "preempt-after", test_preempt_after, 1, "a G asks for its own preemption through a timer" },
	{ "host-handler", test_host_handler, 0, "no asynchronous preemption inside a handler of the program's" },
	{ "picker", test_picker, 1, "[SEED] the schedule follows a picker's choices" },
	{ "yield-steal", test_yield_steal, 1, "[N] 2P-1 Gs x N yields while Ps go idle and steal" },
	{ "chain", test_chain, 1, "[N] N Gs pass a value down a chain of channels" },
	{ "blocked-read", test_blocked_read, 1, "a G blocked in read() does not stop others" },
	{ "preempt", test_preempt, 1, "a spinning G is preempted so others run" },
	{ NULL, NULL, 0, NULL },
};

int main(int argc, char **argv)
{
	return rt_main(argc, argv, cases);
}
