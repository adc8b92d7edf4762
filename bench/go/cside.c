/*
 * cside.c: the C half of the Go anchors.
 *
 * bench_cempty is the empty C function a cgo call reaches. bench_callbacks
 * starts a pthread that Go did not create and has it call the exported Go
 * function benchGoEmpty n times: in Go 1.19 every such call attaches the
 * thread to an extra M (needm) and detaches it again (dropm). The loop
 * times itself, so thread creation is not counted.
 */
#include <pthread.h>
#include <stdint.h>
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
