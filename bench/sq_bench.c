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
 * Go anchors do with GOMAXPROCS=1; the others keep the default):
 *   yield             two Gs ping-pong with sq_yield; ns per switch
 *   chan              two Gs ping-pong through unbuffered sq_chans; ns per
 *                     round trip (two sends, two receives, two switches)
 *   ccall             sq_ccall of an empty C function; ns per call
 *   getpid-sq         getpid through sq_syscall (entersyscall/exitsyscall)
 *   getpid-raw        getpid through libc's syscall(), same G, no window
 *   splitcheck        a noinline leaf with and without the split check;
 *                     prints leaf-split, leaf-nosplit and splitcheck (the
 *                     per-round difference, ns per call)
 * From a foreign thread (sq_init; a pthread the runtime did not create):
 *   callback-bound    sq_callback of an empty function, M kept bound
 *                     between calls (SQ_CALLBACK_BIND=1, set here)
 *   callback-unbound  the same with SQ_CALLBACK_BIND=0 (set here): needm
 *                     and dropm on every call
 *
 * Exit codes: 0 measured, 1 a benchmark went wrong, 2 usage (2 is also
 * the runtime's exit status after "fatal error: ..." on stderr).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sq.h"
#include "bench.h"

/* leaf.c, compiled with and without the split check; cside.c. */
long bench_leaf_split(long x);
long bench_leaf_nosplit(long x);
int bench_cempty(void *arg);

static volatile long sink;

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
	bench_measure("chan", body_chan, n, 1, rounds);
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
	long long t0 = bench_now_ns();
	long i, acc = 0;

	for (i = 0; i < n; i++)
		acc = leaf(acc);
	sink = acc;
	return (long)(bench_now_ns() - t0);
}

/* Rounds alternate the two leaves, so drift in clock speed hits both; the
 * cost of the check is the median of the per-round differences. */
static int bench_splitcheck(long n, int rounds)
{
	double s[BENCH_ROUNDS_MAX], ns[BENCH_ROUNDS_MAX], d[BENCH_ROUNDS_MAX];
	double ms, mns, md;
	int i;

	leaf_loop(bench_leaf_split, n / 10);
	leaf_loop(bench_leaf_nosplit, n / 10);
	for (i = 0; i < rounds; i++) {
		ns[i] = (double)leaf_loop(bench_leaf_nosplit, n) / (double)n;
		s[i] = (double)leaf_loop(bench_leaf_split, n) / (double)n;
		d[i] = s[i] - ns[i];
	}
	/* bench_median sorts: take the medians before reading min and max. */
	ms = bench_median(s, rounds);
	mns = bench_median(ns, rounds);
	md = bench_median(d, rounds);
	bench_report("leaf-split", ms, n, rounds, s[0], s[rounds - 1]);
	bench_report("leaf-nosplit", mns, n, rounds, ns[0], ns[rounds - 1]);
	bench_report("splitcheck", md, n, rounds, d[0], d[rounds - 1]);
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
	int oneproc;			/* run with SQ_MAXPROCS=1 */
} Bench;

static const Bench benches[] = {
	{ "yield",            bench_yield,      NULL, 500000,   1 },
	{ "chan",             bench_chan,       NULL, 200000,   1 },
	{ "ccall",            bench_ccall,      NULL, 1000000,  0 },
	{ "getpid-sq",        bench_getpid_sq,  NULL, 300000,   0 },
	{ "getpid-raw",       bench_getpid_raw, NULL, 300000,   0 },
	{ "splitcheck",       bench_splitcheck, NULL, 20000000, 0 },
	{ "callback-bound",   NULL,             "1",  500000,   0 },
	{ "callback-unbound", NULL,             "0",  30000,    0 },
};

static const Bench *chosen;
static long chosen_n;
static int chosen_rounds;

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
	chosen_n = bench_iters(&o, chosen->iters);
	chosen_rounds = o.rounds;
	if (chosen->bind)
		return bench_callback(chosen->name, chosen->bind, chosen_n, chosen_rounds);
	if (chosen->oneproc)
		setenv("SQ_MAXPROCS", "1", 1);
	sq_main(main_g, NULL);
}
