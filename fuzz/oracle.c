/*
 * oracle.c: how the fuzz interpreter reports findings, waits, and checks
 * what the runtime cannot check about itself (MAP_STACK).
 *
 * Built without the fuzzers' coverage instrumentation: spin counts,
 * /proc parsing and the crash path differ from run to run and must not
 * look like new behaviour of the program.
 *
 * The crash path. A fuzzer recognises a finding by the signal the process
 * dies of, and libFuzzer saves the input from its own SIGABRT handler. The
 * runtime's throw ends by SIGABRT (SQ_CRASH=abort) with SIGABRT handed back
 * to the handler the program had before the runtime started: libFuzzer's,
 * SIG_DFL under AFL++ and replay. The interpreter's own findings (fz_fail)
 * take the same way out (sq_harness_restore_sigabrt).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "interp.h"
#include "stackmaps.h"
#include "outside.h"
#include "sq_harness.h"
#include "cstack.h"

/* A thread's C stack gets its memory the first time it is used: which
 * execution that is depends on which M ran it before, so not counted. */
void fz_cs_prepare(cstack *s)
{
	if (!s->mem)
		s->mem = cs_alloc(s);
}

/* ---- the crash path ---------------------------------------------------------------- */

static void say(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(2, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static uint32_t failing;

_Noreturn void fz_fail(const char *cls, const char *fmt, ...)
{
	char buf[512];
	sigset_t set;
	va_list ap;
	int n;

	if (__atomic_fetch_add(&failing, 1, __ATOMIC_ACQ_REL) > 0)
		for (;;)		/* another thread is reporting: let it */
			pause();
	n = snprintf(buf, sizeof buf, "fuzz: %s: ", cls);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	say(buf, (size_t)n);
	sq_harness_restore_sigabrt();	/* the fuzzer's handler, see above */
	sigemptyset(&set);
	sigaddset(&set, SIGABRT);
	syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &set, NULL, 8);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGABRT);
	_exit(134);
}

/* ---- thread state across callbacks (harness/outside.h's rule) ------------------------
 * A pool thread's signal mask and signal stack are kept before its first
 * callback and compared when the outermost one returns: every fourth time
 * per thread (two system calls a look; the fuzzers run millions of
 * callbacks, and the replay driver looks every time). */

static __thread sc_tstate fz_ts;
static __thread int fz_cbdepth;
static __thread unsigned fz_cbn;
static int fz_tstate_every = -1;

void fz_callin_begin(void)
{
	if (!fz_ts.saved) {
		sc_tstate_read(&fz_ts);
		fz_ts.saved = 1;
	}
	fz_cbdepth++;
}

void fz_callin_end(void)
{
	char why[300];
	sc_tstate now;

	if (--fz_cbdepth > 0)
		return;
	if (fz_tstate_every < 0)
		fz_tstate_every = getenv("FZ_LEAK") && atol(getenv("FZ_LEAK")) == 1 ? 1 : 4;
	if (fz_cbn++ % (unsigned)fz_tstate_every)
		return;
	sc_tstate_read(&now);
	if (sc_tstate_diff(&fz_ts, &now, fz_bound, why, sizeof why))
		fz_fail("invariant", "thread state after a callback: %s", why);
}

/* ---- leaks across executions (harness/outside.h's probe) -----------------------------
 * What the process holds (threads, descriptors, mappings) after an
 * execution must be what it held before, once warm: the interpreter brings
 * the runtime back to the same quiescent state every time. Reading /proc
 * costs about an execution, so it is done every FZ_LEAK-th execution
 * (default 256; 1: every one, which the replay driver asks for); when
 * something grew since the last look, the current input is run again 16
 * times, and growth in every run is a leak of that input's. */

enum { LEAK_RERUNS = 16 };

