/*
 * scenario.h: what every harness scenario program shares.
 *
 * A scenario is one C program that drives one mechanism of the runtime
 * under stress, through the target interface (target.h) only. Each one:
 *   - takes the common options below, and prints a usage message on -h or
 *     bad input (exit 64); --describe prints what it is and what its
 *     target says when it dies (records, below) and exits;
 *   - draws all randomness from one seed, printed first and settable with
 *     --seed or SQ_SEED, so a run replays;
 *   - declares its expected outcome (clean, or a fatal error by its
 *     contract key) before doing anything risky;
 *   - writes "[sc] ..." event lines for people on stderr, and records for
 *     drivers on stdout (never on stderr, where the runtime under test
 *     prints its fatal errors one piece at a time: Go's are several writes);
 *   - ends with a "hits" record per fault site the run reached, an "end"
 *     record, and "PASS <scenario>" on stdout.
 * Exit codes: 0 clean, 1 the scenario's own check failed (wrong result),
 * 3 invariant violation (sqt_check), 4 skipped (the target cannot do what
 * this mode needs), 64 usage. Fatal errors are the runtime's: exit 2 with
 * "fatal error: ..." on stderr (on stackquake's runtime).
 *
 * Records (record.h: one JSON object per line on stdout, first member
 * "rec"): seed {seed}; scenario {name, mode, injector, iters, threads,
 * target, variant}; progress {n}; expect {outcome: clean|fatal, fatal: key}; skip
 * {reason}; hits {site, n}; invariant {violations}; end {status}; and for
 * --describe: info {name, what, modes, iters, threads, campaign_iters},
 * target {name, version, variant}, fatal {key, prefix, message, class}.
 *
 * Injectors (--injector): none; storm (a thread sends signals to the
 * scenario's threads with tgkill, the baseline other tools use: a sweep
 * over the targets every 5 us at most, and with no thread to hit it yields,
 * so threads being made get the CPU); sites (fault sites armed by the
 * caller through SQ_FAULT).
 */
#ifndef SQ_SCENARIO_H
#define SQ_SCENARIO_H

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "outside.h"
#include "record.h"
#include "sq_contract.h"
#include "target.h"

enum {
	SC_CLEAN = 0,
	SC_WRONG = 1,
	SC_INVARIANT = 3,
	SC_SKIPPED = 4,
	SC_USAGE = 64,
	SC_MAXTHREADS = 64,
};

#include "envaxes.h"	/* --env AXIS[,AXIS]: wraps sqt_init, sqt_main, pthread_create */

typedef struct sc_opts {
	uint64_t seed;
	long iters;		/* scenario-specific unit of work */
	int threads;		/* foreign threads, where the scenario has them */
	const char *injector;	/* none, storm, sites */
	const char *mode;	/* scenario-specific variant of the scenario */
} sc_opts;

typedef struct sc_info {
	const char *name;
	const char *what;
	const char *modes;	/* "a|b|c": the first is the default */
	long iters;
	int threads;
	long campaign_iters;	/* a campaign run's worth: about a second */
} sc_info;

static sc_opts sc;
static const sc_info *sc_self;
static uint64_t sc_rng;

/* ---- output ------------------------------------------------------------ */

__attribute__((format(printf, 1, 2), no_instrument_function, no_split_stack))
static inline void sc_event(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n = snprintf(buf, sizeof buf, "[sc] ");

	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof buf - 1)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	(void)!write(2, buf, (size_t)n);	/* one write: lines never interleave */
}

static inline void sc_expect_clean(void)
{
	sq_rec r;

	rec_begin(&r, "expect");
	rec_str(&r, "outcome", "clean");
	rec_end(&r, 1);
}

/* The run must end in this fatal error (SQ_F_*: the contract's key; each
 * target says in its own words, sqt_fatals). */
static inline void sc_expect_fatal(int fatal)
{
	sq_rec r;

	rec_begin(&r, "expect");
	rec_str(&r, "outcome", "fatal");
	rec_id(&r, "fatal", sq_fatal_id(fatal));
	rec_end(&r, 1);
}

/* The target cannot do what this mode needs (a call returned -ENOSYS). */
static inline _Noreturn void sc_skip(const char *why)
{
	sq_rec r;

	sc_env_skipping = 1;
	rec_begin(&r, "skip");
	rec_str(&r, "reason", why);
	rec_end(&r, 1);
	printf("SKIP %s\n", sc_self->name);
	fflush(stdout);
	exit(SC_SKIPPED);
}

/* ---- randomness: one seed -------------------------------------------- */

