// elf: PROGRAM's symbols, code bytes and dynamic relocations, from its ELF
// file, which stays mapped (read-only) for sigpoke's life.
//
// Only 64-bit little-endian ELF for the machine sigpoke was built for. The
// full symbol table (.symtab) is preferred; a stripped program still has
// .dynsym, which names exported symbols only. Function symbols name
// instructions (fn+0xoff); data symbols only annotate the disassembly.
// Addresses are link-time: for a PIE (ET_DYN) the run's load bias is added
// at run time (trace.c).
//
// The dynamic relocations that fill GOT slots (JUMP_SLOT for lazily bound
// PLT entries, GLOB_DAT for the rest) say which symbol a PLT stub jumps to:
// disasm.c names a call to a stub "name@plt", as objdump does.

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sigpoke.h"

static int cmpsym(const void *a, const void *b)
{
	const struct sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return (y->size > x->size) - (y->size < x->size);
}

static const Elf64_Shdr *section(const struct elfsyms *e, size_t i)
{
	return i < e->nsh ? &e->sh[i] : NULL;
}

// strtab returns string off of string table section i, or NULL.
static const char *strtab(const struct elfsyms *e, size_t i, size_t off)
{
	const Elf64_Shdr *s = section(e, i);

	if (s == NULL || s->sh_offset + s->sh_size > e->len || off >= s->sh_size)
		return NULL;
	return (const char *)e->img + s->sh_offset + off;
}

static int wanted(const Elf64_Sym *st)
{
	int t = ELF64_ST_TYPE(st->st_info);

	return st->st_shndx != SHN_UNDEF && st->st_shndx < SHN_LORESERVE &&
	    (t == STT_FUNC || ((t == STT_OBJECT || t == STT_NOTYPE) && st->st_size > 0));
}

static int readsyms(struct elfsyms *e, const Elf64_Shdr *sh)
{
	const Elf64_Sym *st = (const Elf64_Sym *)(e->img + sh->sh_offset);
	size_t n = sh->sh_size / sizeof *st, k = 0;

	if (sh->sh_offset + sh->sh_size > e->len)
		return -EINVAL;
	e->s = calloc(n ? n : 1, sizeof *e->s);
	if (e->s == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *name = strtab(e, sh->sh_link, st[i].st_name);
		if (!wanted(&st[i]) || name == NULL || *name == 0)
			continue;
		e->s[k].name = name;
		e->s[k].addr = st[i].st_value;
		e->s[k].size = st[i].st_size;
		e->s[k].global = ELF64_ST_BIND(st[i].st_info) != STB_LOCAL;
		e->s[k].func = ELF64_ST_TYPE(st[i].st_info) == STT_FUNC;
		k++;
	}
	e->n = k;
	qsort(e->s, e->n, sizeof *e->s, cmpsym);
	return 0;
}

static void addgot(struct elfsyms *e, uintptr_t slot, const char *name)
{
	if (e->ngot % 64 == 0) {
		struct gotname *g = realloc(e->got, (e->ngot + 64) * sizeof *g);
		if (g == NULL)
			return;
		e->got = g;
	}
	e->got[e->ngot++] = (struct gotname){ slot, name };
}

// readgot records the symbol of every GOT slot a dynamic relocation fills.
static void readgot(struct elfsyms *e)
{
	for (size_t i = 0; i < e->nsh; i++) {
		const Elf64_Shdr *rs = &e->sh[i], *ds = section(e, rs->sh_link);
		if (rs->sh_type != SHT_RELA || ds == NULL || ds->sh_type != SHT_DYNSYM ||
		    rs->sh_offset + rs->sh_size > e->len || ds->sh_offset + ds->sh_size > e->len)
			continue;
		const Elf64_Rela *r = (const Elf64_Rela *)(e->img + rs->sh_offset);
		const Elf64_Sym *dyn = (const Elf64_Sym *)(e->img + ds->sh_offset);
		size_t nsym = ds->sh_size / sizeof *dyn;
		for (size_t k = 0; k < rs->sh_size / sizeof *r; k++) {
			unsigned type = ELF64_R_TYPE(r[k].r_info), si = ELF64_R_SYM(r[k].r_info);
			const char *name;
			if ((type != archjumpslot && type != archglobdat) || si == 0 || si >= nsym)
				continue;
			if ((name = strtab(e, ds->sh_link, dyn[si].st_name)) != NULL && *name)
				addgot(e, r[k].r_offset, name);
		}
	}
}

static int header(struct elfsyms *e, const char *path, char *err, size_t errlen)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)e->img;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB) {
		snprintf(err, errlen, "%s: not a 64-bit little-endian ELF file", path);
		return -1;
	}
	if (eh->e_machine != archelf) {
		snprintf(err, errlen, "%s: ELF machine %d, sigpoke was built for %d",
		    path, eh->e_machine, archelf);
		return -1;
	}
	if (eh->e_shoff + (size_t)eh->e_shnum * sizeof *e->sh > e->len) {
		snprintf(err, errlen, "%s: truncated section headers", path);
		return -1;
	}
	e->sh = (const Elf64_Shdr *)(e->img + eh->e_shoff);
	e->nsh = eh->e_shnum;
	e->shstrndx = eh->e_shstrndx;
	e->entry = eh->e_entry;
	e->pie = eh->e_type == ET_DYN;
	return 0;
}