/* The engine's coverage map: AFL++'s (afl-clang-fast's guards write
 * __afl_area_ptr), or the 8-bit counters of -fsanitize-coverage (libFuzzer,
 * the stab build), whose section the linker bounds. The reruns that
 * confirm a leak are the oracle's, not the input's: their coverage (the
 * input's edges sixteen times over) is put back to what the execution
 * itself left, or every edge of a rerun input reads as unstable to AFL++
 * and as a new feature to libFuzzer (AFL++'s stability fell from 98 % to
 * 8 % with the leak check). */
extern unsigned char *__afl_area_ptr __attribute__((weak));
extern unsigned int __afl_map_size __attribute__((weak));
extern unsigned char __start___sancov_cntrs[] __attribute__((weak));
extern unsigned char __stop___sancov_cntrs[] __attribute__((weak));

static unsigned char *covmap(size_t *n)
{
	if (&__afl_area_ptr && __afl_area_ptr && &__afl_map_size) {
		*n = __afl_map_size;
		return __afl_area_ptr;
	}
	if (__start___sancov_cntrs && __stop___sancov_cntrs > __start___sancov_cntrs) {
		*n = (size_t)(__stop___sancov_cntrs - __start___sancov_cntrs);
		return __start___sancov_cntrs;
	}
	*n = 0;
	return NULL;
}

static long leak_every = -1, nexecs;
static sc_res leak_last;
static int leak_have, leak_busy;

static int grew(const sc_res *a, const sc_res *b, long per)
{
	return b->threads - a->threads >= per || b->fds - a->fds >= per || b->maps - a->maps >= per;
}

void fz_leak_before(void)
{
	if (leak_every < 0) {
		const char *e = getenv("FZ_LEAK");

		leak_every = e && *e ? atol(e) : 256;
	}
	if (leak_every == 1 && !leak_busy) {
		sc_res_read(&leak_last);
		leak_have = 1;
	}
}

void fz_leak_after(const uint8_t *data, size_t size, int mode)
{
	sc_res now, a, b;
	unsigned char *map, *saved = NULL;
	size_t mapn;

	if (leak_busy || leak_every <= 0 || ++nexecs % leak_every)
		return;
	sc_res_read(&now);
	if (!leak_have || !grew(&leak_last, &now, 1)) {
		leak_last = now, leak_have = leak_every > 1;
		return;
	}
	leak_busy = 1;
	map = covmap(&mapn);
	if (map && (saved = malloc(mapn)) != NULL)
		memcpy(saved, map, mapn);
	sc_res_read(&a);
	for (int i = 0; i < LEAK_RERUNS; i++)
		fz_exec(data, size, mode);
	sc_res_read(&b);
	if (saved) {
		memcpy(map, saved, mapn);
		free(saved);
	}
	leak_busy = 0;
	if (grew(&a, &b, LEAK_RERUNS))
		fz_fail("leak", "over %d runs of this input: threads %+ld, descriptors %+ld, mappings %+ld",
			LEAK_RERUNS, b.threads - a.threads, b.fds - a.fds, b.maps - a.maps);
	sc_res_read(&leak_last);
	leak_have = leak_every > 1;
}

/* ---- waiting ------------------------------------------------------------------------- */

int64_t fz_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void fz_busy(int64_t ns)
{
	int64_t end = fz_now() + ns;

	while (fz_now() < end)
		__asm__ volatile("pause" ::: "memory");
}

static int spins = -1;

int fz_wait_change(uint32_t *addr, uint32_t old, int64_t ns)
{
	int64_t deadline = ns >= 0 ? fz_now() + ns : -1;

	if (spins < 0)
		spins = getenv("FZ_SPINS") ? atoi(getenv("FZ_SPINS")) : 0;
	for (int i = 0; i < spins; i++) {
		if (__atomic_load_n(addr, __ATOMIC_ACQUIRE) != old)
			return 0;
		sched_yield();
	}
	while (__atomic_load_n(addr, __ATOMIC_ACQUIRE) == old) {
		struct timespec ts, *tp = NULL;

		if (deadline >= 0) {
			int64_t left = deadline - fz_now();

			if (left <= 0)
				return -1;
			ts.tv_sec = left / 1000000000;
			ts.tv_nsec = left % 1000000000;
			tp = &ts;
		}
		syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, old, tp, NULL, 0);
	}
	return 0;
}

