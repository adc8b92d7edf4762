// space: one traced address space and what the memory system calls do to
// its MAP_STACK ranges.
//
// A space is created by execve (holding only the main stack), shared by
// CLONE_VM (threads, vfork, posix_spawn), copied by fork, and freed with its
// last thread. Its ranges change only through the tracee's own successful
// mmap / munmap / mremap / sigaltstack calls, applied at their exit stops;
// mprotect, madvise and brk never change MAP_STACK-ness (on OpenBSD either).
//
// The main stack is the one range we learn from /proc: Linux grows the
// [stack] mapping down on demand while OpenBSD reserves it whole, so a miss
// below the known bottom re-reads the mapping once and extends the range if
// it is still the same [stack] (same top). Everything else comes from
// tracked syscalls only; Linux does not show MAP_STACK in /proc/PID/maps.

#include <stdlib.h>
#include <string.h>

#include "stackcheck.h"

struct space *spacenew(void)
{
	struct space *sp = calloc(1, sizeof *sp);

	if (sp == NULL)
		abort();
	sp->ref = 1;
	return sp;
}

struct space *spacecopy(struct space *from)
{
	struct space *sp = spacenew();

	if (stkcopy(&sp->stk, &from->stk) < 0)
		abort();
	sp->stacktop = from->stacktop;
	return sp;
}

struct space *spaceref(struct space *sp)
{
	sp->ref++;
	return sp;
}

void spaceunref(struct space *sp)
{
	if (sp == NULL || --sp->ref > 0)
		return;
	stkfree(&sp->stk);
	free(sp);
}

// spaceexec resets sp to the state after execve: the only MAP_STACK memory
// is the main thread's stack, which OpenBSD maps so itself.
void spaceexec(struct space *sp, pid_t pid)
{
	struct mapping m;

	stkfree(&sp->stk);
	sp->stacktop = 0;
	if (mapsnamed(pid, "[stack]", &m) == 1) {
		stkadd(&sp->stk, m.lo, m.hi);
		sp->stacktop = m.hi;
	}
}

// spacecheck reports whether addr is MAP_STACK memory in sp. On a miss it
// gives the main stack one chance to have grown (slow path: reads /proc).
int spacecheck(struct space *sp, pid_t pid, uintptr_t addr)
{
	struct mapping m;

	if (stkhas(&sp->stk, addr))
		return 1;
	if (sp->stacktop == 0 || addr >= sp->stacktop)
		return 0;
	if (mapsfind(pid, addr, &m) != 1)
		return 0;
	if (strcmp(m.name, "[stack]") != 0 || m.hi != sp->stacktop)
		return 0;
	stkadd(&sp->stk, m.lo, m.hi);
	return 1;
}

uintptr_t spacegap(struct space *sp, uintptr_t lo, uintptr_t hi)
{
	return stkgap(&sp->stk, lo, hi);
}

// spacemmap records a successful mmap of [addr, addr+len). A new mapping
// replaces whatever was there (MAP_FIXED), so a plain one clears the flag
// as surely as a MAP_STACK one sets it.
void spacemmap(struct space *sp, uintptr_t addr, size_t len, int stack)
{
	uintptr_t hi = addr + pageup(len);

	if (stack)
		stkadd(&sp->stk, addr, hi);
	else
		stkdel(&sp->stk, addr, hi);
}

void spacemunmap(struct space *sp, uintptr_t addr, size_t len)
{
	stkdel(&sp->stk, addr, addr + pageup(len));
}

// spacemremap records a successful mremap: the pages of [old, old+oldlen)
// move to new with their flag, a grown tail takes the flag of the mapping it
// extends (the last old page), and the old range goes away unless the call
// kept it (MREMAP_DONTUNMAP, or oldlen 0 which duplicates a shared mapping).
void spacemremap(struct space *sp, uintptr_t old, size_t oldlen,
    uintptr_t new, size_t newlen, int keepold)
{
	struct stkset moved = { 0 };
	uintptr_t top;
	size_t i;
	int tail;

	oldlen = pageup(oldlen);
	newlen = pageup(newlen);
	if (stkslice(&sp->stk, old, old + oldlen, &moved) < 0)
		abort();
	tail = stkhas(&sp->stk, oldlen ? old + oldlen - 1 : old);
	if (!keepold && oldlen)
		stkdel(&sp->stk, old, old + oldlen);
	stkdel(&sp->stk, new, new + newlen);
	top = new + newlen;
	for (i = 0; i < moved.n; i++) {
		uintptr_t lo = moved.r[i].lo - old + new;
		uintptr_t hi = moved.r[i].hi - old + new;
		stkadd(&sp->stk, lo, hi < top ? hi : top);
	}
	if (newlen > oldlen && tail)
		stkadd(&sp->stk, new + oldlen, top);
	stkfree(&moved);
}

// altspan computes the part of a signal stack that sigaltstack marks as
// MAP_STACK. OpenBSD remaps the whole pages inside the stack, minus the
// lowest page when the stack starts on a page boundary (left as a guard), and
// starts the handler frame at the page boundary below the top. Linux starts
// the frame at the top itself, so the top is rounded up instead of down:
// otherwise a handler on a stack whose top is not page aligned would run in
// memory OpenBSD never lets it touch. Empty when there is no such page.
void altspan(uintptr_t ss_sp, size_t ss_size, uintptr_t *lo, uintptr_t *hi)
{
	*lo = pageup(ss_sp);
	*hi = pageup(ss_sp + ss_size);
	if (*lo == ss_sp)
		*lo += tr.pagesz;
	if (*hi < *lo)
		*hi = *lo;
}
