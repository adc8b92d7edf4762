/*
 * stack.c: the stack allocator.
 *
 * Every stack the runtime hands out (G stacks, g0 stacks of runtime-made Ms,
 * gsignal stacks) comes from here. A span is one guard page followed by the
 * stack: [span, span+PAGE) is the guard (os_mem_guard), [lo, hi) is the
 * stack.
 *
 * Memory moves through three states:
 *   general memory  reserved read-write, committed by the kernel on touch
 *   stack           remapped MAP_STACK by os_stack_alloc, guard page set
 *   pooled stack    freed by its owner, still MAP_STACK, ready for reuse
 * stackalloc takes a pooled stack if there is one (no syscall), else the
 * next span of the pool's current chunk, else turns a cached span of
 * general memory into a stack, else makes a new chunk. stackfree pools the
 * stack; once a pool is full the span goes back to general memory through
 * os_stack_free, which drops MAP_STACK, and is kept in the span cache or
 * released.
 *
 * Chunks: new spans are reserved CHUNK_BYTES at a time (at least one span),
 * and the whole chunk becomes stack memory at once: one reservation, one
 * MAP_STACK remap and one guard per span, where a span at a time took
 * three system calls each. Where the OS has guard regions that do not split
 * a mapping (Linux 6.13's MADV_GUARD_INSTALL), a chunk of any number of
 * stacks is one mapping; with mprotect guards every span costs two, and the
 * kernel's map count (vm.max_map_count, 65530 by default) caps the process
 * near 32,000 stacks. The chunk's spans are handed out in order without
 * being touched: a stack costs resident memory only for the pages its
 * owner touches.
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
	NPOOL       = 4,		/* distinct stack sizes in use at once */
	POOL_MAX    = 1024,		/* pooled stacks kept per size */
	CACHE_MAX   = 64,		/* spans of general memory kept per size */
	CHUNK_BYTES = 16 << 20,		/* spans are reserved this much at a time */
};

typedef struct Span {
	struct Span *next;
} Span;

/* One pool per stack size: pooled stacks, the rest of the current chunk,
 * and cached spans of general memory. */
typedef struct Pool {
	size_t size;
	Span *stacks;
	int32_t nstacks;
	char *chunk;		/* the current chunk's next span, untouched */
	int32_t nchunk;		/* spans left in it */
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

/* A cached span of general memory, or NULL. */
static void *spanget(Pool *pool)
{
	Span *s;

	if (pool && pool->spans) {
		s = pool->spans;
		pool->spans = s->next;
		pool->nspans--;
		return (char *)s - PAGE;
	}
	return NULL;
}

/* Turn n spans of general memory into stacks: MAP_STACK first, for all of
 * them at once, then a guard page at the start of each. */
static int spantostack(void *span, size_t spansize, int32_t n)
{
	int r;

	if (!REGRESS(MAPSTACK)) {
		r = os_stack_alloc(span, spansize * (size_t)n);
		if (r < 0)
			return r;
	}
	return os_mem_guards(span, spansize, n);
}

/* A new chunk: n spans, stacks already; one span when there is no pool
 * to keep the rest (a size beyond the NPOOL in use: sq_spawn_stack).
 * stacklock not held (it makes system calls). NULL when the OS says no. */
static void *chunknew(size_t spansize, bool pooled, int32_t *n)
{
	void *chunk;

	*n = !pooled || spansize >= CHUNK_BYTES ? 1 : (int32_t)(CHUNK_BYTES / spansize);
	if (os_mem_reserve(spansize * (size_t)*n, &chunk) < 0)
		return NULL;
	if (spantostack(chunk, spansize, *n) < 0) {
		os_mem_release(chunk, spansize * (size_t)*n);
		return NULL;
	}
	return chunk;
}

/* The next span of pool's current chunk, or NULL. stacklock held. */
static void *chunkget(Pool *pool, size_t spansize)
{
	void *span;

	if (!pool || pool->nchunk == 0)
		return NULL;
	span = pool->chunk;
	pool->chunk += spansize;
	pool->nchunk--;
	return span;
}

static Stack spanstack(void *span, size_t size)
{
	Stack st;

	st.lo = (uintptr)span + PAGE;
	st.hi = st.lo + size;
	__atomic_add_fetch(&inuse, 1, __ATOMIC_RELAXED);
	return st;
}

Stack stackalloc(size_t size)
{
	size_t spansize = size + PAGE;
	Pool *pool;
	Span *s;
	void *span, *chunk;
	int32_t n;

	lock(&stacklock);
	pool = poolfor(size);
	if (pool && pool->stacks) {
		s = pool->stacks;
		pool->stacks = s->next;
		pool->nstacks--;
		unlock(&stacklock);
		return spanstack((char *)s - PAGE, size);
	}
	span = chunkget(pool, spansize);
	if (span) {
		unlock(&stacklock);
		return spanstack(span, size);
	}
	span = spanget(pool);
	unlock(&stacklock);
	if (span) {
		if (spantostack(span, spansize, 1) < 0)
			throw(F_STACK_ALLOC);
		return spanstack(span, size);
	}
	chunk = chunknew(spansize, pool != NULL, &n);
	if (chunk == NULL)
		throw(F_STACK_ALLOC);
	/* The first span is ours; the rest becomes the pool's chunk, unless
	 * another thread installed one while we made this (then it goes). */
	lock(&stacklock);
	if (pool && pool->nchunk == 0) {
		pool->chunk = (char *)chunk + spansize;
		pool->nchunk = n - 1;
		n = 1;
	}
	unlock(&stacklock);
	if (n > 1)
		os_mem_release((char *)chunk + spansize, spansize * (size_t)(n - 1));
	return spanstack(chunk, size);
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
