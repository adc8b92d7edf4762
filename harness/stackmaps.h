/*
 * stackmaps.h: stackquake's runtime promises that every stack it hands out
 * is MAP_STACK (OpenBSD kills a thread whose sp is anywhere else at a
 * syscall). Since Linux 6.7 MAP_STACK implies VM_NOHUGEPAGE, which
 * /proc/self/smaps shows as "nh", so the promise can be checked
 * in-process, from outside the runtime: its stacks (sq_stacks, the harness
 * API) against the kernel's mappings. ms_init probes whether this kernel
 * shows it; each stack is checked the first time it is ms_seen (stacks are
 * pooled and reused, so after a warm-up this costs nothing).
 *
 * Used by the fuzz oracle (fuzz/oracle.c) and by the scenarios' quiescent
 * check on stackquake's runtime (harness/target_sq.c). Not signal-safe:
 * stdio. Prints "invariant: ..." for every stack that is not MAP_STACK.
 */
#ifndef SQ_STACKMAPS_H
#define SQ_STACKMAPS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "sq_harness.h"

enum { MS_MAXSEEN = 4096, MS_MAXVMA = 8192 };

static int ms_visible = -1;
static struct { uintptr_t lo, hi; } ms_seen[MS_MAXSEEN];
static int ms_nseen;

typedef struct ms_vma {
	uintptr_t lo, hi;
	int nh;
} ms_vma;

static ms_vma ms_vmas[MS_MAXVMA];

static int ms_readvmas(void)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		char c;

		if (sscanf(line, "%lx-%lx %c", &lo, &hi, &c) == 3 && strchr(line, '-') < strchr(line, ' ')) {
			if (n < MS_MAXVMA) {
				ms_vmas[n].lo = lo;
				ms_vmas[n].hi = hi;
				ms_vmas[n].nh = 0;
				n++;
			}
		} else if (!strncmp(line, "VmFlags:", 8) && n > 0) {
			ms_vmas[n - 1].nh = strstr(line, " nh") != NULL;
		}
	}
	fclose(f);
	return n;
}

static int ms_allstack(int nvma, uintptr_t lo, uintptr_t hi)
{
	int covered = 0;

	for (int i = 0; i < nvma; i++) {
		if (ms_vmas[i].hi <= lo || ms_vmas[i].lo >= hi)
			continue;
		if (!ms_vmas[i].nh)
			return 0;
		covered = 1;
	}
	return covered;
}

/* Whether this kernel shows MAP_STACK in smaps (1), or not (0). */
__attribute__((unused)) static int ms_init(void)
{
	void *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	int n;

	ms_visible = 0;
	if (p == MAP_FAILED)
		return 0;
	n = ms_readvmas();
	ms_visible = n > 0 && ms_allstack(n, (uintptr_t)p, (uintptr_t)p + 2 * 4096);
	munmap(p, 2 * 4096);
	return ms_visible;
}

__attribute__((unused)) static int ms_wasseen(uintptr_t lo, uintptr_t hi)
{
	for (int i = 0; i < ms_nseen; i++)
		if (ms_seen[i].lo == lo && ms_seen[i].hi == hi)
			return 1;
	return 0;
}

/* Stacks not MAP_STACK, each printed; 0 where this kernel cannot tell. */
__attribute__((unused)) static int ms_check(void)
{
	if (ms_visible < 0)
		ms_init();
	sq_stackinfo st[512];
	int n, m, nvma = -1, bad = 0;

	if (ms_visible <= 0)
		return 0;
	n = sq_stacks(st, 512);
	m = n < 512 ? n : 512;
	for (int i = 0; i < m; i++) {
		if (ms_wasseen(st[i].lo, st[i].hi))
			continue;
		if (nvma < 0 && (nvma = ms_readvmas()) < 0)
			return 0;
		if (!ms_allstack(nvma, st[i].lo, st[i].hi)) {
			fprintf(stderr, "invariant: %s stack [%#lx,%#lx) is not mapped MAP_STACK\n",
				st[i].kind, (unsigned long)st[i].lo, (unsigned long)st[i].hi);
			bad++;
		} else if (ms_nseen < MS_MAXSEEN) {
			ms_seen[ms_nseen].lo = st[i].lo;
			ms_seen[ms_nseen].hi = st[i].hi;
			ms_nseen++;
		}
	}
	return bad;
}

#endif