__attribute__((no_instrument_function, no_split_stack))
static inline uint64_t sc_rand(void)
{
	uint64_t x = __atomic_load_n(&sc_rng, __ATOMIC_RELAXED), y;

	do {
		y = x;
		y ^= y << 13;
		y ^= y >> 7;
		y ^= y << 17;
	} while (!__atomic_compare_exchange_n(&sc_rng, &x, y, 0, __ATOMIC_RELAXED,
			__ATOMIC_RELAXED));
	return y;
}

static inline long sc_randn(long n)
{
	return n > 0 ? (long)(sc_rand() % (uint64_t)n) : 0;
}

/* ---- threads and the storm injector ------------------------------------ */

static volatile int32_t sc_tids[SC_MAXTHREADS];
static volatile int sc_storm_stop;
static long sc_storm_sent;
static pthread_t sc_storm_thread;
static int sc_storm_sigs[8] = { SIGURG, SIGPROF, SIGUSR1 };
static int sc_storm_nsigs = 3;

/* A thread announces itself as a storm target (slot < SC_MAXTHREADS). */
static inline void sc_target(int slot)
{
	sc_tids[slot] = (int32_t)syscall(SYS_gettid);
}

static inline void sc_untarget(int slot)
{
	sc_tids[slot] = 0;
}

/* A sweep (one signal to each target) takes at least this long. Without a
 * floor, a lone target is hit again the moment it returns from its handler
 * and makes next to no progress: an sc_attachsig/exiting storm run, one
 * short-lived thread at a time, took 0.1 to 16 s from one seed to the next,
 * and 0.05 to 0.2 s with the floor; four targets take about this long to
 * sweep anyway. */
#define SC_STORM_SWEEP_NS 5000

static inline int64_t sc_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void *sc_storm(void *arg)
{
	pid_t pid = getpid();
	long k = 0;

	(void)arg;
	while (!sc_storm_stop) {
		int64_t t0 = sc_mono_ns();
		int targets = 0;

		for (int i = 0; i < SC_MAXTHREADS; i++) {
			int32_t tid = sc_tids[i];

			if (tid <= 0)
				continue;
			targets++;
			if (syscall(SYS_tgkill, pid, tid, sc_storm_sigs[k++ % sc_storm_nsigs]) == 0)
				__atomic_add_fetch(&sc_storm_sent, 1, __ATOMIC_RELAXED);
		}
		/* No target (between rounds, threads being made): give the CPU
		 * to whoever is making them instead of spinning on the table. */
		if (targets == 0)
			sched_yield();
		else
			while (sc_mono_ns() - t0 < SC_STORM_SWEEP_NS)
				;
	}
	return NULL;
}

/* The storm hits handlers, not default actions: a signal that nobody
 * handles and whose default ends the process is left out (SIGPROF on a
 * runtime that handles it only while it profiles, as Go's c-archive mode
 * does: it would only show the kernel killing the process). */
static inline void sc_storm_handled(void)
{
	struct sigaction sa;
	int n = 0;

	for (int i = 0; i < sc_storm_nsigs; i++) {
		int sig = sc_storm_sigs[i];

		if (sig != SIGURG && sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
			sc_event("STORM not sending signal %d (%s): no handler, and its default action ends the process", sig,
				strsignal(sig));
			continue;
		}
		sc_storm_sigs[n++] = sig;
	}
	sc_storm_nsigs = n;
}

static inline void sc_storm_start(void)
{
	if (strcmp(sc.injector, "storm") == 0) {
		sc_storm_handled();
		if (sc_storm_nsigs > 0)
			pthread_create(&sc_storm_thread, NULL, sc_storm, NULL);
		else
			sc_storm_stop = 1;
	}
}

static inline void sc_storm_end(void)
{
	if (strcmp(sc.injector, "storm") == 0 && !sc_storm_stop) {
		sc_storm_stop = 1;
		pthread_join(sc_storm_thread, NULL);
		sc_event("STORM sent=%ld", sc_storm_sent);
	}
}

static long sc_nusr1;

static void sc_on_usr1(int sig)
{
	(void)sig;
	__atomic_add_fetch(&sc_nusr1, 1, __ATOMIC_RELAXED);
}

/* ---- callbacks -------------------------------------------------------------
 * Every callback of a scenario goes through sc_callback: the thread's state
 * is kept before its first one and compared once the outermost one returns
 * (outside.h; a callback made from an outcall inside another is still
 * inside the runtime when it returns). */

static __thread int sc_cbdepth;

