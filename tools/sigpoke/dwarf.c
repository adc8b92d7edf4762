// dwarf: where the window's functions were inlined, from PROGRAM's DWARF
// (elfutils' libdw).
//
// A function of the window may also have been inlined into others (clang
// inlines dropm into sq_callback): those copies are the code that actually
// runs there, so they belong to the window too. The compiler describes
// each copy as a DW_TAG_inlined_subroutine whose abstract origin names the
// function, with the address ranges of its instructions, nested inside the
// subprogram (and the other copies) it was inlined into.
//
// One walk over every unit's DIE tree finds, for each window function, its
// outermost copies: a copy inside another window function's copy (minit
// inlined into needm inlined into X), or inside a window function's own
// body, belongs to that one and is poked once, as part of it. A window
// function's own subprogram is reported too: its ranges beyond its ELF
// symbol (a .cold part) are a strip of their own; window.c drops what the
// symbol already covers.

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sigpoke.h"

struct walk {
	char **names;
	size_t n;
	struct inlrange *r;
	size_t nr;
	int *seen;
};

static int nameindex(struct walk *w, Dwarf_Die *die)
{
	const char *name = dwarf_diename(die);     // follows DW_AT_abstract_origin

	for (size_t j = 0; name != NULL && j < w->n; j++)
		if (strcmp(w->names[j], name) == 0)
			return (int)j;
	return -1;
}

static int addrange(struct walk *w, int j, Dwarf_Addr lo, Dwarf_Addr hi)
{
	if (w->nr % 64 == 0) {
		struct inlrange *r = realloc(w->r, (w->nr + 64) * sizeof *r);
		if (r == NULL)
			return -1;
		w->r = r;
	}
	w->r[w->nr++] = (struct inlrange){ lo, hi, j };
	return 0;
}

static int addranges(struct walk *w, Dwarf_Die *die, int j)
{
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;

	while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0)
		if (lo < hi && addrange(w, j, lo, hi) < 0)
			return -1;
	return 0;
}

// walk visits die's children; inside: an enclosing DIE is a window
// function's copy or body, which owns everything below it.
static int walk(struct walk *w, Dwarf_Die *die, int inside)
{
	Dwarf_Die child;

	if (dwarf_child(die, &child) != 0)
		return 0;
	do {
		int tag = dwarf_tag(&child), j = -1, in = inside;
		if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram)
			j = nameindex(w, &child);
		if (j >= 0) {
			w->seen[j] |= tag == DW_TAG_inlined_subroutine;
			if (!inside && addranges(w, &child, j) < 0)
				return -1;
			in = 1;
		}
		if (walk(w, &child, in) < 0)
			return -1;
	} while (dwarf_siblingof(&child, &child) == 0);
	return 0;
}

static int cmprange(const void *a, const void *b)
{
	const struct inlrange *x = a, *y = b;

	if (x->name != y->name)
		return x->name - y->name;
	return (x->lo > y->lo) - (x->lo < y->lo);
}

// dwarfinlined finds the outermost copies of names[0..n) in path: ranges
// sorted by name, then address. seen[j] is set when names[j] was inlined
// anywhere (possibly only inside other window functions). Returns 0, 1
// when path has no DWARF (nothing found), -1 on failure.
int dwarfinlined(const struct elfsyms *e, const char *path, char **names, size_t n,
    struct inlrange **out, size_t *nout, int *seen)
{
	struct walk w = { .names = names, .n = n, .seen = seen };
	Dwarf_Off off = 0, next;
	size_t hsize;
	Dwarf *dw;
	int fd, ret = 0;

	*out = NULL;
	*nout = 0;
	if (!elfhas(e, ".debug_info") && !elfhas(e, ".zdebug_info"))
		return 1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if ((dw = dwarf_begin(fd, DWARF_C_READ)) == NULL) {
		close(fd);
		return -1;
	}
	while (ret == 0 && dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu;
		if (dwarf_offdie(dw, off + hsize, &cu) != NULL)
			ret = walk(&w, &cu, 0);
		off = next;
	}
	dwarf_end(dw);
	close(fd);
	qsort(w.r, w.nr, sizeof *w.r, cmprange);
	*out = w.r;
	*nout = w.nr;
	return ret;
}
