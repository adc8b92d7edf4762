// window: which instructions get poked.
//
// For each function name of the window, in the order given:
//   - its out-of-line copy, found by ELF symbol: every instruction of
//     [st_value, st_value + st_size);
//   - every copy inlined into another function (DWARF, dwarf.c): the
//     instructions of its outermost copies that lie in no window function's
//     out-of-line copy. An instruction inside several window functions'
//     copies (minit inlined into needm inlined into X) belongs to the
//     outermost: it is poked once.
// A name with neither is an unknown symbol, unless DWARF shows it inlined
// only into other window functions, which cover it.
//
// Each copy is a strip of the picture; strips of out-of-line copies come
// first, in the order the names were given, then the inlined copies, by
// name, then address.

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

static int addinsn(struct window *w, const struct dinsn *di, const struct sym *s)
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
	in->sym = s->name;
	in->off = (uint32_t)(di->addr - s->addr);
	in->text = di->text;
	w->fn[w->nfn - 1].n++;
	return 0;
}

// outofline adds the strip of symbol s: 1 if it has instructions.
static int outofline(struct window *w, const struct elfsyms *e, const struct sym *s)
{
	const struct dfunc *f = disfunc(e, s);

	if (f == NULL)
		return 0;
	if (addstrip(w, s->name, NULL) < 0)
		return -1;
	for (size_t i = 0; i < f->n; i++)
		if (addinsn(w, &f->in[i], s) < 0)
			return -1;
	return 1;
}

// The window being built from DWARF's inlined copies.
struct build {
	struct window *w;
	const struct elfsyms *e;
	char **names;
	const uintptr_t (*own)[2];      // each name's out-of-line copy, or 0-0
	size_t n;
	int curname;                    // the strip being filled: its name ...
	const struct sym *curin;        // ... and the function it is inlined in
};

static int owned(const struct build *b, uintptr_t a)
{
	for (size_t k = 0; k < b->n; k++)
		if (a >= b->own[k][0] && a < b->own[k][1])
			return 1;
	return 0;
}

// copyinsns adds the instructions of the inlined copy r that lie in
// function s, from a on; 1 if any.
static int copyinsns(struct build *b, const struct inlrange *r, const struct sym *s, uintptr_t a)
{
	const struct dfunc *f = disfunc(b->e, s);
	int found = 0;

	for (size_t i = f ? disfind(f, a) : 0; f && i < f->n && f->in[i].addr < r->hi; i++) {
		if (owned(b, f->in[i].addr))
			continue;
		if (b->curname != r->name || b->curin != s) {
			if (addstrip(b->w, b->names[r->name], s->name) < 0)
				return -1;
			b->curname = r->name;
			b->curin = s;
		}
		if (addinsn(b->w, &f->in[i], s) < 0)
			return -1;
		found = 1;
	}
	return found;
}

// inlined adds the strips of the inlined copies r[0..nr); have[j] is set
// for every name that got an instruction.
static int inlined(struct build *b, const struct inlrange *r, size_t nr, int *have)
{
	for (size_t i = 0; i < nr; i++) {
		// A copy may run across functions (a hot part and a cold one).
		for (uintptr_t a = r[i].lo; a < r[i].hi;) {
			const struct sym *s = elfholder(b->e, a, 0);
			int got;
			if (s == NULL)
				break;
			if ((got = copyinsns(b, &r[i], s, a)) < 0)
				return -1;
			have[r[i].name] |= got;
			a = s->addr + s->size;
		}
	}
	return 0;
}

// copies finds the names' inlined copies in DWARF and adds their strips.
static int copies(struct build *b, const char *path, int *have, int *seen)
{
	struct inlrange *r;
	size_t nr;
	int ret = dwarfinlined(b->e, path, b->names, b->n, &r, &nr, seen);

	if (ret == 1)
		fprintf(stderr, "sigpoke: note: %s has no DWARF: only out-of-line copies are "
		    "swept (build it with -g)\n", path);
	if (ret < 0)
		return -1;
	ret = inlined(b, r, nr, have);
	free(r);
	return ret;
}

// ownsyms finds each name's out-of-line copy, adds its strip and notes its
// range in own; have[j] says it has instructions.
static int ownsyms(struct window *w, const struct elfsyms *e, char **names, size_t n,
    uintptr_t (*own)[2], int *have, char *err, size_t errlen)
{
	const struct sym *s;

	for (size_t j = 0; j < n; j++) {
		int r = elffind(e, names[j], &s);
		if (r == -EEXIST) {
			snprintf(err, errlen, "ambiguous symbol %s: several local functions have that name",
			    names[j]);
			return -1;
		}
		if (r < 0)
			continue;
		for (size_t k = 0; k < j; k++) {
			if (own[k][0] == s->addr) {
				snprintf(err, errlen, "%s is in the window twice", names[j]);
				return -1;
			}
		}
		own[j][0] = s->addr;
		own[j][1] = s->addr + s->size;
		if ((r = outofline(w, e, s)) < 0)
			return -1;
		have[j] = r;
	}
	return 0;
}

int windowbuild(struct window *w, const struct elfsyms *e, const char *path,
    char **names, size_t n, int inl, char *err, size_t errlen)
{
	int *have = calloc(n + 1, sizeof *have), *seen = calloc(n + 1, sizeof *seen);
	uintptr_t (*own)[2] = calloc(n + 1, sizeof *own);
	struct build b = { .w = w, .e = e, .names = names, .n = n, .curname = -1 };

	memset(w, 0, sizeof *w);
	if (have == NULL || seen == NULL || own == NULL)
		return -1;
	b.own = (const uintptr_t (*)[2])own;
	if (ownsyms(w, e, names, n, own, have, err, errlen) < 0)
		return -1;
	if (inl && copies(&b, path, have, seen) < 0) {
		snprintf(err, errlen, "cannot read the DWARF of %s", path);
		return -1;
	}
	for (size_t j = 0; j < n; j++) {
		if (!have[j] && !seen[j]) {
			snprintf(err, errlen, "unknown symbol %s: no such function in PROGRAM", names[j]);
			return -1;
		}
	}
	if (w->nin == 0) {
		snprintf(err, errlen, "no function of the window is in PROGRAM");
		return -1;
	}
	free(have);
	free(seen);
	free(own);
	return 0;
}

// windowat makes the one-strip window of --at LOC (FUNC+OFF, FUNC, or a
// link-time 0xADDR): the function that holds it, disassembled; returns the
// instruction's index or -1 with err set. The strip is the containing
// symbol, so an instruction of an inlined copy is named by where it really
// is (sq_callback+0x245).
long windowat(struct window *w, const struct elfsyms *e, const char *loc, char *err,
    size_t errlen)
{
	const struct sym *s;
	uintptr_t addr;

	if (windowloc(e, loc, &s, &addr, err, errlen) < 0)
		return -1;
	memset(w, 0, sizeof *w);
	if (outofline(w, e, s) <= 0) {
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
