// procmaps: reading /proc/PID/maps, the kernel's own list of mappings (and,
// for a KILL line, /proc/PID/pagemap's guard regions).
//
// Slow path only: stackcheck reads it at execve (to find the main stack),
// when a check misses below the main stack (it may have grown), and to
// describe the mapping under a bad SP in a KILL line. Linux hides MAP_STACK
// here, which is why every other fact comes from tracked system calls.

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stackcheck.h"

// parse fills m from one maps line; the name is the path column, possibly
// empty, possibly containing spaces.
static int parse(const char *line, struct mapping *m)
{
	unsigned long lo, hi;
	char perms[8];
	int pos = 0;
	size_t n;

	if (sscanf(line, "%lx-%lx %7s %*s %*s %*s%n", &lo, &hi, perms, &pos) < 3 || pos == 0)
		return 0;
	line += pos;
	line += strspn(line, " ");
	n = strcspn(line, "\n");
	if (n >= sizeof m->name)
		n = sizeof m->name - 1;
	m->lo = lo;
	m->hi = hi;
	memcpy(m->perms, perms, sizeof m->perms);
	memcpy(m->name, line, n);
	m->name[n] = 0;
	return 1;
}

// scan calls match on each mapping of pid until it returns 1; returns 1 when
// one matched, 0 when none did, -1 when the file could not be read.
static int scan(pid_t pid, int (*match)(struct mapping *, const void *), const void *arg,
    struct mapping *m)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (!found && getline(&line, &cap, f) > 0)
		found = parse(line, m) && match(m, arg);
	free(line);
	fclose(f);
	return found;
}

static int holds(struct mapping *m, const void *arg)
{
	uintptr_t addr = *(const uintptr_t *)arg;

	return m->lo <= addr && addr < m->hi;
}

static int named(struct mapping *m, const void *arg)
{
	return strcmp(m->name, arg) == 0;
}

// mapsfind finds the mapping of pid that holds addr.
int mapsfind(pid_t pid, uintptr_t addr, struct mapping *m)
{
	return scan(pid, holds, &addr, m);
}

// mapsnamed finds the first mapping of pid with the given name ("[stack]").
int mapsnamed(pid_t pid, const char *name, struct mapping *m)
{
	return scan(pid, named, name, m);
}

// A guard region (madvise MADV_GUARD_INSTALL, Linux 6.13) faults like a
// PROT_NONE page but splits no mapping, so one mapping can hold many stacks
// with a guard under each. /proc/PID/pagemap marks such pages (bit 58,
// Linux 6.14).
enum { PM_GUARD_REGION = 58 };

static int guardpage(int fd, uintptr_t page, long pagesize)
{
	uint64_t e;

	if (pread(fd, &e, sizeof e, (off_t)(page / pagesize * sizeof e)) != sizeof e)
		return 0;
	return (e >> PM_GUARD_REGION) & 1;
}

// mapsguarded narrows m, the mapping that holds addr, to the part of it
// between the guard regions around addr: with guards that split nothing,
// that part is the stack, as a mapping of its own was before. m is left as
// it is where the kernel shows no guard regions or pagemap cannot be read.
void mapsguarded(pid_t pid, uintptr_t addr, struct mapping *m)
{
	long pagesize = sysconf(_SC_PAGESIZE);
	uintptr_t page = addr & ~(uintptr_t)(pagesize - 1), p;
	char path[64];
	int fd;

	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (!guardpage(fd, page, pagesize)) {
		for (p = page; p > m->lo; p -= pagesize)
			if (guardpage(fd, p - pagesize, pagesize)) {
				m->lo = p;
				break;
			}
		for (p = page + pagesize; p < m->hi; p += pagesize)
			if (guardpage(fd, p, pagesize)) {
				m->hi = p;
				break;
			}
	}
	close(fd);
}
