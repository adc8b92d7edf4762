/*
 * outside.h: oracles that watch the runtime from outside. They need no
 * cooperation from the runtime under test (no sq_check, no fault sites), so
 * they hold for every target: stackquake's runtime, Go, gccgo.
 *
 *   thread state    a thread that calls in must come back with the signal
 *                   mask it had, and with its own signal stack if it had
 *                   one; a thread that had none must have none again once
 *                   the runtime detached it (targets that detach after
 *                   every callback: sqt_callback_binds() == 0)
 *   leaks           threads, file descriptors, mappings and resident
 *                   memory, sampled between phases of many attach/detach
 *                   or spawn/exit cycles: growth per cycle beyond the
 *                   bounds below is a leak, reported with its rate
 *
 * A broken rule prints a "violation" record (oracle, what, detail) and the
 * program ends with exit status 3, which the oracle classes "invariant"
 * ("leak" for the leak probe). Scenarios call back through sc_callback
 * (scenario.h), which keeps each thread's state in thread-local storage;
 * the fuzz interpreter makes the same comparisons (sc_tstate_diff). Nothing
 * here depends on a target.
 */
#ifndef SQ_OUTSIDE_H
#define SQ_OUTSIDE_H

#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"

#define OUT_FN_ __attribute__((no_instrument_function, no_split_stack, unused)) static inline

/* ---- violations ----------------------------------------------------------- */

__attribute__((format(printf, 3, 4), no_instrument_function, no_split_stack, noreturn, unused))
static void sc_violation(const char *oracle, const char *what, const char *fmt, ...)
{
	char detail[400];
	va_list ap;
	sq_rec r;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	rec_begin(&r, "violation");
	rec_str(&r, "oracle", oracle);
	rec_str(&r, "what", what);
	rec_str(&r, "detail", detail);
	rec_end(&r, 1);
	fflush(stdout);
	_exit(3);
}

/* ---- thread state across callbacks ---------------------------------------- */

typedef struct sc_tstate {
	int saved;
	sigset_t mask;
	stack_t ss;
} sc_tstate;

static __thread sc_tstate sc_ts;

OUT_FN_ void sc_tstate_read(sc_tstate *t)
{
	pthread_sigmask(SIG_SETMASK, NULL, &t->mask);
	sigaltstack(NULL, &t->ss);
}

OUT_FN_ int sc_ss_own(const stack_t *ss)
{
	return !(ss->ss_flags & SS_DISABLE);
}

/* Whether now is what a thread that had before may be left with after
 * the outermost callback returns (binds: the runtime keeps the thread
 * attached between callbacks). 0, or 1 with the difference in why. */
OUT_FN_ int sc_tstate_diff(const sc_tstate *before, const sc_tstate *now, int binds, char *why,
	size_t len)
{
	for (int sig = 1; sig < 65; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigismember(&before->mask, sig) != sigismember(&now->mask, sig)) {
			snprintf(why, len, "%s is %s, it was %s before the thread called in", strsignal(sig),
				sigismember(&now->mask, sig) ? "blocked" : "unblocked",
				sigismember(&before->mask, sig) ? "blocked" : "unblocked");
			return 1;
		}
	}
	if (sc_ss_own(&before->ss)) {
		if (!sc_ss_own(&now->ss) || now->ss.ss_sp != before->ss.ss_sp ||
		    now->ss.ss_size != before->ss.ss_size) {
			snprintf(why, len, "the thread's own signal stack [%p,+%#zx) is %s", before->ss.ss_sp,
				before->ss.ss_size, sc_ss_own(&now->ss) ? "replaced" : "gone");
			return 1;
		}
	} else if (!binds && sc_ss_own(&now->ss)) {
		snprintf(why, len, "the thread had no signal stack; once detached it has [%p,+%#zx)",
			now->ss.ss_sp, now->ss.ss_size);
		return 1;
	}
	return 0;
}

/* ---- leaks ---------------------------------------------------------------- */

typedef struct sc_res {
	long threads, fds, maps, rss;
} sc_res;

/* Growth beyond both bounds, over a phase, is a leak: an absolute one (a
 * pool filling up, a lazy allocation, a thread the runtime keeps) and one
 * per cycle (what a leak of one object per cycle crosses). */
static const struct { const char *what; long abs; double per_cycle; } sc_leak_bounds[] = {
	{ "threads", 8, 0.02 },
	{ "file descriptors", 4, 0.02 },
	{ "mappings", 16, 0.05 },
	{ "resident bytes", 8 << 20, 1024.0 },
};

OUT_FN_ long sc_count_dir(const char *path)
{
	DIR *d = opendir(path);
	long n = 0;
	struct dirent *e;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

OUT_FN_ long sc_count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

OUT_FN_ void sc_res_read(sc_res *u)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;

	u->threads = sc_count_dir("/proc/self/task");
	u->fds = sc_count_dir("/proc/self/fd");
	u->maps = sc_count_lines("/proc/self/maps");
	if (f) {
		if (fscanf(f, "%ld %ld", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	u->rss = res * sysconf(_SC_PAGESIZE);
}

/* Too few cycles say nothing: what a first use allocates (pools, caches,
 * thread stacks kept for reuse) would pass for growth. */
enum { SC_LEAK_MIN_CYCLES = 500 };

/* SC_LEAK_RSS=0: the process's resident memory is not the program's (under
 * qemu-user it is the emulator's, with its translation caches); read once. */
OUT_FN_ int sc_leak_rss(void)
{
	static int on = -1;

	if (on < 0) {
		const char *e = getenv("SC_LEAK_RSS");

		on = !(e && !strcmp(e, "0"));
	}
	return on;
}

/* Judge the growth from a to b over cycles cycles of what. */
OUT_FN_ void sc_leak_judge(const sc_res *a, const sc_res *b, long cycles, const char *what)
{
	long d[4] = { b->threads - a->threads, b->fds - a->fds, b->maps - a->maps, b->rss - a->rss };
	sq_rec r;

	rec_begin(&r, "usage");
	rec_str(&r, "cycle", what);
	rec_int(&r, "cycles", cycles);
	rec_int(&r, "threads", d[0]);
	rec_int(&r, "fds", d[1]);
	rec_int(&r, "maps", d[2]);
	rec_int(&r, "rss", d[3]);
	rec_end(&r, 1);
	if (cycles < SC_LEAK_MIN_CYCLES || a->threads < 0 || a->maps < 0)
		return;
	for (int i = 0; i < 4 - !sc_leak_rss(); i++)
		if (d[i] > sc_leak_bounds[i].abs && (double)d[i] / (double)cycles > sc_leak_bounds[i].per_cycle) {
			sq_rec v;

			rec_begin(&v, "leak");
			rec_str(&v, "resource", sc_leak_bounds[i].what);
			rec_int(&v, "growth", d[i]);
			rec_int(&v, "cycles", cycles);
			rec_str(&v, "cycle", what);
			rec_end(&v, 1);
			sc_violation("leak", sc_leak_bounds[i].what,
				"%s grew by %ld over %ld cycles (%.3f per cycle; a cycle: %s)",
				sc_leak_bounds[i].what, d[i], cycles, (double)d[i] / (double)cycles, what);
		}
}

#undef OUT_FN_
#endif
