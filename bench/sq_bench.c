/*
 * sq_bench.c: micro-benchmarks of the stackquake runtime's hot paths.
 *
 * usage: sq_bench NAME [-n ITERS] [-r ROUNDS]     (sq_bench list: the names)
 *
 * Each NAME measures one path with a fixed iteration count, ROUNDS times
 * (default 5) after a warm-up, and prints the median as a RESULT line (see
 * bench.h). Built with the runtime's flags, split checks included, so the
 * code on G stacks pays what runtime code pays.
 *
 * On a G (the program starts with sq_main; for yield and chan it sets
 * SQ_MAXPROCS=1, so the two Gs of the ping-pong alternate on one P, as the
 * Go anchors do with GOMAXPROCS=1; -pN sets N; the others keep the default):
 *   yield             two Gs ping-pong with sq_yield; ns per switch
 *   yield-samesite    the same, both Gs yielding from one loop function, so
 *                     that every switch resumes at the same pc (the
 *                     indirect jump that resumes a G always goes to one
 *                     place); ns per switch
 *   ctxswap           the runtime's context switch alone (arch.h's
 *                     sq_ctx_swap: callee-saved registers, fp control words,
 *                     resume by indirect jump), main G <-> a bare context
 *                     on a malloc'd stack, no scheduler; ns per switch
 *   chan              two Gs ping-pong through unbuffered sq_chans; ns per
 *                     round trip (two sends, two receives, two switches)
 *   ccall             sq_ccall of an empty C function; ns per call
 *   getpid-sq         getpid through sq_syscall (entersyscall/exitsyscall)
 *   getpid-raw        getpid through libc's syscall(), same G, no window
 *   splitcheck        a noinline leaf with and without the split check;
 *                     prints leaf-split, leaf-nosplit and splitcheck (the
 *                     per-round difference, ns per call)
 *   chan-p2, chan-p4  the chan ping-pong with 2 and 4 Ps: the two Gs may
 *                     sit on different Ms, and every send may wake one
 *   steal-p1, -p2, -p4  one G spawns n Gs that each just finish (a wait
 *                     group); with more than one P the others steal from
 *                     the spawner's run queue; ns per G
 *   spawn-1e5, spawn-1e6  spawn N Gs that each park on a channel, then
 *                     release them all and wait until every one has
 *                     exited. Prints spawn-cold-<N> (the first round:
 *                     stacks and Gs made), spawn-<N> (median of the later
 *                     rounds: reused), ns per G; and from the first round,
 *                     with all N parked: idle-rss-<N> (resident bytes per G,
 *                     from VmRSS) and idle-pte-<N> (page-table bytes per G,
 *                     VmPTE). n is N here; at most 3 rounds at 1e6
 * From a foreign thread (sq_init; a pthread the runtime did not create):
 *   callback-bound    sq_callback of an empty function, M kept bound
 *                     between calls (SQ_CALLBACK_BIND=1, set here)
 *   callback-unbound  the same with SQ_CALLBACK_BIND=0 (set here): needm
 *                     and dropm on every call
 *   callback-unbound-t1, -t2, -t8, -t64, callback-bound-t<T>: T foreign
 *                     threads at once, n/T callbacks each, the threads kept
 *                     across rounds (the warm-up round attaches them when
 *                     bound); ns per callback, over all threads
 *
 * Exit codes: 0 measured, 1 a benchmark went wrong, 2 usage (2 is also
 * the runtime's exit status after "fatal error: ..." on stderr).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sq.h"
#include "arch.h"
#include "bench.h"

/* leaf.c, compiled with and without the split check; cside.c. */
long bench_leaf_split(long x);
long bench_leaf_nosplit(long x);
int bench_cempty(void *arg);

static volatile long sink;
static const char *cur_name;	/* the benchmark chosen: its RESULT name */

/* ---- G switch --------------------------------------------------------- */

static sq_wg *yield_wg;