uint32_t fz_attn;

void fz_attention(void)
{
	__atomic_add_fetch(&fz_attn, 1, __ATOMIC_ACQ_REL);
	fz_wake(&fz_attn);
}

int fz_await(uint32_t *done, uint32_t *seq, int64_t (*tick)(void), int64_t ns)
{
	int64_t now = fz_now(), deadline = now + ns, polled = 0;

	for (;;) {
		uint32_t a = __atomic_load_n(&fz_attn, __ATOMIC_ACQUIRE);
		int64_t slice;

		if (__atomic_load_n(done, __ATOMIC_ACQUIRE) == __atomic_load_n(seq, __ATOMIC_ACQUIRE))
			return 0;
		slice = tick();
		now = fz_now();
		if (now >= deadline)
			return -1;
		if (slice != FZ_POLL) {
			polled = 0;
			fz_wait_change(&fz_attn, a, slice ? slice : deadline - now);
			continue;
		}
		/* Polling (for quiet, which nobody announces): the threads
		 * that have to get there need the CPU more than we do, and
		 * share it with us (fz_one_cpu). A yield hands it over until
		 * they block; a timed wait would take it back every slice,
		 * each time at the price of two context switches, and starve
		 * them. Timed waits only after a while of this, when something
		 * sleeps for real. */
		if (!polled)
			polled = now;
		if (now - polled < 500000)
			sched_yield();
		else
			fz_wait_change(&fz_attn, a, 5000);
	}
}

/* On the settler's G: one blocking call that lasts until the fuzzer's
 * thread releases it, however long that takes (the watchdog ends a real
 * hang). No timeout: a G that came back on one, or went round the call
 * again, would do so when the machine's timing let it, not when the
 * runtime is idle. Whether the futex saw the word still 0 or already 1 is
 * timing too, so it is decided here, out of the coverage. */
void fz_settle_block(uint32_t *word)
{
	long r;

	do {
		r = sq_syscall_block(SYS_futex, (long)word, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0);
		if (r != 0 && r != -EAGAIN && r != -EINTR)
			fz_fail("wrong-result", "sysblock futex returned %ld", r);
	} while (!__atomic_load_n(word, __ATOMIC_ACQUIRE));
}

int fz_await_count(uint32_t *count, uint32_t want, int64_t ns)
{
	int64_t deadline = fz_now() + ns;

	for (;;) {
		uint32_t a = __atomic_load_n(&fz_attn, __ATOMIC_ACQUIRE);

		if ((int32_t)(__atomic_load_n(count, __ATOMIC_ACQUIRE) - want) >= 0)
			return 0;
		if (fz_now() >= deadline)
			return -1;
		fz_wait_change(&fz_attn, a, deadline - fz_now());
	}
}

/* Runtime Ms blocked in settle waits not yet released, or -1 while one is
 * still on its way in (registered, not yet blocked). A `retake` reads it
 * while the settler holds off (fz_cur.retaking). */
static int settle_blocked(void)
{
	int32_t n = __atomic_load_n(&fz_cur.nsettle, __ATOMIC_ACQUIRE);
	int nb = 0;

	for (int32_t i = fz_cur.settlehead; i < n && i < FZ_MAXSETTLE; i++) {
		if (!__atomic_load_n(&fz_cur.settle[i].ready, __ATOMIC_ACQUIRE))
			return -1;
		nb += fz_cur.settle[i].runtime_m;
	}
	return nb;
}

