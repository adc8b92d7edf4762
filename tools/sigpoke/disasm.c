// disasm: instruction boundaries and inline chains, from objdump.
//
// A breakpoint must go on the first byte of an instruction; on x86-64 only a
// disassembler knows where those are. objdump (binutils) disassembles
// linearly, which is right for compiled functions (no data in text).
// $SIGPOKE_OBJDUMP overrides the command, e.g. for a cross binutils.
//
// A function of the window may also have been inlined into others (clang
// inlines dropm into sq_callback): those copies are the code that actually
// runs there, so they belong to the window too. With -l --inlines objdump
// prints, from the DWARF line table, the innermost function of each
// instruction ("dropm():") and the chain of its callers ("inlined by
// file:line (sq_callback)"), but only when they change; the parser below
// carries them forward:
//   "0000000000002ab0 <sq_callback>:"   a symbol starts: the containing function
//   "dropm():"                          innermost function from here on
//   "inlined by FILE:LINE (NAME)"       a caller; a run of these lines replaces
//                                       the previous run
//   "FILE:LINE"                         a new location: no callers until said
//   "    2b05:\tcall   62c0 <unminit>"  an instruction
// Without DWARF there are no such lines: every instruction's chain is empty
// and only out-of-line copies are found.

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sigpoke.h"

// ---- interned names ----

static int intern(struct dis *d, const char *name, size_t len)
{
	size_t h = 5381;

	for (size_t i = 0; i < len; i++)
		h = h * 33 + (unsigned char)name[i];
	if (d->nnames * 2 >= d->hcap) {
		size_t cap = d->hcap ? 2 * d->hcap : 1024;
		int *tab = malloc(cap * sizeof *tab);
		if (tab == NULL)
			return -1;
		for (size_t i = 0; i < cap; i++)
			tab[i] = -1;
		for (size_t i = 0; i < d->nnames; i++) {
			size_t g = 5381;
			for (const char *p = d->names[i]; *p; p++)
				g = g * 33 + (unsigned char)*p;
			while (tab[g & (cap - 1)] >= 0)
				g++;
			tab[g & (cap - 1)] = (int)i;
		}
		free(d->htab);
		d->htab = tab;
		d->hcap = cap;
	}
	for (;; h++) {
		int k = d->htab[h & (d->hcap - 1)];
		if (k < 0)
			break;
		if (strncmp(d->names[k], name, len) == 0 && d->names[k][len] == 0)
			return k;
	}
	if (d->nnames % 256 == 0) {
		char **n = realloc(d->names, (d->nnames + 256) * sizeof *n);
		if (n == NULL)
			return -1;
		d->names = n;
	}
	d->names[d->nnames] = strndup(name, len);
	d->htab[h & (d->hcap - 1)] = (int)d->nnames;
	return (int)d->nnames++;
}

int disname(const struct dis *d, const char *name)
{
	for (size_t i = 0; i < d->nnames; i++)
		if (strcmp(d->names[i], name) == 0)
			return (int)i;
	return -1;
}

// ---- objdump ----

static FILE *objdump(const char *path, const struct sym *only, pid_t *pid)
{
	const char *cmd = getenv("SIGPOKE_OBJDUMP");
	char start[40], stop[40];
	int fd[2];

	if (cmd == NULL || *cmd == 0)
		cmd = "objdump";
	if (pipe(fd) < 0)
		return NULL;
	*pid = fork();
	if (*pid < 0)
		return NULL;
	if (*pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		if (only != NULL) {
			snprintf(start, sizeof start, "--start-address=0x%lx", (unsigned long)only->addr);
			snprintf(stop, sizeof stop, "--stop-address=0x%lx",
			    (unsigned long)(only->addr + only->size));
			execlp(cmd, cmd, "-d", "-w", "--no-show-raw-insn", start, stop, path,
			    (char *)NULL);
		} else {
			execlp(cmd, cmd, "-d", "-w", "--no-show-raw-insn", "-l", "--inlines",
			    path, (char *)NULL);
		}
		_exit(127);
	}
	close(fd[1]);
	return fdopen(fd[0], "r");
}

