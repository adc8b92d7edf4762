#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
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
//@endif