// elfload reads path's symbols and keeps the file mapped. On failure err
// says why.
int elfload(const char *path, struct elfsyms *e, char *err, size_t errlen)
{
	const Elf64_Shdr *sym = NULL, *dyn = NULL;
	struct stat st;
	int fd;

	memset(e, 0, sizeof *e);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	e->len = st.st_size;
	e->img = e->len >= sizeof(Elf64_Ehdr) ?
	    mmap(NULL, e->len, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	close(fd);
	if (e->img == MAP_FAILED) {
		snprintf(err, errlen, "%s: not an ELF file", path);
		return -1;
	}
	if (header(e, path, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < e->nsh; i++) {
		if (e->sh[i].sh_type == SHT_SYMTAB)
			sym = &e->sh[i];
		else if (e->sh[i].sh_type == SHT_DYNSYM)
			dyn = &e->sh[i];
	}
	if (sym == NULL)
		sym = dyn;
	if (sym == NULL || readsyms(e, sym) < 0) {
		snprintf(err, errlen, "%s: no symbol table", path);
		return -1;
	}
	readgot(e);
	return 0;
}

// elffind finds the function called name: 0, -ENOENT, or -EEXIST when
// several local functions share the name and no global one does.
int elffind(const struct elfsyms *e, const char *name, const struct sym **out)
{
	const struct sym *local = NULL;
	int nlocal = 0;

	for (size_t i = 0; i < e->n; i++) {
		if (!e->s[i].func || strcmp(e->s[i].name, name) != 0)
			continue;
		if (e->s[i].global) {
			*out = &e->s[i];
			return 0;
		}
		if (local == NULL || local->addr != e->s[i].addr)
			nlocal++;
		local = &e->s[i];
	}
	if (nlocal == 1) {
		*out = local;
		return 0;
	}
	return nlocal ? -EEXIST : -ENOENT;
}

// elfholder returns the symbol (a function, or with data set any symbol)
// whose range holds addr, or NULL.
const struct sym *elfholder(const struct elfsyms *e, uintptr_t addr, int data)
{
	size_t lo = 0, hi = e->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (e->s[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	// e->s[lo-1] is the last symbol at or below addr; aliases share it.
	for (size_t i = lo; i > 0 && lo - i <= 8; i--) {
		const struct sym *s = &e->s[i - 1];
		if ((s->func || data) && s->addr + s->size > addr)
			return s;
	}
	return NULL;
}

// elfwhere names a link-time address as fn+0xoff, or "" when no function
// contains it.
void elfwhere(const struct elfsyms *e, uintptr_t addr, char *buf, size_t n)
{
	const struct sym *s = elfholder(e, addr, 0);

	buf[0] = 0;
	if (s != NULL)
		snprintf(buf, n, "%s+0x%lx", s->name, (unsigned long)(addr - s->addr));
}

// elfcode returns the file bytes at link-time address addr, in the
// executable section that holds it, and in *n how many follow there.
const uint8_t *elfcode(const struct elfsyms *e, uintptr_t addr, size_t *n)
{
	for (size_t i = 0; i < e->nsh; i++) {
		const Elf64_Shdr *s = &e->sh[i];
		if (s->sh_type != SHT_PROGBITS || !(s->sh_flags & SHF_EXECINSTR) ||
		    addr < s->sh_addr || addr >= s->sh_addr + s->sh_size ||
		    s->sh_offset + s->sh_size > e->len)
			continue;
		*n = s->sh_addr + s->sh_size - addr;
		return e->img + s->sh_offset + (addr - s->sh_addr);
	}
	return NULL;
}

// elfsecname names the section holding addr, or "".
const char *elfsecname(const struct elfsyms *e, uintptr_t addr)
{
	for (size_t i = 0; i < e->nsh; i++) {
		const Elf64_Shdr *s = &e->sh[i];
		const char *name = strtab(e, e->shstrndx, s->sh_name);
		if (s->sh_addr != 0 && addr >= s->sh_addr && addr < s->sh_addr + s->sh_size)
			return name ? name : "";
	}
	return "";
}

// elfhas reports whether PROGRAM has a section called name.
int elfhas(const struct elfsyms *e, const char *name)
{
	for (size_t i = 0; i < e->nsh; i++) {
		const char *s = strtab(e, e->shstrndx, e->sh[i].sh_name);
		if (s != NULL && strcmp(s, name) == 0)
			return 1;
	}
	return 0;
}

// elfgot names the symbol a dynamic relocation puts in GOT slot slot.
const char *elfgot(const struct elfsyms *e, uintptr_t slot)
{
	for (size_t i = 0; i < e->ngot; i++)
		if (e->got[i].slot == slot)
			return e->got[i].name;
	return NULL;
}
