// elf: the function symbols of PROGRAM, from its ELF symbol table.
//
// Only 64-bit little-endian ELF for the machine sigpoke was built for. The
// full symbol table (.symtab) is preferred; a stripped program still has
// .dynsym, which names exported functions only. Addresses are link-time:
// for a PIE (ET_DYN) the run's load bias is added at run time (trace.c).

#include <elf.h>
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

static int readsyms(struct elfsyms *e, const uint8_t *img, size_t len, const Elf64_Shdr *sh,
    const Elf64_Ehdr *eh)
{
	const Elf64_Shdr *strs;
	const Elf64_Sym *st;
	size_t n, k = 0;

	if (sh->sh_link >= eh->e_shnum || sh->sh_offset + sh->sh_size > len)
		return -EINVAL;
	strs = (const Elf64_Shdr *)(img + eh->e_shoff) + sh->sh_link;
	if (strs->sh_offset + strs->sh_size > len)
		return -EINVAL;
	st = (const Elf64_Sym *)(img + sh->sh_offset);
	n = sh->sh_size / sizeof *st;
	e->s = calloc(n ? n : 1, sizeof *e->s);
	if (e->s == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (ELF64_ST_TYPE(st[i].st_info) != STT_FUNC || st[i].st_shndx == SHN_UNDEF ||
		    st[i].st_name >= strs->sh_size)
			continue;
		const char *name = (const char *)img + strs->sh_offset + st[i].st_name;
		e->s[k].name = strndup(name, strs->sh_size - st[i].st_name);
		e->s[k].addr = st[i].st_value;
		e->s[k].size = st[i].st_size;
		e->s[k].global = ELF64_ST_BIND(st[i].st_info) != STB_LOCAL;
		k++;
	}
	e->n = k;
	qsort(e->s, e->n, sizeof *e->s, cmpsym);
	return 0;
}

// elfload reads the function symbols of path. On failure err says why.
int elfload(const char *path, struct elfsyms *e, char *err, size_t errlen)
{
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh, *sym = NULL, *dyn = NULL;
	struct stat stt;
	uint8_t *img;
	int fd, ret;

	memset(e, 0, sizeof *e);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &stt) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	img = stt.st_size >= (off_t)sizeof *eh ?
	    mmap(NULL, stt.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	close(fd);
	if (img == MAP_FAILED) {
		snprintf(err, errlen, "%s: not an ELF file", path);
		return -1;
	}
	eh = (const Elf64_Ehdr *)img;
	ret = -1;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB) {
		snprintf(err, errlen, "%s: not a 64-bit little-endian ELF file", path);
		goto out;
	}
	if (eh->e_machine != archelf) {
		snprintf(err, errlen, "%s: ELF machine %d, sigpoke was built for %d",
		    path, eh->e_machine, archelf);
		goto out;
	}
	if (eh->e_shoff + (size_t)eh->e_shnum * sizeof *sh > (size_t)stt.st_size) {
		snprintf(err, errlen, "%s: truncated section headers", path);
		goto out;
	}
	sh = (const Elf64_Shdr *)(img + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type == SHT_SYMTAB)
			sym = &sh[i];
		else if (sh[i].sh_type == SHT_DYNSYM)
			dyn = &sh[i];
	}
	if (sym == NULL)
		sym = dyn;
	if (sym == NULL || readsyms(e, img, stt.st_size, sym, eh) < 0) {
		snprintf(err, errlen, "%s: no symbol table", path);
		goto out;
	}
	e->entry = eh->e_entry;
	e->pie = eh->e_type == ET_DYN;
	ret = 0;
out:
	munmap(img, stt.st_size);
	return ret;
}

// elffind finds the function called name: 0, -ENOENT, or -EEXIST when
// several local functions share the name and no global one does.
int elffind(const struct elfsyms *e, const char *name, const struct sym **out)
{
	const struct sym *local = NULL;
	int nlocal = 0;

	for (size_t i = 0; i < e->n; i++) {
		if (strcmp(e->s[i].name, name) != 0)
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

// elfwhere names a link-time address as fn+0xoff, or "" when no function
// contains it.
void elfwhere(const struct elfsyms *e, uintptr_t addr, char *buf, size_t n)
{
	size_t lo = 0, hi = e->n;

	buf[0] = 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (e->s[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	// e->s[lo-1] is the last symbol at or below addr; aliases share it.
	for (size_t i = lo; i > 0; i--) {
		const struct sym *s = &e->s[i - 1];
		if (s->addr + s->size > addr) {
			snprintf(buf, n, "%s+0x%lx", s->name, (unsigned long)(addr - s->addr));
			return;
		}
		if (lo - i > 8)
			break;
	}
}
