#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sq.h"
#include "sq_harness.h"

/* Code that runs on foreign C stacks, never on a G: no split check. */
#define C_SIDE __attribute__((no_instrument_function))

/* The runtime's settings for this finding. It reads them once, when it
 * starts, so they are set first (SQ_FAULT arms the fault sites then). */
static const char *const settings[][2] = {
@SETTINGS_C@	{ NULL, NULL },
};

//@if sched
/* The schedule: with one P the runtime offers every choice of the next G
 * to a picker; this one draws from the schedule's seed (0: the runtime's
 * own order), as the harness's SC_SCHED does. */
static uint64_t schedrng = @SCHED@ull;

static int pick(void *ctx, int n)
{
	uint64_t x = schedrng;

	(void)ctx;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	schedrng = x;
	return (int)(x % (uint64_t)n);
}
//@endif

static void runtime_settings(void)
{
	for (int i = 0; settings[i][0]; i++)
		setenv(settings[i][0], settings[i][1], 1);
//@if sched
	sq_harness_picker(pick, NULL);
//@endif
}

//@if quiesce
/* Wait (a second at most) until no G but the caller is alive. */
static void quiesce(void)
{
	int self = sq_goid() != 0;
	struct timespec ms = { 0, 1000000 };
	sq_stats st;

	for (int i = 0; i < 1000; i++) {
		sq_stats_get(&st);
		if (st.gcount <= self)
			return;
		if (self)
			sq_syscall_block(SYS_nanosleep, (long)&ms, 0, 0, 0, 0, 0);
		else
			nanosleep(&ms, NULL);
	}
}

/* The promise the runtime cannot check itself (harness/stackmaps.h): every
 * stack it handed out is MAP_STACK, which /proc/self/smaps shows as "nh"
 * (VM_NOHUGEPAGE) since Linux 6.7. Each stack not so is printed; 0 where
 * the kernel cannot tell. */
static int all_nh(uintptr_t lo, uintptr_t hi)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, covered = 0, ok = 1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		unsigned long a, b;
		char c;

		if (sscanf(line, "%lx-%lx %c", &a, &b, &c) == 3 && strchr(line, '-') < strchr(line, ' '))
			in = b > lo && a < hi;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			covered = 1;
			ok &= strstr(line, " nh") != NULL;
		}
	}
	fclose(f);
	return covered && ok;
}

static int stacks_unmapped(void)
{
	void *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	int visible = p != MAP_FAILED && all_nh((uintptr_t)p, (uintptr_t)p + 8192) == 1, n, bad = 0;
	sq_stackinfo st[512];

	if (p != MAP_FAILED)
		munmap(p, 8192);
	if (!visible)
		return 0;
	n = sq_stacks(st, 512);
	for (int i = 0; i < n && i < 512; i++)
		if (!all_nh(st[i].lo, st[i].hi)) {
			fprintf(stderr, "invariant: %s stack [%#lx,%#lx) is not mapped MAP_STACK\n",
				st[i].kind, (unsigned long)st[i].lo, (unsigned long)st[i].hi);
			bad++;
		}
	return bad;
}
//@endif