static int yield_partner(void *arg)
{
	long n = (long)arg, i;

	for (i = 0; i < n; i++)
		sq_yield();
	sq_wg_done(yield_wg);
	return 0;
}

/* 2n yields, each one a switch to the other G. */
static void body_yield(long n)
{
	long i;

	sq_wg_add(yield_wg, 1);
	sq_spawn(yield_partner, (void *)n);
	for (i = 0; i < n; i++)
		sq_yield();
	sq_wg_wait(yield_wg);
}

static int bench_yield(long n, int rounds)
{
	yield_wg = sq_wg_new();
	bench_measure("yield", body_yield, n, 2, rounds);
	return 0;
}

/* Both Gs run this one loop: every switch resumes at the same pc. */
__attribute__((noinline)) static void yield_loop(long n)
{
	long i;

	for (i = 0; i < n; i++)
		sq_yield();
}

static int samesite_partner(void *arg)
{
	yield_loop((long)arg);
	sq_wg_done(yield_wg);
	return 0;
}

static void body_yield_samesite(long n)
{
	sq_wg_add(yield_wg, 1);
	sq_spawn(samesite_partner, (void *)n);
	yield_loop(n);
	sq_wg_wait(yield_wg);
}

static int bench_yield_samesite(long n, int rounds)
{
	yield_wg = sq_wg_new();
	bench_measure("yield-samesite", body_yield_samesite, n, 2, rounds);
	return 0;
}

/* ---- the switch alone ----------------------------------------------------- */

enum { CTX_STACK = 64 << 10 };

static uintptr_t ctx_main, ctx_other;

/* Switch straight back, forever (as the Boost anchor's fiber does). Plain
 * C on a stack that is no G's: no split check. */
__attribute__((no_instrument_function, no_split_stack)) static void ctx_entry(void)
{
	for (;;)
		sq_ctx_swap(&ctx_other, ctx_main);
}

/* One iteration: two switches. */
static void body_ctxswap(long n)
{
	long i;

	for (i = 0; i < n; i++)
		sq_ctx_swap(&ctx_main, ctx_other);
}

static int bench_ctxswap(long n, int rounds)
{
	char *stack = malloc(CTX_STACK);

	if (!stack)
		return 1;
	ctx_other = sq_ctx_make(((uintptr_t)stack + CTX_STACK) & ~(uintptr_t)15, ctx_entry);
	bench_measure("ctxswap", body_ctxswap, n, 2, rounds);
	return 0;
}

/* ---- channels --------------------------------------------------------- */

static sq_chan *ping, *pong;

static int chan_partner(void *arg)
{
	long n = (long)arg, i;
	uintptr_t v;

	for (i = 0; i < n; i++) {
		if (sq_chan_recv(ping, &v) != 0 || sq_chan_send(pong, v + 1) != 0)
			abort();
	}
	return 0;
}

static void body_chan(long n)
{
	long i;
	uintptr_t v;

	sq_spawn(chan_partner, (void *)n);
	for (i = 0; i < n; i++) {
		if (sq_chan_send(ping, (uintptr_t)i) != 0 || sq_chan_recv(pong, &v) != 0 ||
		    v != (uintptr_t)i + 1) {
			fprintf(stderr, "[bench] chan: round trip %ld failed\n", i);
			abort();
		}
	}
}

static int bench_chan(long n, int rounds)
{
	ping = sq_chan_new(0);
	pong = sq_chan_new(0);
	bench_measure(cur_name, body_chan, n, 1, rounds);
	return 0;
}

/* ---- the run queue under stealing ------------------------------------------ */

static sq_wg *steal_wg;

static int steal_g(void *arg)
{
	(void)arg;
	sq_wg_done(steal_wg);
	return 0;
}

/* n Gs spawned onto the spawner's run queue; idle Ps' Ms steal them. */
static void body_steal(long n)
{
	long i;

	sq_wg_add(steal_wg, (int)n);
	for (i = 0; i < n; i++)
		sq_spawn(steal_g, NULL);
	sq_wg_wait(steal_wg);
}