static int addinsn(struct dis *d, uintptr_t addr, const char *text, int fn, const int *chain,
    int nchain)
{
	struct dinsn *in;
	char *t, *p;

	if (d->n % 1024 == 0) {
		struct dinsn *n = realloc(d->in, (d->n + 1024) * sizeof *n);
		if (n == NULL)
			return -1;
		d->in = n;
	}
	t = strdup(text);
	if (t == NULL)
		return -1;
	for (p = t; *p; p++)
		if (*p == '\t')
			*p = ' ';
	while (p > t && (p[-1] == '\n' || p[-1] == ' '))
		*--p = 0;
	in = &d->in[d->n++];
	in->addr = addr;
	in->text = t;
	in->fn = fn;
	in->nchain = nchain;
	memcpy(in->chain, chain, nchain * sizeof *chain);
	return 0;
}

// parse reads one line of objdump output into the running state.
static int parse(struct dis *d, char *line, int *fn, int *inner, int *chain, int *nchain,
    int *incallers)
{
	size_t len = strcspn(line, "\n");
	char *end, *lp, *rp;
	unsigned long a;

	line[len] = 0;
	if (line[0] == ' ') {
		// "    2b05:\tcall ..." (objdump pads addresses with spaces)
		a = strtoul(line, &end, 16);
		*incallers = 0;
		if (end == line || end[0] != ':' || end[1] != '\t' || strncmp(end + 2, "(bad)", 5) == 0)
			return 0;
		int c[MAXCHAIN], n = 0;
		if (*inner >= 0)
			c[n++] = *inner;
		for (int i = 0; i < *nchain && n < MAXCHAIN; i++)
			c[n++] = chain[i];
		return addinsn(d, a, end + 2, *fn, c, n);
	}
	if (strncmp(line, "inlined by ", 11) == 0) {
		if (!*incallers)
			*nchain = 0;
		*incallers = 1;
		lp = strrchr(line, '(');
		rp = strrchr(line, ')');
		if (lp != NULL && rp > lp + 1 && *nchain < MAXCHAIN) {
			int k = intern(d, lp + 1, rp - lp - 1);
			if (k < 0)
				return -1;
			chain[(*nchain)++] = k;
		}
		return 0;
	}
	*incallers = 0;
	a = strtoul(line, &end, 16);
	if (end > line && end[0] == ' ' && end[1] == '<' && len > 3 && line[len - 1] == ':' &&
	    line[len - 2] == '>') {
		// "0000000000002ab0 <sq_callback>:"
		*fn = intern(d, end + 2, line + len - 2 - (end + 2));
		*inner = -1;
		*nchain = 0;
		return *fn < 0 ? -1 : 0;
	}
	if (len > 3 && line[len - 1] == ':' && line[len - 2] == ')' && line[len - 3] == '(' &&
	    strchr(line, ' ') == NULL) {
		// "dropm():"
		*inner = intern(d, line, len - 3);
		*nchain = 0;
		return *inner < 0 ? -1 : 0;
	}
	if (strchr(line, ':') != NULL && line[0] == '/')
		*nchain = 0;    // "FILE:LINE": a new location, callers follow if any
	return 0;
}

// disasm reads PROGRAM's instructions: all of .text with their inline
// chains, or (only != NULL) those of one function without. -1 on failure.
int disasm(const char *path, const struct sym *only, struct dis *d)
{
	char line[2048];
	int fn = -1, inner = -1, chain[MAXCHAIN], nchain = 0, incallers = 0, st, ret = 0;
	pid_t pid;
	FILE *f;

	memset(d, 0, sizeof *d);
	f = objdump(path, only, &pid);
	if (f == NULL)
		return -1;
	if (only != NULL)
		fn = intern(d, only->name, strlen(only->name));
	while (fgets(line, sizeof line, f) != NULL)
		if (ret == 0 && parse(d, line, &fn, &inner, chain, &nchain, &incallers) < 0)
			ret = -1;
	fclose(f);
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || d->n == 0)
		ret = -1;
	return ret;
}

// disfind returns the index of the first instruction at or above addr.
size_t disfind(const struct dis *d, uintptr_t addr)
{
	size_t lo = 0, hi = d->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (d->in[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
