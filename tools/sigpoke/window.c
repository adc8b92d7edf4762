// window: which instructions get poked.
//
// For each function name of the window, in the order given:
//   - its out-of-line copy, found by ELF symbol: every instruction of
//     [st_value, st_value + st_size);
//   - every copy inlined into another function (DWARF, through objdump's
//     inline chains): the instructions whose chain names it. An instruction
//     inside several window functions' copies (minit inlined into needm
//     inlined into X) belongs to the outermost: it is poked once.
// A name with neither is an unknown symbol.
//
// Each copy is a strip of the picture; strips of out-of-line copies come
// first, in the order the names were given, then the inlined copies.

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigpoke.h"

static int addstrip(struct window *w, const char *of, const char *in)
{
	struct func *f;
	char *name;

	if (w->nfn % 16 == 0) {
		struct func *n = realloc(w->fn, (w->nfn + 16) * sizeof *n);
		if (n == NULL)
			return -1;
		w->fn = n;
	}
	if (in != NULL) {
		name = malloc(strlen(of) + strlen(in) + 2);
		if (name == NULL)
			return -1;
		sprintf(name, "%s@%s", of, in);
	} else {
		name = strdup(of);
	}
	f = &w->fn[w->nfn++];
	f->name = name;
	f->of = of;
	f->in = in;
	f->first = w->nin;
	f->n = 0;
	return (int)w->nfn - 1;
}

static int addinsn(struct window *w, const struct dinsn *di, const char *sym, uintptr_t symaddr)
{
	struct insn *in;

	if (w->nin % 256 == 0) {
		struct insn *n = realloc(w->in, (w->nin + 256) * sizeof *n);
		if (n == NULL)
			return -1;
		w->in = n;
	}
	in = &w->in[w->nin++];
	memset(in, 0, sizeof *in);
	in->addr = di->addr;
	in->fn = (uint32_t)(w->nfn - 1);
	in->sym = sym;
	in->off = (uint32_t)(di->addr - symaddr);
	in->text = di->text;
	w->fn[w->nfn - 1].n++;
	return 0;
}

// outofline adds the strip of symbol s: 1 if it has instructions.
static int outofline(struct window *w, const struct dis *d, const struct sym *s)
{
	size_t i = disfind(d, s->addr);

	if (i >= d->n || d->in[i].addr >= s->addr + s->size)
		return 0;
	if (addstrip(w, s->name, NULL) < 0)
		return -1;
	for (; i < d->n && d->in[i].addr < s->addr + s->size; i++)
		if (addinsn(w, &d->in[i], s->name, s->addr) < 0)
			return -1;
	return 1;
}

// owner returns the window name (index in names) whose inlined copy di is
// part of, or -1: the outermost window function on its inline chain.
static int owner(const struct dinsn *di, const int *ids, size_t n)
{
	for (int k = di->nchain - 1; k >= 0; k--) {
		if (di->chain[k] == di->fn)
			continue;
		for (size_t j = 0; j < n; j++)
			if (ids[j] >= 0 && di->chain[k] == ids[j])
				return (int)j;
	}
	return -1;
}

// inlined adds the strips of name j's copies inlined into other functions.
static int inlined(struct window *w, const struct elfsyms *e, const struct dis *d,
    const int *ids, size_t n, size_t j, const uintptr_t (*own)[2])
{
	int cur = -1, found = 0;
	const struct sym *s = NULL;

	for (size_t i = 0; i < d->n; i++) {
		const struct dinsn *di = &d->in[i];
		int inown = 0;
		for (size_t k = 0; k < n; k++)
			inown |= di->addr >= own[k][0] && di->addr < own[k][1];
		if (inown || owner(di, ids, n) != (int)j)
			continue;
		if (di->fn != cur) {
			cur = di->fn;
			if (elffind(e, d->names[cur], &s) < 0)
				s = NULL;
			if (addstrip(w, d->names[ids[j]], d->names[cur]) < 0)
				return -1;
			found = 1;
		}
		if (addinsn(w, di, d->names[cur], s ? s->addr : di->addr) < 0)
			return -1;
	}
	return found;
}