static int bench_steal(const char *name, long n, int rounds)
{
	steal_wg = sq_wg_new();
	bench_measure(name, body_steal, n, 1, rounds);
	return 0;
}

static int bench_steal_any(long n, int rounds);
static int bench_spawn_any(long n, int rounds);

/* ---- many Gs: spawn, park, release, join --------------------------------- */

static sq_chan *spawn_gate;
static sq_wg *spawn_parked, *spawn_done;

/* Parks until the gate closes: an idle G, as a server's waiting handler. */
static int idle_g(void *arg)
{
	uintptr_t v;

	(void)arg;
	sq_wg_done(spawn_parked);
	sq_chan_recv(spawn_gate, &v);
	sq_wg_done(spawn_done);
	return 0;
}

typedef struct Spawned {
	long long cpu, wall;	/* the whole round */
	long rss_kib, pte_kib;	/* with all N parked, less before */
} Spawned;

static void spawn_round(long n, Spawned *s)
{
	long rss0 = bench_status_kib("VmRSS"), pte0 = bench_status_kib("VmPTE");
	long long c0 = bench_cpu_ns(), t0 = bench_now_ns(), c1, t1;
	long i;

	spawn_gate = sq_chan_new(0);
	sq_wg_add(spawn_parked, (int)n);
	sq_wg_add(spawn_done, (int)n);
	for (i = 0; i < n; i++)
		sq_spawn(idle_g, NULL);
	sq_wg_wait(spawn_parked);
	c1 = bench_cpu_ns();
	t1 = bench_now_ns();
	/* The reading is not timed. */
	s->rss_kib = bench_status_kib("VmRSS") - rss0;
	s->pte_kib = bench_status_kib("VmPTE") - pte0;
	c0 += bench_cpu_ns() - c1;
	t0 += bench_now_ns() - t1;
	sq_chan_close(spawn_gate);
	sq_wg_wait(spawn_done);
	s->cpu = bench_cpu_ns() - c0;
	s->wall = bench_now_ns() - t0;
	sq_chan_free(spawn_gate);
}

static int bench_spawn(const char *suffix, long n, int rounds)
{
	Spawned s[BENCH_ROUNDS_MAX];
	double v[BENCH_ROUNDS_MAX], w[BENCH_ROUNDS_MAX];
	char name[64];
	int i, warm;

	spawn_parked = sq_wg_new();
	spawn_done = sq_wg_new();
	if (n >= 1000000 && rounds > 3)
		rounds = 3;
	if (rounds < 2)
		rounds = 2;
	for (i = 0; i < rounds; i++)
		spawn_round(n, &s[i]);
	snprintf(name, sizeof name, "spawn-cold-%s", suffix);
	printf("RESULT name=%s ns_per_op=%.3f iters=%ld rounds=1 min=%.3f max=%.3f clock=cpu "
	       "wall_ns_per_op=%.3f cpu_ns_per_op=%.3f\n", name, (double)s[0].cpu / n, n,
	       (double)s[0].cpu / n, (double)s[0].cpu / n, (double)s[0].wall / n,
	       (double)s[0].cpu / n);
	for (i = 1, warm = 0; i < rounds; i++, warm++) {
		v[warm] = (double)s[i].cpu / (double)n;
		w[warm] = (double)s[i].wall / (double)n;
	}
	snprintf(name, sizeof name, "spawn-%s", suffix);
	{
		double med = bench_median(v, warm), wmed = bench_median(w, warm);

		printf("RESULT name=%s ns_per_op=%.3f iters=%ld rounds=%d min=%.3f max=%.3f clock=cpu "
		       "wall_ns_per_op=%.3f cpu_ns_per_op=%.3f\n", name, med, n, warm, v[0],
		       v[warm - 1], wmed, med);
	}
	snprintf(name, sizeof name, "idle-rss-%s", suffix);
	bench_report_bytes(name, (double)s[0].rss_kib * 1024 / (double)n, n);
	snprintf(name, sizeof name, "idle-pte-%s", suffix);
	bench_report_bytes(name, (double)s[0].pte_kib * 1024 / (double)n, n);
	fflush(stdout);
	return 0;
}

