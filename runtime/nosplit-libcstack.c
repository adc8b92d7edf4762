/*
 * nosplit-libcstack.c: how much stack the libc functions that the runtime's
 * nosplit code calls really use, so that the "extern" allowances in
 * nosplit.conf (beside this file) are measured rather than guessed.
 * nosplit-check cannot see into libc; this program measures it on the
 * machine (and libc) at hand. pytest/test_nosplit.py builds and runs it.
 *
 * Method: paint 64 KiB below the caller's sp with a pattern, make the call,
 * and find the lowest byte the call overwrote. A result counts from the sp at
 * the call, return address included, plus at most 16 bytes of the probe's
 * own frame: a slight overestimate, never an under-.
 *
 * Every probe first calls its function once ("warm"): the runtime has
 * called malloc and bound its symbols long before, except for the one-off
 * cost of lazy PLT binding, which is printed separately as "lazy-binding"
 * (the first call of a symbol that has never been called).
 *
 * Output: one "NAME BYTES" line per function, then "lazy-binding BYTES".
 * Exit 0. Built and run by pytest/test_nosplit.py.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

enum { SPAN = 64 << 10, PATTERN = 0xa5 };

static void *volatile sink;
static pthread_key_t keys[96];
static sigset_t set;
static struct sigaction sa, old;
static struct timespec ts;

__attribute__((noinline)) static void paint(void)
{
	volatile unsigned char buf[SPAN];

	for (size_t i = 0; i < SPAN; i++)
		buf[i] = PATTERN;
	__asm__ volatile("" : : "r"(buf) : "memory");
}

/* Bytes fn used below this function's sp. */
__attribute__((noinline)) static size_t measure(void (*fn)(void))
{
	unsigned char *sp, *p;

	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	paint();
	fn();
	/* paint's frame starts a little below sp; skip its first 256 bytes. */
	for (p = sp - SPAN + 256; p < sp && *p == PATTERN; p++)
		;
	return (size_t)(sp - p);
}

#define PROBE __attribute__((noinline))

PROBE static void p_sigaction(void) { sa.sa_handler = SIG_DFL; sigaction(SIGWINCH, &sa, &old); }
PROBE static void p_sigemptyset(void) { sigemptyset(&set); }
PROBE static void p_sigaddset(void) { sigaddset(&set, SIGABRT); }
PROBE static void p_sigdelset(void) { sigdelset(&set, SIGSEGV); }
PROBE static void p_sigfillset(void) { sigfillset(&set); }
PROBE static void p_getpid(void) { sink = (void *)(long)getpid(); }
PROBE static void p_clock_gettime(void) { clock_gettime(CLOCK_MONOTONIC, &ts); }
PROBE static void p_errno(void) { sink = &errno; }
PROBE static void p_getppid(void) { sink = (void *)(long)getppid(); }

/* A key >= 32 needs a second-level block of 32 keys, calloc'd at the
 * thread's first use of it: the costly path, which sq_callback can take once
 * per thread. The warm-up allocates one block (binding libc's own calloc
 * PLT slot); the measured call allocates the next. */
PROBE static void p_setspecific_warm(void) { pthread_setspecific(keys[40], &set); }
PROBE static void p_setspecific(void) { pthread_setspecific(keys[80], &set); }

static const struct {
	const char *name;
	void (*warm)(void);
	void (*fn)(void);
} probes[] = {
	{ "sigaction",           p_sigaction,        p_sigaction },
	{ "sigemptyset",         p_sigemptyset,      p_sigemptyset },
	{ "sigaddset",           p_sigaddset,        p_sigaddset },
	{ "sigdelset",           p_sigdelset,        p_sigdelset },
	{ "sigfillset",          p_sigfillset,       p_sigfillset },
	{ "getpid",              p_getpid,           p_getpid },
	{ "clock_gettime",       p_clock_gettime,    p_clock_gettime },
	{ "__errno_location",    p_errno,            p_errno },
	{ "pthread_setspecific", p_setspecific_warm, p_setspecific },
};

int main(void)
{
	size_t cold, warm;

	for (int i = 0; i < 96; i++)
		pthread_key_create(&keys[i], NULL);
	/* The runtime has used malloc and calloc (gnew, mpreinit) long before. */
	free(malloc(64));
	free(calloc(1, 64));
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
		probes[i].warm();
		printf("%s %zu\n", probes[i].name, measure(probes[i].fn));
	}
	/* getppid has not been called: its first call runs the resolver. */
	cold = measure(p_getppid);
	warm = measure(p_getppid);
	printf("lazy-binding %zu\n", cold > warm ? cold - warm : 0);
	return 0;
}
