// disasm: instruction boundaries and their text, through capstone.
//
// A breakpoint must go on the first byte of an instruction; on x86-64 only a
// disassembler knows where those are. A function is decoded linearly from
// its symbol's address to its end, which is right for compiled code (no data
// in text). Bytes that do not decode are skipped one at a time, as objdump
// prints "(bad)" and goes on: they are no instruction boundary.
//
// The text is capstone's (AT&T syntax on x86-64) and, as objdump does, names
// the target of a direct branch or call ("<unminit>", "<sigaltstack@plt>",
// "<needm+0x1e>") and the symbol a pc-relative operand points at
// ("# 0xd198 <extram>"), so that a table of instructions reads on its own.
// A call into a PLT stub is named after the symbol whose GOT slot the stub
// jumps through (elf.c reads the relocations that fill those slots).
//
// Decoded functions are kept for sigpoke's life: the window asks for the
// same containing function once per inlined copy.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigpoke.h"

static csh cs;
static int csok;
static struct dfunc *cache;
static size_t ncache;

static int csinit(void)
{
	if (!csok && archcsopen(&cs) == 0)
		csok = 1;
	return csok ? 0 : -1;
}

// pltname names the symbol a PLT stub at addr jumps to, or NULL.
static const char *pltname(const struct elfsyms *e, uintptr_t addr)
{
	const uint8_t *code;
	cs_insn *in;
	size_t n, k;
	uintptr_t slot;

	if (strncmp(elfsecname(e, addr), ".plt", 4) != 0 || (code = elfcode(e, addr, &n)) == NULL)
		return NULL;
	k = cs_disasm(cs, code, n < 32 ? n : 32, addr, 3, &in);
	slot = archgotslot(cs, in, k);
	cs_free(in, k);
	return slot ? elfgot(e, slot) : NULL;
}

// symname writes " <name>" for link-time address a: a PLT stub's target,
// or fn+0xoff; nothing when no symbol holds a. data: any symbol will do.
static void symname(const struct elfsyms *e, uintptr_t a, int data, char *buf, size_t n)
{
	const char *plt = data ? NULL : pltname(e, a);
	const struct sym *s = plt ? NULL : elfholder(e, a, data);

	buf[0] = 0;
	if (plt != NULL)
		snprintf(buf, n, " <%s@plt>", plt);
	else if (s != NULL && a == s->addr)
		snprintf(buf, n, " <%s>", s->name);
	else if (s != NULL)
		snprintf(buf, n, " <%s+0x%lx>", s->name, (unsigned long)(a - s->addr));
}

static char *text(const struct elfsyms *e, const cs_insn *in)
{
	char buf[256], sym[160];
	uintptr_t a;
	int k = snprintf(buf, sizeof buf, "%-6s %s", in->mnemonic, in->op_str);

	if ((a = archtarget(cs, in)) != 0) {
		symname(e, a, 0, sym, sizeof sym);
		snprintf(buf + k, sizeof buf - k, "%s", sym);
	} else if ((a = archdataref(in)) != 0) {
		symname(e, a, 1, sym, sizeof sym);
		if (sym[0])
			snprintf(buf + k, sizeof buf - k, "  # 0x%lx%s", (unsigned long)a, sym);
	}
	return strdup(buf);
}

static int add(struct dfunc *f, uintptr_t addr, char *t)
{
	if (t == NULL)
		return -1;
	if (f->n % 256 == 0) {
		struct dinsn *in = realloc(f->in, (f->n + 256) * sizeof *in);
		if (in == NULL)
			return -1;
		f->in = in;
	}
	f->in[f->n++] = (struct dinsn){ addr, t };
	return 0;
}

static int decode(const struct elfsyms *e, const struct sym *s, struct dfunc *f)
{
	size_t n, bad = 0;
	const uint8_t *code = elfcode(e, s->addr, &n);
	uint64_t addr = s->addr, firstbad = 0;
	cs_insn *in;

	if (code == NULL || csinit() < 0 || (in = cs_malloc(cs)) == NULL)
		return -1;
	if (n > s->size)
		n = s->size;
	while (n > 0) {
		if (!cs_disasm_iter(cs, &code, &n, &addr, in)) {
			firstbad = bad++ ? firstbad : addr;
			code++, n--, addr++;      // no instruction starts here
			continue;
		}
		if (add(f, in->address, text(e, in)) < 0)
			break;
	}
	cs_free(in, 1);
	// An instruction capstone does not know would shift every boundary
	// after it: say so, the window may be wrong there.
	if (bad)
		fprintf(stderr, "sigpoke: note: %zu bytes of %s do not decode, from %s+0x%lx: "
		    "no instruction is poked there\n", bad, s->name, s->name,
		    (unsigned long)(firstbad - s->addr));
	return n == 0 ? 0 : -1;
}

// disfunc returns the instructions of function s, decoded once; NULL if
// its bytes are not in PROGRAM's file or do not decode.
const struct dfunc *disfunc(const struct elfsyms *e, const struct sym *s)
{
	struct dfunc f = { .s = s };

	for (size_t i = 0; i < ncache; i++)
		if (cache[i].s == s)
			return &cache[i];
	if (decode(e, s, &f) < 0 || f.n == 0)
		return NULL;
	if (ncache % 16 == 0) {
		struct dfunc *c = realloc(cache, (ncache + 16) * sizeof *c);
		if (c == NULL)
			return NULL;
		cache = c;
	}
	cache[ncache] = f;
	return &cache[ncache++];
}

// disfind returns the index of the first instruction of f at or above addr.
size_t disfind(const struct dfunc *f, uintptr_t addr)
{
	size_t lo = 0, hi = f->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (f->in[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
