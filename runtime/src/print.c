/*
 * print.c: unbuffered output to stderr for throw, dumps and harness events.
 *
 * Everything here is NOSPLIT and async-signal-safe: it runs from throw on a
 * G that just overflowed its guard, and from signal handlers. One write(2)
 * per call, no locks except printlock, which serialises whole messages.
 */
#include "runtime.h"
#include "os.h"

static Lock printlk;

NOSPLIT static size_t slen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

NOSPLIT void prints(const char *s)
{
	if (s)
		os_write(2, s, slen(s));
}

/* "<a><b>\n" in one write(2): a line that other writers (threads the
 * runtime does not know) cannot split. Cut at 256 bytes. */
NOSPLIT void printline(const char *a, const char *b)
{
	char buf[256];
	size_t n = 0;

	for (const char *s = a; s && *s && n < sizeof buf - 1; s++)
		buf[n++] = *s;
	for (const char *s = b; s && *s && n < sizeof buf - 1; s++)
		buf[n++] = *s;
	buf[n++] = '\n';
	os_write(2, buf, n);
}

NOSPLIT static void printdigits(uint64_t v, unsigned base)
{
	char buf[24];
	int i = sizeof buf;

	do {
		buf[--i] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	os_write(2, buf + i, sizeof buf - i);
}

NOSPLIT void printu(uint64_t v)
{
	printdigits(v, 10);
}

NOSPLIT void printi(int64_t v)
{
	if (v < 0) {
		prints("-");
		printu((uint64_t)-v);
		return;
	}
	printu((uint64_t)v);
}

NOSPLIT void printx(uint64_t v)
{
	prints("0x");
	printdigits(v, 16);
}

NOSPLIT void printnl(void)
{
	prints("\n");
}

/* Held per M, as a depth: a signal handler nested on the thread that holds
 * it (a preemption request landing in a dump, or a kernel that does not
 * block the handler's sa_mask, as qemu-riscv64 7.2 does not) prints on
 * instead of spinning forever on its own lock. Threads without an M (no g
 * at all) spin. No m->locks accounting: printing must work anywhere. */
NOSPLIT void printlock(void)
{
	G *gp = getg();
	M *mp = gp ? gp->m : NULL;

	if (mp && mp->printlock++ > 0)
		return;
	while (!cas32(&printlk.key, 0, 1))
		arch_pause();
}

NOSPLIT void printunlock(void)
{
	G *gp = getg();
	M *mp = gp ? gp->m : NULL;

	if (mp && --mp->printlock > 0)
		return;
	atomic_store32(&printlk.key, 0);
}