/* ---- calls out and system calls ---------------------------------------- */

static void body_ccall(long n)
{
	long i;

	for (i = 0; i < n; i++)
		sink += sq_ccall(bench_cempty, NULL);
}

static int bench_ccall(long n, int rounds)
{
	bench_measure("ccall", body_ccall, n, 1, rounds);
	return 0;
}

static void body_getpid_sq(long n)
{
	long i;

	for (i = 0; i < n; i++)
		sink += sq_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
}

static void body_getpid_raw(long n)
{
	long i;

	for (i = 0; i < n; i++)
		sink += syscall(SYS_getpid);
}

static int bench_getpid_sq(long n, int rounds)
{
	if (sq_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0) != getpid()) {
		fprintf(stderr, "[bench] getpid-sq: sq_syscall(SYS_getpid) is not the pid\n");
		return 1;
	}
	bench_measure("getpid-sq", body_getpid_sq, n, 1, rounds);
	return 0;
}

static int bench_getpid_raw(long n, int rounds)
{
	bench_measure("getpid-raw", body_getpid_raw, n, 1, rounds);
	return 0;
}

/* ---- split check ------------------------------------------------------ */

static long leaf_loop(long (*leaf)(long), long n)
{
	long long t0 = bench_cpu_ns();
	long i, acc = 0;

	for (i = 0; i < n; i++)
		acc = leaf(acc);
	sink = acc;
	return (long)(bench_cpu_ns() - t0);
}

/* The two leaves alternate in short slices (SPLIT_SLICES per round), so a
 * burst of machine noise or a drift in clock speed lands on both sides of
 * most pairs; the cost of the check is the median of the per-pair
 * differences, and the leaves' own numbers are their median slices. */
enum { SPLIT_SLICES = 16, SPLIT_PAIRS = SPLIT_SLICES * BENCH_ROUNDS_MAX };

static int bench_splitcheck(long n, int rounds)
{
	static double s[SPLIT_PAIRS], ns[SPLIT_PAIRS], d[SPLIT_PAIRS];
	long slice = n / SPLIT_SLICES > 0 ? n / SPLIT_SLICES : 1;
	int i, pairs = rounds * SPLIT_SLICES;
	double ms, mns, md;

	leaf_loop(bench_leaf_split, n / 10);
	leaf_loop(bench_leaf_nosplit, n / 10);
	for (i = 0; i < pairs; i++) {
		ns[i] = (double)leaf_loop(bench_leaf_nosplit, slice) / (double)slice;
		s[i] = (double)leaf_loop(bench_leaf_split, slice) / (double)slice;
		d[i] = s[i] - ns[i];
	}
	/* bench_median sorts: take the medians before reading min and max. */
	ms = bench_median(s, pairs);
	mns = bench_median(ns, pairs);
	md = bench_median(d, pairs);
	bench_report("leaf-split", ms, n, rounds, s[0], s[pairs - 1]);
	bench_report("leaf-nosplit", mns, n, rounds, ns[0], ns[pairs - 1]);
	bench_report("splitcheck", md, n, rounds, d[0], d[pairs - 1]);
	return 0;
}

/* ---- callbacks from a foreign thread ------------------------------------ */

static int cb_empty(void *arg)
{
	(void)arg;
	return 0;
}

static void body_callback(long n)
{
	long i;

	for (i = 0; i < n; i++)
		sink += sq_callback(cb_empty, NULL);
}

typedef struct Foreign {
	const char *name;
	long n;
	int rounds;
} Foreign;

/* A pthread the runtime did not create. Its first callback attaches (and,
 * bound, keeps the M); the warm-up round of bench_measure absorbs it. */
static void *foreign_thread(void *arg)
{
	Foreign *f = arg;

	if (sq_goid() != 0) {
		fprintf(stderr, "[bench] %s: foreign thread already has a G\n", f->name);
		return (void *)1;
	}
	bench_measure(f->name, body_callback, f->n, 1, f->rounds);
	return NULL;
}

