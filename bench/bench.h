/*
 * bench.h: the measuring loop shared by the C benchmark programs.
 *
 * A measurement runs a body with a fixed iteration count: one warm-up round
 * (a tenth of the count, not reported), then `rounds` timed rounds. It
 * reports the median round, as ns per operation, on one stdout line:
 *
 *   RESULT name=<id> ns_per_op=<median> iters=<n> rounds=<r> min=<ns> max=<ns>
 *          clock=cpu wall_ns_per_op=<median>
 *
 * ns_per_op is CPU time: CLOCK_PROCESS_CPUTIME_ID, every thread of the
 * process, so what the operation costs, whatever else the machine runs. On
 * a 2-CPU machine shared with other jobs, wall time per op moved by 10x
 * from run to run while CPU time moved by a few percent (docs/bench.md,
 * "Method"). Wall time is printed too (wall_ns_per_op); benchmarks whose
 * point is elapsed time across threads say so with clock=wall, and their
 * ns_per_op is then wall time.
 *
 * Memory results say bytes instead:
 *
 *   RESULT name=<id> bytes_per_op=<bytes> iters=<n> rounds=1 unit=bytes
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

static inline long long bench_clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Elapsed time. */
static inline long long bench_now_ns(void)
{
	return bench_clock_ns(CLOCK_MONOTONIC);
}

/* CPU time of every thread of the process. */
static inline long long bench_cpu_ns(void)
{
	return bench_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
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
	printf("RESULT name=%s ns_per_op=%.3f iters=%ld rounds=%d min=%.3f max=%.3f clock=cpu\n",
	       name, ns, iters, rounds, min, max);
	fflush(stdout);
}

/* Which clock a measurement reports as ns_per_op. */
typedef enum BenchClock { BENCH_CPU, BENCH_WALL } BenchClock;

/* Time body(n) `rounds` times after a warm-up, on both clocks; print the
 * medians and return the reported one (ns per operation). */
static inline double bench_measure_clock(const char *name, BenchBody body, long n, long ops,
	int rounds, BenchClock clock)
{
	double v[BENCH_ROUNDS_MAX], w[BENCH_ROUNDS_MAX], med, wmed, *r;
	long long c[BENCH_ROUNDS_MAX], t[BENCH_ROUNDS_MAX], c0, t0;
	int i;

	feclearexcept(FE_ALL_EXCEPT);
	body(n / 10 > 0 ? n / 10 : 1);
	for (i = 0; i < rounds; i++) {
		feclearexcept(FE_ALL_EXCEPT);
		t0 = bench_now_ns();
		c0 = bench_cpu_ns();
		body(n);
		c[i] = bench_cpu_ns() - c0;
		t[i] = bench_now_ns() - t0;
	}
	for (i = 0; i < rounds; i++) {
		v[i] = (double)c[i] / ((double)n * (double)ops);
		w[i] = (double)t[i] / ((double)n * (double)ops);
	}
	med = bench_median(v, rounds);
	wmed = bench_median(w, rounds);
	r = clock == BENCH_CPU ? v : w;
	printf("RESULT name=%s ns_per_op=%.3f iters=%ld rounds=%d min=%.3f max=%.3f clock=%s "
	       "wall_ns_per_op=%.3f cpu_ns_per_op=%.3f\n",
	       name, clock == BENCH_CPU ? med : wmed, n, rounds, r[0], r[rounds - 1],
	       clock == BENCH_CPU ? "cpu" : "wall", wmed, med);
	fflush(stdout);
	return clock == BENCH_CPU ? med : wmed;
}

static inline double bench_measure(const char *name, BenchBody body, long n, long ops,
	int rounds)
{
	return bench_measure_clock(name, body, n, ops, rounds, BENCH_CPU);
}

/* A memory measurement: bytes per operation (per G, say). */
static inline void bench_report_bytes(const char *name, double bytes, long iters)
{
	printf("RESULT name=%s bytes_per_op=%.1f iters=%ld rounds=1 unit=bytes\n",
	       name, bytes, iters);
	fflush(stdout);
}

/* A field of /proc/self/status in KiB ("VmRSS", "VmPTE"), or -1. */
static inline long bench_status_kib(const char *field)
{
	char line[256];
	size_t len = strlen(field);
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, len) == 0 && line[len] == ':') {
			v = strtol(line + len + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
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