__attribute__((no_instrument_function, no_split_stack, unused))
static int sc_callback(sqt_fn fn, void *arg)
{
	char why[300];
	sc_tstate now;
	int r;

	if (!sc_ts.saved) {
		sc_tstate_read(&sc_ts);
		sc_ts.saved = 1;
	}
	sc_cbdepth++;
	r = sqt_callback(fn, arg);
	if (--sc_cbdepth == 0) {
		sc_tstate_read(&now);
		if (sc_tstate_diff(&sc_ts, &now, sqt_callback_binds(), why, sizeof why))
			sc_violation("thread-state", "after a callback", "after a callback: %s", why);
	}
	return r;
}

/* ---- progress ------------------------------------------------------------
 * A hang is judged by lack of progress, not by wall time (a loaded machine
 * slows a run without hanging it): scenario loops count their iterations
 * with sc_tick, and a thread of the scenario's own, with every signal
 * blocked, prints a "progress" record whenever the count moved in the last
 * quarter second. The driver's watchdog measures the time since the last
 * one (sqlib/proc.py). */

static long sc_ticks;
static int sc_ticker_quit;
static pthread_t sc_ticker_thread;
static int sc_ticker_running;

__attribute__((no_instrument_function, no_split_stack))
static inline void sc_tick(void)
{
	__atomic_add_fetch(&sc_ticks, 1, __ATOMIC_RELAXED);
}

static inline void *sc_ticker(void *arg)
{
	struct timespec q = { 0, 250 * 1000 * 1000 };
	long last = -1;

	(void)arg;
	for (;;) {
		long n = __atomic_load_n(&sc_ticks, __ATOMIC_RELAXED);

		if (n != last) {
			sq_rec r;

			rec_begin(&r, "progress");
			rec_int(&r, "n", n);
			rec_end(&r, 1);
			last = n;
		}
		if (__atomic_load_n(&sc_ticker_quit, __ATOMIC_ACQUIRE))
			break;
		nanosleep(&q, NULL);
	}
	return NULL;
}

static inline void sc_ticker_start(void)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	sc_ticker_running = pthread_create(&sc_ticker_thread, NULL, sc_ticker, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static inline int sc_ticker_join(void *arg)
{
	(void)arg;
	__atomic_store_n(&sc_ticker_quit, 1, __ATOMIC_RELEASE);
	pthread_join(sc_ticker_thread, NULL);
	return 0;
}

/* End the progress thread (for runtime code: the wait is an outcall), so
 * that the process is left with the runtime's own threads: while a thread
 * the runtime does not own exists, it may call in, and no runtime may
 * declare a deadlock. From here on the watchdog sees no progress. */
static inline void sc_ticker_stop(void)
{
	if (sc_ticker_running) {
		sc_ticker_running = 0;
		sqt_outcall(sc_ticker_join, NULL);
	}
}

/* ---- start and finish -------------------------------------------------- */

static inline void sc_usage(FILE *f)
{
	fprintf(f, "usage: %s [--seed N] [--iters N] [--threads N] [--injector none|storm|sites]"
		" [--mode %s] [--env AXIS,...] | --describe\n  %s\n  exit: 0 clean, 1 wrong result, 2 runtime fatal error,"
		" 3 invariant violation, 4 skipped, 64 usage\n", sc_self->name, sc_self->modes, sc_self->what);
}

static inline int sc_badusage(const char *why, const char *arg)
{
	fprintf(stderr, "%s: %s%s%s\n", sc_self->name, why, arg ? ": " : "", arg ? arg : "");
	sc_usage(stderr);
	exit(SC_USAGE);
}

static inline long sc_number(const char *opt, const char *s)
{
	char *end;
	long v;

	if (!s)
		sc_badusage("missing value for", opt);
	errno = 0;
	v = strtol(s, &end, 0);
	if (*end || errno || v < 0)
		sc_badusage("not a non-negative number", s);
	return v;
}

static inline int sc_modeok(const char *m)
{
	size_t n = strlen(m);

	for (const char *p = sc_self->modes; p && *p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, m, n) == 0)
			return 1;
		p = bar ? bar + 1 : NULL;
	}
	return 0;
}

/* --describe: the scenario and its target, as records. */
static inline _Noreturn void sc_describe(void)
{
	const sqt_fatal *f;
	sq_rec r;
	int n;

	rec_begin(&r, "info");
	rec_str(&r, "name", sc_self->name);
	rec_str(&r, "what", sc_self->what);
	rec_str(&r, "modes", sc_self->modes);
	rec_int(&r, "iters", sc_self->iters);
	rec_int(&r, "threads", sc_self->threads);
	rec_int(&r, "campaign_iters", sc_self->campaign_iters);
	rec_end(&r, 1);
	rec_begin(&r, "target");
	rec_str(&r, "name", sqt_name());
	rec_str(&r, "version", sqt_version());
	rec_str(&r, "variant", sqt_variant());
	rec_end(&r, 1);
	f = sqt_fatals(&n);
	for (int i = 0; i < n; i++) {
		rec_begin(&r, "fatal");
		rec_id(&r, "key", f[i].key);
		rec_str(&r, "prefix", f[i].prefix);
		rec_str(&r, "message", f[i].message);
		rec_str(&r, "class", f[i].cls);
		rec_end(&r, 1);
	}
	exit(0);
}