int fz_settle_tick(void)
{
	int32_t head = fz_cur.settlehead, n = __atomic_load_n(&fz_cur.nsettle, __ATOMIC_ACQUIRE);
	int nblocked;

	if (head >= n || head >= FZ_MAXSETTLE)
		return 0;
	/* One at a time: the last one woken must be back from its call (with
	 * a P) before the runtime can look idle again. A foreign thread's M is
	 * not among the runtime's Ms, so until then an idle P and idle Ms do
	 * not mean it has come back; two woken at once race for the P. */
	if (head > 0 && !__atomic_load_n(&fz_cur.settle[head - 1].back, __ATOMIC_ACQUIRE))
		return 1;
	/* Nor while a `retake` waits for quiet (fz_retake). It counts itself
	 * in before it lets its P go, so a quiet seen here with the P idle is
	 * seen with the count up: look again after. */
	if (__atomic_load_n(&fz_cur.retaking, __ATOMIC_SEQ_CST))
		return 1;
	if ((nblocked = settle_blocked()) < 0 || !sq_harness_quiet(nblocked) ||
	    __atomic_load_n(&fz_cur.retaking, __ATOMIC_SEQ_CST))
		return 1;
	__atomic_store_n(&fz_cur.settle[head].word, 1, __ATOMIC_RELEASE);
	fz_wake(&fz_cur.settle[head].word);
	fz_cur.settlehead = head + 1;
	return 1;
}

/* The G asks for its own preemption, through a timer that signals its
 * thread once the loop spins (the fuzzer's thread shares the CPU and
 * would wait for the spinning thread's time slice to end), and has the
 * runtime set the loop's halt word when it honours it; the fuzzer's
 * thread asks again if nothing has come of it in 1 ms (fz_tight_tick).
 * Preempted before the loop (the signal came while arming took longer
 * than the delay: a stack split's way back, a descheduled thread), the
 * halt word is set already: again, a few times. The timer's id, or -1. */
enum { FZ_TIGHT_ASK_NS = 50000 };

int fz_tight_arm(fz_tight *t)
{
	int timer = -1;

	for (int k = 0; k < 4 && sq_harness_asyncpreempt(); k++) {
		if (timer >= 0)
			sq_harness_preempt_after_done(timer);
		__atomic_store_n(t->halt, 0, __ATOMIC_RELEASE);
		sq_harness_preempt_notify(t->goid, (uint32_t *)t->halt);
		timer = sq_harness_preempt_after(FZ_TIGHT_ASK_NS);
		if (!__atomic_load_n(t->halt, __ATOMIC_ACQUIRE))
			break;
	}
	return timer;
}

/* A loop seen halted, by the fuzzer's thread or by its G once it ends:
 * whichever comes first takes it out of the count. */
void fz_tight_done(fz_tight *t)
{
	if (__atomic_exchange_n(&t->active, 0, __ATOMIC_ACQ_REL))
		__atomic_sub_fetch(&fz_cur.ntight, 1, __ATOMIC_ACQ_REL);
}

/* Whether asking has had its effect is timing, and so stays out of the
 * coverage (oracle.c). */
int fz_tight_tick(void)
{
	int pending = 0;

	if (!__atomic_load_n(&fz_cur.ntight, __ATOMIC_ACQUIRE))
		return 0;
	pending = 1;	/* one is on its way in, at least */
	for (int i = 0; i < FZ_MAXOPS; i++) {
		fz_tight *t = &fz_cur.tight[i];

		/* Not before the loop says it spins: before that, the G may
		 * still be arming its request and clearing its halt word. */
		if (!__atomic_load_n(&t->active, __ATOMIC_ACQUIRE) ||
		    !__atomic_load_n(&t->ready, __ATOMIC_ACQUIRE))
			continue;
		if (!*t->halt) {
			if (sq_harness_asyncpreempt()) {
				/* The G asked for itself (interp_g.c); ask again
				 * if nothing came of it in 1 ms: a request finds
				 * no running G while the G is between Ms. The
				 * runtime sets the halt word once the G has been
				 * preempted. */
				if (!t->asked) {
					t->asked = fz_now();
				} else if (fz_now() - t->asked > 1000000) {
					sq_harness_preempt_g(t->goid, 1);
					t->asked = fz_now();
				}
				continue;
			}
			/* nothing would interrupt it: one round and out */
			__atomic_store_n(t->halt, 1, __ATOMIC_RELEASE);
		}
		fz_tight_done(t);
	}
	return pending;
}

