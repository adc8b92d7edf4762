/*
 * bench.h: the measuring loop shared by the C benchmark programs.
 *
 * A measurement runs a body with a fixed iteration count: one warm-up round
 * (a tenth of the count, not reported), then `rounds` timed rounds. It
 * reports the median round, as ns per operation, on one stdout line:
 *
 *   RESULT name=<id> ns_per_op=<median> iters=<n> rounds=<r> min=<ns> max=<ns>
 *
 * bench/run.py parses these lines as key=value pairs. Diagnostics go to
 * stderr as "[bench] ..." lines. Everything here runs outside the timed
 * loops, so in sq_bench (built with the runtime's split-check flags) the
 * checks on these helpers cost nothing that is measured.
 *
 * Floating point: every round starts with the fp exception flags clear and
 * the rounds do no fp arithmetic (times are kept as integers until the
 * end). Context switches that save and restore MXCSR (Boost.Context,
 * swapcontext, the runtime's own switch) get much slower on some x86 CPUs
 * when the two contexts' sticky status flags differ: a division between
 * rounds would set "inexact" in one context only. See docs/bench.md.
 */
#ifndef SQ_BENCH_H
#define SQ_BENCH_H

#include <fenv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
	BENCH_ROUNDS_DEFAULT = 5,
	BENCH_ROUNDS_MAX = 101,
};

/* Iteration count and rounds, from "-n N" and "-r R" on the command line. */
typedef struct BenchOpts {
	long iters;	/* 0: the benchmark's own default */
	int rounds;
} BenchOpts;

/* A body runs n iterations; one iteration is `ops` operations. */
typedef void (*BenchBody)(long n);

static inline long long bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of the v[0..n) (sorts v). */
static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline void bench_report(const char *name, double ns, long iters, int rounds,
	double min, double max)
{
	printf("RESULT name=%s ns_per_op=%.3f iters=%ld rounds=%d min=%.3f max=%.3f\n",
	       name, ns, iters, rounds, min, max);
	fflush(stdout);
}

/* Time body(n) `rounds` times after a warm-up; print and return the median
 * ns per operation. */
static inline double bench_measure(const char *name, BenchBody body, long n, long ops,
	int rounds)
{
	double v[BENCH_ROUNDS_MAX], med;
	long long t[BENCH_ROUNDS_MAX], t0;
	int i;

	feclearexcept(FE_ALL_EXCEPT);
	body(n / 10 > 0 ? n / 10 : 1);
	for (i = 0; i < rounds; i++) {
		feclearexcept(FE_ALL_EXCEPT);
		t0 = bench_now_ns();
		body(n);
		t[i] = bench_now_ns() - t0;
	}
	for (i = 0; i < rounds; i++)
		v[i] = (double)t[i] / ((double)n * (double)ops);
	med = bench_median(v, rounds);
	bench_report(name, med, n, rounds, v[0], v[rounds - 1]);
	return med;
}

/* Parse "[-n ITERS] [-r ROUNDS]" from argv[first..argc). 0, or -1 on a bad flag. */
static inline int bench_opts(int argc, char **argv, int first, BenchOpts *o)
{
	int i;
	char *end;

	o->iters = 0;
	o->rounds = BENCH_ROUNDS_DEFAULT;
	for (i = first; i < argc; i++) {
		if (i + 1 >= argc)
			return -1;
		if (strcmp(argv[i], "-n") == 0) {
			o->iters = strtol(argv[++i], &end, 10);
			if (*end || o->iters < 1)
				return -1;
		} else if (strcmp(argv[i], "-r") == 0) {
			o->rounds = (int)strtol(argv[++i], &end, 10);
			if (*end || o->rounds < 1 || o->rounds > BENCH_ROUNDS_MAX)
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* The benchmark's default count, unless -n was given. */
static inline long bench_iters(const BenchOpts *o, long dflt)
{
	return o->iters ? o->iters : dflt;
}

#endif