/* Parse the common options, print the seed, install the program's own
 * SIGUSR1 handler (before the runtime: it must keep working). It runs on
 * the signal stack when the thread has one: a runtime whose own start
 * comes first (Go's c-archive mode, in a constructor) requires SA_ONSTACK
 * of every later handler, and no runtime is hurt by it. */
static inline void sc_begin(int argc, char **argv, const sc_info *info)
{
	static char defmode[64];
	const char *env = getenv("SQ_SEED");
	struct sigaction sa;
	sq_rec r;

	argc = sc_env_begin(argc, argv);
	sc_self = info;
	sc.seed = env && *env ? (uint64_t)sc_number("SQ_SEED", env) :
		(uint64_t)getpid() * 2654435761u ^ (uint64_t)time(NULL);
	sc.iters = info->iters;
	sc.threads = info->threads;
	sc.injector = "none";
	snprintf(defmode, sizeof defmode, "%.*s", (int)strcspn(info->modes, "|"), info->modes);
	sc.mode = defmode;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			sc_usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--describe")) {
			sc_describe();
		} else if (!strcmp(a, "--seed")) {
			sc.seed = (uint64_t)sc_number(a, v), i++;
		} else if (!strcmp(a, "--iters")) {
			sc.iters = sc_number(a, v), i++;
		} else if (!strcmp(a, "--threads")) {
			sc.threads = (int)sc_number(a, v), i++;
			if (sc.threads < 1 || sc.threads > SC_MAXTHREADS / 2)
				sc_badusage("threads must be 1 to 32", v);
		} else if (!strcmp(a, "--injector")) {
			if (!v || (strcmp(v, "none") && strcmp(v, "storm") && strcmp(v, "sites")))
				sc_badusage("unknown injector", v);
			sc.injector = v, i++;
		} else if (!strcmp(a, "--mode")) {
			if (!v || !sc_modeok(v))
				sc_badusage("unknown mode", v);
			sc.mode = v, i++;
		} else {
			sc_badusage("unknown option", a);
		}
	}
	sc_rng = sc.seed ? sc.seed : 1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = sc_on_usr1;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	rec_begin(&r, "seed");
	rec_int(&r, "seed", (int64_t)sc.seed);
	rec_end(&r, 1);
	rec_begin(&r, "scenario");
	rec_str(&r, "name", info->name);
	rec_str(&r, "mode", sc.mode);
	rec_str(&r, "injector", sc.injector);
	rec_int(&r, "iters", sc.iters);
	rec_int(&r, "threads", sc.threads);
	rec_str(&r, "target", sqt_name());
	rec_str(&r, "variant", sqt_variant());
	rec_end(&r, 1);
	sc_ticker_start();
}

static inline int sc_mode(const char *m)
{
	return strcmp(sc.mode, m) == 0;
}

/* Report the fault sites the run reached, check invariants, and exit. */
static inline _Noreturn void sc_finish(int status, int quiescent)
{
	const char *site;
	sq_rec r;
	int bad;

	for (int i = 0; (site = sqt_site(i)) != NULL; i++) {
		int64_t n = sqt_hits(site);

		if (n > 0) {
			rec_begin(&r, "hits");
			rec_str(&r, "site", site);
			rec_int(&r, "n", n);
			rec_end(&r, 1);
		}
	}
	if (quiescent && sc_env_on)
		sc_env_quiesce();
	if (quiescent && sqt_quiesce() > 0)
		sc_event("QUIESCE goroutines still alive after waiting");
	bad = sqt_check(quiescent);
	if (bad > 0) {
		rec_begin(&r, "invariant");
		rec_int(&r, "violations", bad);
		rec_end(&r, 1);
		exit(SC_INVARIANT);
	}
	rec_begin(&r, "end");
	rec_str(&r, "status", status == SC_CLEAN ? "pass" : "fail");
	rec_end(&r, 1);
	if (status == SC_CLEAN)
		printf("PASS %s\n", sc_self->name);
	else
		printf("FAIL %s\n", sc_self->name);
	fflush(stdout);
	exit(status);
}

#endif
