/*
 * stack.c: the stack allocator.
 *
 * Every stack the runtime hands out (G stacks, g0 stacks of runtime-made Ms,
 * gsignal stacks) comes from here. A span is one guard page followed by the
 * stack: [span, span+PAGE) is PROT_NONE, [lo, hi) is the stack.
 *
 * Memory moves through three states:
 *   general memory  reserved read-write, committed by the kernel on touch
 *   stack           remapped MAP_STACK by os_stack_alloc, guard page set
 *   pooled stack    freed by its owner, still MAP_STACK, ready for reuse
 * stackalloc takes a pooled stack if there is one (no syscall), else turns a
 * span of general memory into a stack. stackfree pools the stack; once a
 * pool is full the span goes back to general memory through os_stack_free,
 * which drops MAP_STACK, and is kept in the span cache or released.
 *
 * G stacks do not move and do not grow: the whole size is reserved up front
 * (MAP_NORESERVE, so untouched pages cost nothing) and overflow past lo +
 * STACK_GUARD is the fatal "stack overflow" from the split check.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"
#include "os.h"

enum {
	NPOOL     = 4,		/* distinct stack sizes in use at once */
	POOL_MAX  = 1024,	/* pooled stacks kept per size */
	CACHE_MAX = 64,		/* spans of general memory kept per size */
};

typedef struct Span {
	struct Span *next;
} Span;

/* One pool per stack size: pooled stacks and cached spans of general memory. */
typedef struct Pool {
	size_t size;
	Span *stacks;
	int32_t nstacks;
	Span *spans;
	int32_t nspans;
} Pool;

static Lock stacklock;
static Pool pools[NPOOL];
static int64_t inuse;

/* Held from handing out a stack until its owner is published (allocm and
 * mcommoninit, gnew), and by sq_check while it counts both sides: an
 * owner's stacks and the owner appear in one step to the check. Without
 * it, a quiescent check (every G dead, which says nothing about Ms) could
 * run while sysmon's retake started an M (newm: g0's stack handed out,
 * the M not yet on allm): "stacks in use vs owners (13 vs 12)". Taken
 * before sched.lock, stacklock, allglock and extralock. */
Lock stackownlock;

size_t stack_gsize(void)
{
	return sq_settings.stacksize;
}

NOSPLIT int64_t stack_inuse(void)
{
	return __atomic_load_n(&inuse, __ATOMIC_RELAXED);
}

static Pool *poolfor(size_t size)
{
	int i;

	for (i = 0; i < NPOOL; i++) {
		if (pools[i].size == size)
			return &pools[i];
		if (pools[i].size == 0) {
			pools[i].size = size;
			return &pools[i];
		}
	}
	return NULL;
}

/* A span of general memory: from the cache, else fresh from the OS. */
static void *spanget(Pool *pool, size_t spansize)
{
	void *p;
	Span *s;

	if (pool && pool->spans) {
		s = pool->spans;
		pool->spans = s->next;
		pool->nspans--;
		return (char *)s - PAGE;
	}
	if (os_mem_reserve(spansize, &p) < 0)
		return NULL;
	return p;
}

/* Turn general memory into a stack: MAP_STACK first, then the guard. */
static int spantostack(void *span, size_t spansize)
{
	int r;

	if (!REGRESS(MAPSTACK)) {
		r = os_stack_alloc(span, spansize);
		if (r < 0)
			return r;
	}
	return os_mem_guard(span, PAGE);
}

Stack stackalloc(size_t size)
{
	size_t spansize = size + PAGE;
	Pool *pool;
	Span *s;
	void *span;
	Stack st;

	lock(&stacklock);
	pool = poolfor(size);
	if (pool && pool->stacks) {
		s = pool->stacks;
		pool->stacks = s->next;
		pool->nstacks--;
		unlock(&stacklock);
		st.lo = (uintptr)s;
		st.hi = st.lo + size;
		__atomic_add_fetch(&inuse, 1, __ATOMIC_RELAXED);
		return st;
	}
	span = spanget(pool, spansize);
	unlock(&stacklock);
	if (span == NULL || spantostack(span, spansize) < 0)
		throw(F_STACK_ALLOC);
	st.lo = (uintptr)span + PAGE;
	st.hi = st.lo + size;
	__atomic_add_fetch(&inuse, 1, __ATOMIC_RELAXED);
	return st;
}

void stackfree(Stack st)
{
	size_t size = st.hi - st.lo;
	void *span = (void *)(st.lo - PAGE);
	Pool *pool;
	Span *s = (Span *)st.lo;

	if (st.lo == 0 || (st.lo & (PAGE - 1)) || (size & (PAGE - 1)))
		throw(F_STACK_NOT_ALLOCATED);
	__atomic_sub_fetch(&inuse, 1, __ATOMIC_RELAXED);
	lock(&stacklock);
	pool = poolfor(size);
	if (pool && pool->nstacks < POOL_MAX) {
		s->next = pool->stacks;
		pool->stacks = s;
		pool->nstacks++;
		unlock(&stacklock);
		return;
	}
	unlock(&stacklock);
	/* Back to general memory: the remap drops MAP_STACK and the guard. */
	if (!REGRESS(MAPSTACK) && os_stack_free(span, size + PAGE) < 0) {
		os_mem_release(span, size + PAGE);
		return;
	}
	lock(&stacklock);
	if (pool && pool->nspans < CACHE_MAX) {
		s->next = pool->spans;
		pool->spans = s;
		pool->nspans++;
		span = NULL;
	}
	unlock(&stacklock);
	if (span)
		os_mem_release(span, size + PAGE);
}
