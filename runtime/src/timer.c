/*
 * timer.c: sleeping Gs (sq_sleep).
 *
 * A sleeping G parks (Gwaiting, "sleep") with a timer record on its own
 * stack, which does not move while it waits. The records are a binary
 * min-heap by deadline under timerlock; timer0 holds the earliest deadline
 * (INT64_MAX when there is none) so that the scheduler can look without the
 * lock. Expired timers are run:
 *   - by sysmon, which sleeps no longer than the earliest deadline;
 *   - by findrunnable, before an M gives up looking for work.
 * Running a timer makes its G runnable on the global queue and wakes an M
 * (wakep), from any thread, with or without a P.
 *
 * A pending timer is a G that will run again: checkdead does not declare a
 * deadlock while there is one (as Go, whose checkdead looks at the Ps'
 * timers).
 *
 * Invariants: a G is on the heap exactly while it sleeps; timer0 is the
 * heap's first deadline, updated under timerlock.
 */
#include <errno.h>
#include <stdlib.h>

#include "runtime.h"

typedef struct Timer {
	int64_t when;
	G *g;
} Timer;

static Lock timerlock;
static Timer **heap;
static int32_t nheap, capheap;
static int64_t timer0 = INT64_MAX;
/* Gs whose timer timer_run has taken off the heap and not yet queued: still
 * pending for checkdead, which would otherwise see, between the two, a G
 * that is waiting, no timer, and declare a deadlock. Counted before a timer
 * leaves the heap; uncounted under sched.lock once its G is queued, so
 * checkdead (which holds that lock) sees one or the other. */
static uint32_t nfiring;

int64_t timer_next(void)
{
	return __atomic_load_n(&timer0, __ATOMIC_ACQUIRE);
}

bool timers_pending(void)
{
	return __atomic_load_n(&nheap, __ATOMIC_ACQUIRE) > 0 ||
	       __atomic_load_n(&nfiring, __ATOMIC_ACQUIRE) > 0;
}

static void swap(int32_t i, int32_t j)
{
	Timer *t = heap[i];

	heap[i] = heap[j];
	heap[j] = t;
}

/* timerlock held. */
static void heappush(Timer *t)
{
	int32_t i;

	if (nheap == capheap) {
		int32_t n = capheap ? 2 * capheap : 64;
		Timer **h = realloc(heap, (size_t)n * sizeof *h);

		if (!h)
			throwf(F_STACK_ALLOC, "sq_sleep: out of memory for timers");
		heap = h;
		capheap = n;
	}
	i = nheap;
	heap[i] = t;
	__atomic_store_n(&nheap, nheap + 1, __ATOMIC_RELEASE);
	while (i > 0 && heap[(i - 1) / 2]->when > heap[i]->when) {
		swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	__atomic_store_n(&timer0, heap[0]->when, __ATOMIC_RELEASE);
}

/* timerlock held, heap not empty. */
static Timer *heappop(void)
{
	Timer *t = heap[0];
	int32_t i = 0, c;

	__atomic_store_n(&nheap, nheap - 1, __ATOMIC_RELEASE);
	heap[0] = heap[nheap];
	for (;;) {
		c = 2 * i + 1;
		if (c >= nheap)
			break;
		if (c + 1 < nheap && heap[c + 1]->when < heap[c]->when)
			c++;
		if (heap[i]->when <= heap[c]->when)
			break;
		swap(i, c);
		i = c;
	}
	__atomic_store_n(&timer0, nheap ? heap[0]->when : INT64_MAX, __ATOMIC_RELEASE);
	return t;
}

/* Make every G whose deadline is past runnable; returns how many. Any
 * thread (sysmon has neither M nor P): the Gs go on the global queue. */
int timer_run(int64_t now)
{
	G *list = NULL, *gp;
	int n = 0;

	if (timer_next() > now)
		return 0;
	lock(&timerlock);
	while (nheap > 0 && heap[0]->when <= now) {
		__atomic_add_fetch(&nfiring, 1, __ATOMIC_ACQ_REL);
		gp = heappop()->g;	/* the record dies with the G's wait */
		gp->schedlink = list;
		list = gp;
	}
	unlock(&timerlock);
	for (; list; list = gp, n++) {
		gp = list->schedlink;
		casgstatus(list, Gwaiting, Grunnable);
		lock(&sched.lock);
		globrunqput(list);
		__atomic_sub_fetch(&nfiring, 1, __ATOMIC_ACQ_REL);
		unlock(&sched.lock);
	}
	if (n)
		wakep();
	return n;
}

void sq_sleep(int64_t ns)
{
	G *gp = getg();
	Timer t;

	if (!gp || !gp->m || gp != gp->m->curg)
		throwf(F_BAD_ARG, "sq_sleep: not called from a goroutine");
	if (ns <= 0) {
		sq_yield();
		return;
	}
	t.when = nanotime() + ns;
	t.g = gp;
	lock(&timerlock);
	heappush(&t);
	/* sysmon may be asleep for longer than this: it recomputes. */
	if (timer_next() == t.when && atomic_load32(&sched.sysmonwait))
		notewakeup(&sched.sysmonnote);
	gopark(&timerlock, "sleep");
}