int windowbuild(struct window *w, const struct elfsyms *e, const struct dis *d,
    char **names, size_t n, int inl, char *err, size_t errlen)
{
	int *ids = calloc(n + 1, sizeof *ids), *have = calloc(n + 1, sizeof *have);
	uintptr_t (*own)[2] = calloc(n + 1, sizeof *own);
	const struct sym *s;
	int r;

	memset(w, 0, sizeof *w);
	if (ids == NULL || have == NULL || own == NULL)
		return -1;
	for (size_t j = 0; j < n; j++) {
		ids[j] = disname(d, names[j]);
		r = elffind(e, names[j], &s);
		if (r == -EEXIST) {
			snprintf(err, errlen, "ambiguous symbol %s: several local functions have that name",
			    names[j]);
			return -1;
		}
		if (r == 0) {
			for (size_t k = 0; k < j; k++) {
				if (own[k][0] == s->addr) {
					snprintf(err, errlen, "%s is in the window twice", names[j]);
					return -1;
				}
			}
			own[j][0] = s->addr;
			own[j][1] = s->addr + s->size;
			if ((r = outofline(w, d, s)) < 0)
				return -1;
			have[j] |= r;
		}
	}
	for (size_t j = 0; inl && j < n; j++) {
		if (ids[j] < 0)
			continue;
		if ((r = inlined(w, e, d, ids, n, j, (const uintptr_t (*)[2])own)) < 0)
			return -1;
		have[j] |= r;
	}
	for (size_t j = 0; j < n; j++) {
		if (!have[j]) {
			snprintf(err, errlen, "unknown symbol %s: no such function in PROGRAM", names[j]);
			return -1;
		}
	}
	if (w->nin == 0) {
		snprintf(err, errlen, "no function of the window is in PROGRAM");
		return -1;
	}
	free(ids);
	free(have);
	free(own);
	return 0;
}

// windowat makes the one-strip window of --at LOC (FUNC+OFF, FUNC, or a
// link-time 0xADDR) from d, the disassembly of the function that holds it;
// returns the instruction's index or -1 with err set. The strip is the
// containing symbol, so an instruction of an inlined copy is named by where
// it really is (sq_callback+0x245).
long windowat(struct window *w, const struct elfsyms *e, const struct dis *d,
    const char *loc, char *err, size_t errlen)
{
	const struct sym *s;
	uintptr_t addr;

	if (windowloc(e, loc, &s, &addr, err, errlen) < 0)
		return -1;
	memset(w, 0, sizeof *w);
	if (outofline(w, d, s) <= 0) {
		snprintf(err, errlen, "cannot disassemble %s", s->name);
		return -1;
	}
	for (size_t i = 0; i < w->nin; i++)
		if (w->in[i].addr == addr)
			return (long)i;
	for (size_t i = 0; i + 1 < w->nin; i++) {
		if (w->in[i].addr < addr && w->in[i + 1].addr > addr) {
			snprintf(err, errlen, "%s is not an instruction boundary (%s+0x%x and %s+0x%x are)",
			    loc, s->name, w->in[i].off, s->name, w->in[i + 1].off);
			return -1;
		}
	}
	snprintf(err, errlen, "%s is outside %s", loc, s->name);
	return -1;
}

// windowloc resolves --at LOC to its function and link-time address.
int windowloc(const struct elfsyms *e, const char *loc, const struct sym **s, uintptr_t *addr,
    char *err, size_t errlen)
{
	char copy[256], where[160], *plus, *end;
	int r;

	snprintf(copy, sizeof copy, "%s", loc);
	plus = strchr(copy, '+');
	if (strncmp(copy, "0x", 2) == 0 && plus == NULL) {
		*addr = strtoul(copy, &end, 16);
		if (*end != 0) {
			snprintf(err, errlen, "bad location %s: want FUNC+0xOFF or 0xADDR", loc);
			return -1;
		}
		elfwhere(e, *addr, where, sizeof where);
		if (where[0] == 0) {
			snprintf(err, errlen, "no function contains %s", loc);
			return -1;
		}
		*strchr(where, '+') = 0;
		if (elffind(e, where, s) < 0) {
			snprintf(err, errlen, "no unique function contains %s", loc);
			return -1;
		}
		return 0;
	}
	if (plus != NULL)
		*plus = 0;
	r = elffind(e, copy, s);
	if (r < 0) {
		snprintf(err, errlen, r == -ENOENT ? "unknown symbol %s: no such function in PROGRAM" :
		    "ambiguous symbol %s: several local functions have that name", copy);
		return -1;
	}
	*addr = (*s)->addr;
	if (plus != NULL) {
		unsigned long off = strtoul(plus + 1, &end, 0);
		if (plus[1] == 0 || *end != 0) {
			snprintf(err, errlen, "bad offset in %s", loc);
			return -1;
		}
		*addr += off;
	}
	if (*addr >= (*s)->addr + (*s)->size) {
		snprintf(err, errlen, "%s is outside %s (size 0x%lx)", loc, (*s)->name,
		    (unsigned long)(*s)->size);
		return -1;
	}
	return 0;
}
