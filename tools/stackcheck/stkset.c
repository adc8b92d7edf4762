// stkset: a sorted set of [lo, hi) address ranges, the MAP_STACK memory of
// one address space.
//
// Invariant: ranges are non-empty, sorted by address, and never overlap or
// touch; stkadd merges neighbours and stkdel splits, so every membership
// question is one binary search. Callers pass page-aligned bounds; the set
// does not care, but the tracer relies on it when it reports gaps.
//
// The set is tiny in practice (one range per live stack, merged when stacks
// are adjacent), so the arrays are moved with memmove rather than kept in a
// tree: a syscall-heavy tracee pays only for stkhas.

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stackcheck.h"

// first returns the index of the first range whose hi is >= addr (touch) or
// > addr (strict).
static size_t first(const struct stkset *s, uintptr_t addr, int touch)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uintptr_t end = s->r[mid].hi;
		if (end > addr || (touch && end == addr))
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

// splice replaces ranges [i, j) with the k ranges in with.
static int splice(struct stkset *s, size_t i, size_t j, const struct range *with, size_t k)
{
	size_t n = s->n - (j - i) + k;

	if (n > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct range *r;
		while (cap < n)
			cap *= 2;
		r = realloc(s->r, cap * sizeof *r);
		if (r == NULL)
			return -ENOMEM;
		s->r = r;
		s->cap = cap;
	}
	memmove(&s->r[i + k], &s->r[j], (s->n - j) * sizeof *s->r);
	memcpy(&s->r[i], with, k * sizeof *with);
	s->n = n;
	return 0;
}

void stkfree(struct stkset *s)
{
	free(s->r);
	s->r = NULL;
	s->n = s->cap = 0;
}

int stkcopy(struct stkset *dst, const struct stkset *src)
{
	dst->n = dst->cap = 0;
	dst->r = NULL;
	return splice(dst, 0, 0, src->r, src->n);
}

// stkadd marks [lo, hi) as MAP_STACK, merging every range it overlaps or
// touches into one.
void stkadd(struct stkset *s, uintptr_t lo, uintptr_t hi)
{
	struct range m = { lo, hi };
	size_t i, j;

	if (lo >= hi)
		return;
	i = first(s, lo, 1);
	for (j = i; j < s->n && s->r[j].lo <= hi; j++) {
		if (s->r[j].lo < m.lo)
			m.lo = s->r[j].lo;
		if (s->r[j].hi > m.hi)
			m.hi = s->r[j].hi;
	}
	if (splice(s, i, j, &m, 1) < 0)
		abort();        // the tracer cannot keep a correct model: give up loudly
}

// stkdel removes [lo, hi), keeping the parts of cut ranges outside it.
void stkdel(struct stkset *s, uintptr_t lo, uintptr_t hi)
{
	struct range keep[2];
	size_t i, j, k = 0;

	if (lo >= hi)
		return;
	i = first(s, lo, 0);
	for (j = i; j < s->n && s->r[j].lo < hi; j++)
		;
	if (i == j)
		return;
	if (s->r[i].lo < lo)
		keep[k++] = (struct range){ s->r[i].lo, lo };
	if (s->r[j - 1].hi > hi)
		keep[k++] = (struct range){ hi, s->r[j - 1].hi };
	if (splice(s, i, j, keep, k) < 0)
		abort();
}

// stkhas reports whether lo <= addr < hi for some range: the top of a range
// is outside it, exactly as for OpenBSD's check.
int stkhas(const struct stkset *s, uintptr_t addr)
{
	size_t i = first(s, addr, 0);

	return i < s->n && s->r[i].lo <= addr;
}

// stkgap returns the lowest address of [lo, hi) that is not covered, or hi
// when the whole range is covered. Ranges never touch, so a range holding lo
// either reaches hi or is followed by a gap.
uintptr_t stkgap(const struct stkset *s, uintptr_t lo, uintptr_t hi)
{
	size_t i = first(s, lo, 0);

	if (lo >= hi)
		return hi;
	if (i == s->n || s->r[i].lo > lo)
		return lo;
	return s->r[i].hi >= hi ? hi : s->r[i].hi;
}

// stkslice fills out (which must be empty) with the covered parts of [lo, hi).
int stkslice(const struct stkset *s, uintptr_t lo, uintptr_t hi, struct stkset *out)
{
	size_t i;

	for (i = first(s, lo, 0); i < s->n && s->r[i].lo < hi; i++) {
		struct range r = s->r[i];
		if (r.lo < lo)
			r.lo = lo;
		if (r.hi > hi)
			r.hi = hi;
		if (splice(out, out->n, out->n, &r, 1) < 0)
			return -ENOMEM;
	}
	return 0;
}
