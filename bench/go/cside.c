/*
 * cside.c: the C half of the Go anchors.
 *
 * bench_cempty is the empty C function a cgo call reaches. bench_callbacks
 * starts a pthread that Go did not create and has it call the exported Go
 * function benchGoEmpty n times: in Go 1.19 every such call attaches the
 * thread to an extra M (needm) and detaches it again (dropm). The loop
 * times itself, so thread creation is not counted.
 *
 * The crowd: T pthreads that Go did not create, kept across rounds, each
 * calling benchGoEmpty `per` times per round, released and collected by two
 * barriers; bench_crowd_round returns the round's elapsed ns (the Go side
 * reads CPU time around it).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "_cgo_export.h"

void bench_cempty(void)
{
}

typedef struct Cbrun {
	int64_t n;
	int64_t ns;
} Cbrun;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *callback_thread(void *arg)
{
	Cbrun *r = arg;
	int64_t i, t0 = now_ns();

	for (i = 0; i < r->n; i++)
		benchGoEmpty();
	r->ns = now_ns() - t0;
	return NULL;
}

int64_t bench_callbacks(int64_t n)
{
	Cbrun r = { n, -1 };
	pthread_t t;

	if (pthread_create(&t, NULL, callback_thread, &r) != 0)
		return -1;
	pthread_join(t, NULL);
	return r.ns;
}

/* ---- the crowd --------------------------------------------------------- */

enum { CROWD_MAX = 64 };

static struct {
	int n;
	int64_t per;
	int stop;
	pthread_barrier_t start, end;
	pthread_t t[CROWD_MAX];
} crowd;

static void *crowd_thread(void *arg)
{
	int64_t i;

	(void)arg;
	for (;;) {
		pthread_barrier_wait(&crowd.start);
		if (crowd.stop)
			return NULL;
		for (i = 0; i < crowd.per; i++)
			benchGoEmpty();
		pthread_barrier_wait(&crowd.end);
	}
}

/* T threads, parked at the start barrier. 0, or -1. */
int bench_crowd_start(int t)
{
	int i;

	if (t < 1 || t > CROWD_MAX)
		return -1;
	crowd.n = t;
	crowd.stop = 0;
	pthread_barrier_init(&crowd.start, NULL, (unsigned)t + 1);
	pthread_barrier_init(&crowd.end, NULL, (unsigned)t + 1);
	for (i = 0; i < t; i++)
		if (pthread_create(&crowd.t[i], NULL, crowd_thread, NULL) != 0)
			return -1;
	return 0;
}

/* One round: every thread makes per calls. Elapsed ns. */
int64_t bench_crowd_round(int64_t per)
{
	int64_t t0 = now_ns();

	crowd.per = per;
	pthread_barrier_wait(&crowd.start);
	pthread_barrier_wait(&crowd.end);
	return now_ns() - t0;
}