/* T foreign threads calling in at once, kept across rounds. Round -1 is
 * the warm-up (a tenth of the calls; bound threads attach in it). The main
 * thread times each round between two barriers. */
typedef struct Crowd {
	long per;
	int rounds;
	pthread_barrier_t start, end;
} Crowd;

static void *crowd_thread(void *arg)
{
	Crowd *c = arg;
	long i, k;
	int r;

	for (r = -1; r < c->rounds; r++) {
		k = r < 0 ? (c->per / 10 > 0 ? c->per / 10 : 1) : c->per;
		pthread_barrier_wait(&c->start);
		for (i = 0; i < k; i++)
			sink += sq_callback(cb_empty, NULL);
		pthread_barrier_wait(&c->end);
	}
	return NULL;
}

static int bench_crowd(const char *name, const char *bind, int nthreads, long n, int rounds)
{
	double v[BENCH_ROUNDS_MAX], w[BENCH_ROUNDS_MAX], med, wmed, ops;
	pthread_t t[64];
	Crowd c;
	int i, r;

	setenv("SQ_CALLBACK_BIND", bind, 1);
	sq_init();
	c.per = n / nthreads > 0 ? n / nthreads : 1;
	c.rounds = rounds;
	ops = (double)c.per * nthreads;
	pthread_barrier_init(&c.start, NULL, (unsigned)nthreads + 1);
	pthread_barrier_init(&c.end, NULL, (unsigned)nthreads + 1);
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&t[i], NULL, crowd_thread, &c) != 0) {
			fprintf(stderr, "[bench] %s: pthread_create failed\n", name);
			return 1;
		}
	for (r = -1; r < rounds; r++) {
		long long c0 = bench_cpu_ns(), t0 = bench_now_ns();

		pthread_barrier_wait(&c.start);
		pthread_barrier_wait(&c.end);
		if (r >= 0) {
			v[r] = (double)(bench_cpu_ns() - c0) / ops;
			w[r] = (double)(bench_now_ns() - t0) / ops;
		}
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	med = bench_median(v, rounds);
	wmed = bench_median(w, rounds);
	printf("RESULT name=%s ns_per_op=%.3f iters=%ld rounds=%d min=%.3f max=%.3f clock=cpu "
	       "wall_ns_per_op=%.3f cpu_ns_per_op=%.3f threads=%d\n",
	       name, med, (long)ops, rounds, v[0], v[rounds - 1], wmed, med, nthreads);
	fflush(stdout);
	return 0;
}

static int bench_callback(const char *name, const char *bind, long n, int rounds)
{
	Foreign f = { name, n, rounds };
	pthread_t t;
	void *ret;

	setenv("SQ_CALLBACK_BIND", bind, 1);
	sq_init();
	if (pthread_create(&t, NULL, foreign_thread, &f) != 0) {
		fprintf(stderr, "[bench] %s: pthread_create failed\n", name);
		return 1;
	}
	pthread_join(t, &ret);
	return ret != NULL;
}

/* ---- driver ----------------------------------------------------------- */

typedef struct Bench {
	const char *name;
	int (*ong)(long n, int rounds);	/* run on the main G, or NULL */
	const char *bind;		/* foreign-thread callback: SQ_CALLBACK_BIND */
	long iters;			/* default iteration count */
	const char *procs;		/* SQ_MAXPROCS, or NULL: one per CPU */
	int threads;			/* callbacks: foreign threads at once (0: one, bench_callback) */
} Bench;

