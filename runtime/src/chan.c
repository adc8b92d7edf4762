/*
 * chan.c: channels, wait groups and mutexes, the runtime's blocking
 * primitives for Gs.
 *
 * Each is a runtime Lock plus queues of parked Gs. A waiter is a record on
 * the waiting G's own stack (its stack does not move, so the pointer stays
 * good). The waker fills in the record and readies the G after dropping the
 * lock; gopark releases the lock only once the G is fully parked, so a
 * waiter found on a queue is always in Gwaiting.
 */
#include <errno.h>
#include <stdlib.h>

#include "runtime.h"

typedef struct Waiter {
	G *g;
	uintptr v;
	bool ok;
	struct Waiter *next;
} Waiter;

typedef struct WaitQ {
	Waiter *head;
	Waiter *tail;
} WaitQ;

struct sq_chan {
	Lock lock;
	size_t cap;
	size_t count;
	size_t head;
	bool closed;
	WaitQ recvq;
	WaitQ sendq;
	uintptr_t *buf;
};

struct sq_wg {
	Lock lock;
	int64_t count;
	WaitQ waiters;
};

/* A mutex for Gs. Unlock hands it straight to the first waiter (locked
 * stays true), so waiters get it in the order they came and a G that
 * keeps locking cannot starve them (Go's sync.Mutex starvation mode,
 * always on). */
struct sq_mutex {
	Lock lock;
	bool locked;
	WaitQ waiters;
};

static void enqueue(WaitQ *q, Waiter *w)
{
	w->next = NULL;
	if (q->tail)
		q->tail->next = w;
	else
		q->head = w;
	q->tail = w;
}

static Waiter *dequeue(WaitQ *q)
{
	Waiter *w = q->head;

	if (w) {
		q->head = w->next;
		if (!q->head)
			q->tail = NULL;
	}
	return w;
}

static G *curg(const char *who)
{
	G *gp = getg();

	if (!gp || !gp->m || gp != gp->m->curg)
		throwf(F_BAD_ARG, who);
	return gp;
}

sq_chan *sq_chan_new(size_t cap)
{
	sq_chan *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->cap = cap;
	if (cap && !(c->buf = calloc(cap, sizeof *c->buf))) {
		free(c);
		return NULL;
	}
	return c;
}

void sq_chan_free(sq_chan *c)
{
	if (c) {
		free(c->buf);
		free(c);
	}
}

int sq_chan_send(sq_chan *c, uintptr_t v)
{
	Waiter me, *w;

	curg("sq_chan_send: not called from a goroutine");
	lock(&c->lock);
	if (c->closed) {
		unlock(&c->lock);
		return -EPIPE;
	}
	if ((w = dequeue(&c->recvq)) != NULL) {
		w->v = v;
		w->ok = true;
		unlock(&c->lock);
		goready(w->g);
		return 0;
	}
	if (c->count < c->cap) {
		c->buf[(c->head + c->count) % c->cap] = v;
		c->count++;
		unlock(&c->lock);
		return 0;
	}
	me.g = getg();
	me.v = v;
	me.ok = false;
	enqueue(&c->sendq, &me);
	gopark(&c->lock, "chan send");
	return me.ok ? 0 : -EPIPE;
}

int sq_chan_recv(sq_chan *c, uintptr_t *v)
{
	Waiter me, *w;

	curg("sq_chan_recv: not called from a goroutine");
	lock(&c->lock);
	if (c->count > 0) {
		*v = c->buf[c->head];
		c->head = (c->head + 1) % c->cap;
		c->count--;
		w = dequeue(&c->sendq);
		if (w) {
			c->buf[(c->head + c->count) % c->cap] = w->v;
			c->count++;
			w->ok = true;
		}
		unlock(&c->lock);
		if (w)
			goready(w->g);
		return 0;
	}
	if ((w = dequeue(&c->sendq)) != NULL) {
		*v = w->v;
		w->ok = true;
		unlock(&c->lock);
		goready(w->g);
		return 0;
	}
	if (c->closed) {
		unlock(&c->lock);
		return -EPIPE;
	}
	me.g = getg();
	me.ok = false;
	enqueue(&c->recvq, &me);
	gopark(&c->lock, "chan receive");
	if (!me.ok)
		return -EPIPE;
	*v = me.v;
	return 0;
}

/* Wake every waiter of q, marking it failed. q's owner lock is held; the
 * list is detached first so the Gs are readied after it is dropped. */
static Waiter *drain(WaitQ *q)
{
	Waiter *list = q->head;

	q->head = q->tail = NULL;
	return list;
}

static void readyall(Waiter *w)
{
	Waiter *next;

	for (; w; w = next) {
		next = w->next;	/* w lives on a stack that may run again */
		goready(w->g);
	}
}

void sq_chan_close(sq_chan *c)
{
	Waiter *r, *s;

	lock(&c->lock);
	c->closed = true;
	r = drain(&c->recvq);
	s = drain(&c->sendq);
	unlock(&c->lock);
	readyall(r);
	readyall(s);
}

sq_wg *sq_wg_new(void)
{
	return calloc(1, sizeof(sq_wg));
}

void sq_wg_free(sq_wg *w)
{
	free(w);
}

void sq_wg_add(sq_wg *w, int n)
{
	Waiter *list = NULL;

	lock(&w->lock);
	w->count += n;
	if (w->count < 0) {
		unlock(&w->lock);
		throwf(F_BAD_ARG, "sq_wg_add: negative wait group counter");
	}
	if (w->count == 0)
		list = drain(&w->waiters);
	unlock(&w->lock);
	for (Waiter *next; list; list = next) {
		next = list->next;
		list->ok = true;
		goready(list->g);
	}
}

void sq_wg_done(sq_wg *w)
{
	sq_wg_add(w, -1);
}

void sq_wg_wait(sq_wg *w)
{
	Waiter me;

	curg("sq_wg_wait: not called from a goroutine");
	lock(&w->lock);
	if (w->count == 0) {
		unlock(&w->lock);
		return;
	}
	me.g = getg();
	me.ok = false;
	enqueue(&w->waiters, &me);
	gopark(&w->lock, "wait group");
}

sq_mutex *sq_mutex_new(void)
{
	return calloc(1, sizeof(sq_mutex));
}

void sq_mutex_free(sq_mutex *mu)
{
	free(mu);
}

int sq_mutex_trylock(sq_mutex *mu)
{
	int took;

	curg("sq_mutex_trylock: not called from a goroutine");
	lock(&mu->lock);
	took = !mu->locked;
	mu->locked = true;
	unlock(&mu->lock);
	return took;
}

void sq_mutex_lock(sq_mutex *mu)
{
	Waiter me;

	curg("sq_mutex_lock: not called from a goroutine");
	lock(&mu->lock);
	if (!mu->locked) {
		mu->locked = true;
		unlock(&mu->lock);
		return;
	}
	me.g = getg();
	me.ok = false;
	enqueue(&mu->waiters, &me);
	gopark(&mu->lock, "mutex");	/* woken owning it */
}

void sq_mutex_unlock(sq_mutex *mu)
{
	Waiter *w;

	curg("sq_mutex_unlock: not called from a goroutine");
	lock(&mu->lock);
	if (!mu->locked) {
		unlock(&mu->lock);
		throwf(F_BAD_ARG, "sq_mutex_unlock: unlock of unlocked mutex");
	}
	w = dequeue(&mu->waiters);
	if (!w)
		mu->locked = false;
	unlock(&mu->lock);
	if (w) {
		w->ok = true;
		goready(w->g);
	}
}
