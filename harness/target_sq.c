/*
 * target_sq.c: the target interface over stackquake's own runtime.
 *
 * One harness setting of its own: SC_SCHED=N draws the schedule from N.
 * With one P (SQ_MAXPROCS=1, and SQ_DEBUG=preempt=off so that sysmon adds
 * no choices of its own) the runtime offers every choice of the next G to
 * a picker (sq_harness_picker); this one takes candidate rand() % n from
 * an xorshift seeded with N, so a schedule replays from its number
 * (`stackquake derandomize` searches them). Unset: the runtime's order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>

#include "stackmaps.h"
#include "target.h"
#include "sq.h"
#include "sq_harness.h"

#ifndef SQT_VERSION
#define SQT_VERSION "dev"
#endif

const char *sqt_name(void) { return "sq"; }
const char *sqt_variant(void) { return sq_variant(); }
const char *sqt_version(void) { return "stackquake " SQT_VERSION; }

/* The runtime's own table (SQ_FATALS), as the oracle's rows. */
#define CLASS_(id, name) name,
static const char *const classes[] = { SQ_FATAL_CLASSES(CLASS_) };
#define FATAL_(id, msg, cls, ...) { #id, "fatal error: ", msg, NULL },
static sqt_fatal fatals[] = { SQ_FATALS(FATAL_) };
#define FATALCLS_(id, msg, cls, ...) SQ_FC_##cls,
static const int fatalcls[] = { SQ_FATALS(FATALCLS_) };

const sqt_fatal *sqt_fatals(int *n)
{
	for (int i = 0; i < SQ_F_N; i++)
		fatals[i].cls = classes[fatalcls[i]];
	*n = SQ_F_N;
	return fatals;
}
static uint64_t schedrng;

/* Runs on g0 in the scheduler: no split check (this file has none), no libc. */
static int schedpick(void *ctx, int n)
{
	uint64_t x = schedrng;

	(void)ctx;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	schedrng = x;
	return (int)(x % (uint64_t)n);
}

/* SC_SCHED: a positive number, or unset; anything else is a usage error. */
static void sched_init(void)
{
	const char *s = getenv("SC_SCHED");
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return;
	v = strtoull(s, &end, 0);
	if (*end || v == 0) {
		fprintf(stderr, "SC_SCHED=%s: want a positive number (the schedule's seed)\n", s);
		exit(64);
	}
	schedrng = v;
	sq_harness_picker(schedpick, NULL);
}

_Noreturn void sqt_main(sqt_fn fn, void *arg)
{
	sched_init();
	sq_main(fn, arg);
}

int sqt_init(void)
{
	sched_init();
	return sq_init();
}
int sqt_callback(sqt_fn fn, void *arg) { return sq_callback(fn, arg); }
int sqt_callback_binds(void) { return sq_callback_binds(); }
int sqt_declares_deadlock(void) { return sq_harness_nthreads() > 0; }
int sqt_outcall(sqt_fn fn, void *arg) { return sq_ccall(fn, arg); }
void sqt_spawn(sqt_fn fn, void *arg) { sq_spawn(fn, arg); }
void sqt_yield(void) { sq_yield(); }

int sqt_sleep(int64_t ns)
{
	sq_sleep(ns);
	return 0;
}

int sqt_lockosthread(void)
{
	sq_lockosthread();
	return 0;
}

int sqt_unlockosthread(void)
{
	sq_unlockosthread();
	return 0;
}

int sqt_goexit(void) { sq_goexit(); }

long sqt_syscall(long nr, long a1, long a2, long a3)
{
	return sq_syscall(nr, a1, a2, a3, 0, 0, 0);
}

long sqt_syscall_block(long nr, long a1, long a2, long a3)
{
	return sq_syscall_block(nr, a1, a2, a3, 0, 0, 0);
}

sqt_wg *sqt_wg_new(void) { return (sqt_wg *)sq_wg_new(); }
void sqt_wg_add(sqt_wg *w, int n) { sq_wg_add((sq_wg *)w, n); }
void sqt_wg_done(sqt_wg *w) { sq_wg_done((sq_wg *)w); }
void sqt_wg_wait(sqt_wg *w) { sq_wg_wait((sq_wg *)w); }
sqt_chan *sqt_chan_new(int cap) { return (sqt_chan *)sq_chan_new((size_t)cap); }
int sqt_chan_send(sqt_chan *c, uintptr_t v) { return sq_chan_send((sq_chan *)c, v); }
int sqt_chan_recv(sqt_chan *c, uintptr_t *v) { return sq_chan_recv((sq_chan *)c, v); }

int sqt_arm(const char *spec) { return sq_fault_arm(spec); }
int64_t sqt_hits(const char *site) { return sq_fault_hits(site); }
const char *sqt_site(int i) { return sq_fault_site(i); }
/* The runtime's own invariants, and at a quiescent point the promise it
 * cannot check itself: every stack it handed out is MAP_STACK. */
int sqt_check(int quiescent)
{
	return sq_check(quiescent) + (quiescent && sq_harness_build() ? ms_check() : 0);
}
void sqt_profile(int hz) { sq_setprofile(hz); }
long sqt_stack_left(void) { return (long)sq_stack_left(); }

long sqt_async_preempts(void)
{
	sq_stats st;

	if (!sq_harness_asyncpreempt())
		return -ENOSYS;
	sq_stats_get(&st);
	return (long)st.nasyncpreempt;
}

int sqt_quiesce(void)
{
	int self = sq_goid() != 0;
	struct timespec ms = { 0, 1000000 };
	sq_stats st;

	for (int i = 0; i < 1000; i++) {
		sq_stats_get(&st);
		if (st.gcount <= self)
			return 0;
		if (self)	/* sleep in a syscall window: the P goes to others */
			sq_syscall_block(SYS_nanosleep, (long)&ms, 0, 0, 0, 0, 0);
		else
			nanosleep(&ms, NULL);
	}
	return (int)(st.gcount - self);
}