static const Bench benches[] = {
	{ "yield",               bench_yield,      NULL, 500000,   "1", 0 },
	{ "yield-samesite",      bench_yield_samesite, NULL, 500000, "1", 0 },
	{ "ctxswap",             bench_ctxswap,    NULL, 5000000,  "1", 0 },
	{ "chan",                bench_chan,       NULL, 200000,   "1", 0 },
	{ "chan-p2",             bench_chan,       NULL, 100000,   "2", 0 },
	{ "chan-p4",             bench_chan,       NULL, 100000,   "4", 0 },
	{ "ccall",               bench_ccall,      NULL, 1000000,  NULL, 0 },
	{ "getpid-sq",           bench_getpid_sq,  NULL, 300000,   NULL, 0 },
	{ "getpid-raw",          bench_getpid_raw, NULL, 300000,   NULL, 0 },
	{ "splitcheck",          bench_splitcheck, NULL, 20000000, NULL, 0 },
	{ "steal-p1",            bench_steal_any,  NULL, 200000,   "1", 0 },
	{ "steal-p2",            bench_steal_any,  NULL, 200000,   "2", 0 },
	{ "steal-p4",            bench_steal_any,  NULL, 200000,   "4", 0 },
	{ "spawn-1e5",           bench_spawn_any,  NULL, 100000,   NULL, 0 },
	{ "spawn-1e6",           bench_spawn_any,  NULL, 1000000,  NULL, 0 },
	{ "callback-bound",      NULL,             "1",  500000,   NULL, 0 },
	{ "callback-unbound",    NULL,             "0",  30000,    NULL, 0 },
	{ "callback-bound-t1",   NULL,             "1",  500000,   NULL, 1 },
	{ "callback-bound-t2",   NULL,             "1",  500000,   NULL, 2 },
	{ "callback-bound-t8",   NULL,             "1",  500000,   NULL, 8 },
	{ "callback-bound-t64",  NULL,             "1",  500000,   NULL, 64 },
	{ "callback-unbound-t1", NULL,             "0",  30000,    NULL, 1 },
	{ "callback-unbound-t2", NULL,             "0",  30000,    NULL, 2 },
	{ "callback-unbound-t8", NULL,             "0",  30000,    NULL, 8 },
	{ "callback-unbound-t64", NULL,            "0",  30000,    NULL, 64 },
};

static const Bench *chosen;
static long chosen_n;
static int chosen_rounds;

static int bench_steal_any(long n, int rounds)
{
	return bench_steal(cur_name, n, rounds);
}

/* spawn-1e5 -> "1e5"; n is the number of Gs. */
static int bench_spawn_any(long n, int rounds)
{
	return bench_spawn(cur_name + strlen("spawn-"), n, rounds);
}

static int main_g(void *arg)
{
	(void)arg;
	return chosen->ong(chosen_n, chosen_rounds) ? 1 : 0;
}

static int usage(void)
{
	size_t i;

	fprintf(stderr, "usage: sq_bench NAME [-n ITERS] [-r ROUNDS]\n       sq_bench list\nnames:");
	for (i = 0; i < sizeof benches / sizeof benches[0]; i++)
		fprintf(stderr, " %s", benches[i].name);
	fprintf(stderr, "\n");
	return 2;
}

int main(int argc, char **argv)
{
	BenchOpts o;
	size_t i;

	if (argc >= 2 && strcmp(argv[1], "list") == 0) {
		for (i = 0; i < sizeof benches / sizeof benches[0]; i++)
			printf("%s\n", benches[i].name);
		return 0;
	}
	if (argc < 2 || bench_opts(argc, argv, 2, &o) < 0)
		return usage();
	for (i = 0; i < sizeof benches / sizeof benches[0]; i++)
		if (strcmp(argv[1], benches[i].name) == 0)
			chosen = &benches[i];
	if (!chosen)
		return usage();
	cur_name = chosen->name;
	chosen_n = bench_iters(&o, chosen->iters);
	chosen_rounds = o.rounds;
	if (chosen->bind && chosen->threads)
		return bench_crowd(chosen->name, chosen->bind, chosen->threads, chosen_n, chosen_rounds);
	if (chosen->bind)
		return bench_callback(chosen->name, chosen->bind, chosen_n, chosen_rounds);
	if (chosen->procs)
		setenv("SQ_MAXPROCS", chosen->procs, 1);
	sq_main(main_g, NULL);
}