void fz_wake(uint32_t *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void fz_wait_idle(const char *after)
{
	int64_t deadline = 0;
	int self = sq_harness_attached() == SQ_ATTACHED_M;

	for (int i = 0; !sq_harness_quiet(self); i++) {
		if (i < 2000) {
			__asm__ volatile("pause" ::: "memory");
			continue;
		}
		if (!deadline)
			deadline = fz_now() + 2000000000LL;
		if (fz_now() > deadline) {
			sq_harness_dump();
			fz_fail("hang", "the runtime did not go idle within 2s after %s", after);
		}
		sched_yield();
	}
}

/* After the retake, let whatever runs on the P settle, so that the way
 * back (exitsyscall) does not race with it. Quiet counts as still the Ms
 * blocked in settle waits and those of other retakes: each waits for
 * someone who waits for quiet, and would never see it with the other
 * counted as running. Retakes go on one at a time, in the order they
 * began, each once the runtime is quiet after the one before; meanwhile
 * the settler releases nobody (fz_settle_tick). Either would otherwise
 * race for the P. */
void fz_retake(int64_t ns)
{
	int64_t deadline = fz_now() + ns;
	int rm = sq_harness_attached() == SQ_ATTACHED_M;
	uint32_t me = __atomic_fetch_add(&fz_cur.nretake, 1, __ATOMIC_SEQ_CST);
	uint64_t before = me < 64 ? (1ULL << me) - 1 : ~0ULL;

	__atomic_add_fetch(&fz_cur.retaking, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&fz_cur.retaking_m, rm, __ATOMIC_SEQ_CST);
	sq_harness_retake_mine();
	while (fz_now() < deadline) {
		int nb;

		if ((me >= 64 || (__atomic_load_n(&fz_cur.retake_done, __ATOMIC_ACQUIRE) & before) == before) &&
		    (nb = settle_blocked()) >= 0 &&
		    sq_harness_quiet(__atomic_load_n(&fz_cur.retaking_m, __ATOMIC_ACQUIRE) + nb))
			break;
		sched_yield();
	}
	if (me < 64)
		__atomic_or_fetch(&fz_cur.retake_done, 1ULL << me, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&fz_cur.retaking_m, rm, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&fz_cur.retaking, 1, __ATOMIC_SEQ_CST);
	fz_attention();
}

/* ---- the watchdog ------------------------------------------------------------------------ */

static int64_t wd_start;	/* when the current execution began, 0 between */
static int64_t wd_limit;
uint32_t fz_steps;

/* A hang is an execution that has stopped moving: no interpreter step for
 * wd_limit. One that is only slow (a loaded machine: every hand-off between
 * threads waiting for a CPU) keeps stepping and is left alone. */
static void *watchdog(void *arg)
{
	uint32_t last = 0;
	int64_t moved = 0;

	(void)arg;
	for (;;) {
		struct timespec ts = { 0, 100000000 };
		int64_t s, now;
		uint32_t n;

		nanosleep(&ts, NULL);
		s = __atomic_load_n(&wd_start, __ATOMIC_ACQUIRE);
		now = fz_now();
		n = __atomic_load_n(&fz_steps, __ATOMIC_RELAXED);
		if (n != last) {
			last = n;
			moved = now;
		}
		if (s && now - (moved > s ? moved : s) > wd_limit) {
			sq_harness_dump();
			fz_fail("hang", "no step of the execution for more than %llds",
				(long long)(wd_limit / 1000000000));
		}
	}
	return NULL;
}

void fz_watchdog_start(void)
{
	const char *e = getenv("FZ_WATCHDOG");
	pthread_t t;
	sigset_t all, old;

	wd_limit = (e && atoi(e) > 0 ? atoi(e) : 5) * 1000000000LL;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&t, NULL, watchdog, NULL) == 0)
		pthread_detach(t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void fz_watchdog_arm(void)
{
	__atomic_store_n(&wd_start, fz_now(), __ATOMIC_RELEASE);
}

void fz_watchdog_disarm(void)
{
	__atomic_store_n(&wd_start, 0, __ATOMIC_RELEASE);
}

/* ---- one CPU ----------------------------------------------------------------------------- */

/* An execution is a chain of hand-offs between threads (the fuzzer's, the
 * pool's, the runtime's Ms): each waits on a futex for the one before.
 * On one CPU a hand-off is a direct switch; across CPUs it is a wake-up
 * of an idle CPU, which costs several times more (in a VM, an IPI and a
 * halt exit) and the two threads then spin and sleep out of step: the
 * replay binary ran a 10-minute queue at 13,000 executions a second on
 * one CPU and 3,000 on two (docs/fuzz.md, "Measurements"). */
static int claim_cpu(const cpu_set_t *allowed)
{
	const char *dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[512];

	for (int c = 0; c < CPU_SETSIZE; c++) {
		int fd;

		if (!CPU_ISSET(c, allowed))
			continue;
		snprintf(path, sizeof path, "%s/stackquake-fuzz-cpu%d.lock", dir, c);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
		if (fd < 0)
			return -1;
		/* Held as long as this process lives: fd is never closed. */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return c;
		close(fd);
	}
	return -1;
}

int fz_one_cpu(void)
{
	const char *e = getenv("FZ_CPU");
	cpu_set_t s;
	int c;

	if (e && !strcmp(e, "any"))
		return -1;
	if (sched_getaffinity(0, sizeof s, &s) < 0)
		return -1;
	if (CPU_COUNT(&s) == 1) {
		for (c = 0; !CPU_ISSET(c, &s); c++)
			;
		return c;
	}
	if (e && *e)
		c = atoi(e);
	else if ((c = claim_cpu(&s)) < 0)
		c = sched_getcpu();
	if (c < 0 || c >= CPU_SETSIZE || !CPU_ISSET(c, &s)) {
		if (e && *e)
			fprintf(stderr, "fuzz: note: FZ_CPU=%s is not a CPU this process may use; "
				"its threads stay on every CPU\n", e);
		return -1;
	}
	CPU_ZERO(&s);
	CPU_SET(c, &s);
	return sched_setaffinity(0, sizeof s, &s) == 0 ? c : -1;
}

/* MAP_STACK: harness/stackmaps.h (shared with the scenarios' target). */
void fz_mapstack_init(void)
{
	if (!ms_init() && !getenv("FZ_QUIET"))
		fprintf(stderr, "fuzz: note: this kernel does not show MAP_STACK in smaps; "
			"the MAP_STACK invariant is checked by stackcheck only\n");
}

int fz_check_mapstack(void)
{
	return ms_check();
}

/* ---- sq_refuse: illegal programs, run in a child ------------------------------------ */

extern char **environ;

/* The child must not meet the fuzzer: no AFL++ fork-server descriptors, no
 * AFL++ shared memory, and the marker that makes it the child. */
static char **child_env(void)
{
	static char *env[512];
	int n = 0;

	for (char **e = environ; *e && n < 510; e++)
		if (strncmp(*e, "__AFL_", 6) && strncmp(*e, "AFL_", 4) &&
		    strncmp(*e, "FZ_REFUSE_CHILD=", 16))
			env[n++] = *e;
	env[n++] = "FZ_REFUSE_CHILD=1";
	env[n] = NULL;
	return env;
}

static int fd_with(const char *name, const void *data, size_t size)
{
	int fd = (int)syscall(SYS_memfd_create, name, 0);
	const uint8_t *p = data;

	if (fd < 0)
		fz_fail("harness-error", "memfd_create: %s", strerror(errno));
	while (size > 0) {
		ssize_t w = write(fd, p, size);

		if (w <= 0)
			fz_fail("harness-error", "writing the child's input: %s", strerror(errno));
		p += w;
		size -= (size_t)w;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* The first line of the child's stderr that says how it ended. */
static void child_says(const char *err, char *out, size_t max)
{
	const char *pre[] = { "fatal error: ", "fuzz: " };

	snprintf(out, max, "nothing on stderr");
	for (int k = 0; k < 2; k++)
		for (const char *p = err; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
			const char *e = strchr(p, '\n');
			int len = e ? (int)(e - p) : (int)strlen(p);

			if (!strncmp(p, pre[k], strlen(pre[k])) && strncmp(p, "fuzz: note:", 11) &&
			    strncmp(p, "fuzz: frame", 11)) {
				snprintf(out, max, "%.*s", len, p);
				return;
			}
		}
}

int fz_refuse_run(const uint8_t *data, size_t size)
{
	static fz_prog rp;
	static char err[1 << 16];
	const char *want[FZ_MAXOPS];
	char *argv[] = { "sq_refuse-child", NULL }, says[300], what[64];
	posix_spawn_file_actions_t fa;
	int nwant = 0, in, out, status, ok = 0;
	int64_t deadline;
	ssize_t nerr;
	pid_t pid;

	fz_decode(data, size, &rp, FZ_REFUSE);
	if (!rp.illegal)
		return 0;
	for (int i = 0; i < rp.nnode; i++)
		if (fz_refusal(&rp, &rp.node[i]))
			want[nwant++] = fz_refusal(&rp, &rp.node[i]);
	in = fd_with("fz-input", data, size);
	out = fd_with("fz-stderr", "", 0);
	/* AFL++'s fork-server pipes (198, 199) stay with us. */
	fcntl(198, F_SETFD, FD_CLOEXEC);
	fcntl(199, F_SETFD, FD_CLOEXEC);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 3);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, out, 2);
	if ((errno = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, child_env())) != 0)
		fz_fail("harness-error", "cannot start the child: %s", strerror(errno));
	posix_spawn_file_actions_destroy(&fa);
	close(in);
	/* The child's watchdog ends a hang in seconds; this is the backstop. */
	deadline = fz_now() + 30 * 1000000000LL;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (fz_now() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		nanosleep(&(struct timespec){ 0, 100000 }, NULL);
	}
	nerr = pread(out, err, sizeof err - 1, 0);
	close(out);
	err[nerr > 0 ? nerr : 0] = 0;
	child_says(err, says, sizeof says);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		ok = 1;	/* no illegal operation was reached */
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && !strncmp(says, "fatal error: ", 13))
		for (int i = 0; i < nwant; i++)
			if (!strcmp(says + 13, want[i]))
				ok = 1;
	if (ok)
		return 1;
	/* Show the child's report, marked so that it is not taken for ours. */
	for (char *p = err; *p; ) {
		char *e = strchr(p, '\n');
		int len = e ? (int)(e - p) : (int)strlen(p);

		fprintf(stderr, "child| %.*s\n", len, p);
		p += len + (e != NULL);
	}
	if (WIFSIGNALED(status))
		snprintf(what, sizeof what, "died of signal %d", WTERMSIG(status));
	else
		snprintf(what, sizeof what, "exited %d", WEXITSTATUS(status));
	fz_fail("wrong-result", "expected \"%s\"; the child %s: %s", want[0], what, says);
}
