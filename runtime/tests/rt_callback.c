/*
 * rt_callback.c: foreign threads calling in, and signals around them.
 *
 * The process's main thread stays foreign (sq_init, no sq_main) except in
 * the tests that need a G to start from.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "rt_test.h"

#include "fcontext.h"

enum { NTHREADS = 8, NCALLS = 10000, BIGSTACK = 4 << 20 };

/* musl declares getcontext/makecontext/swapcontext but implements none:
 * there the ucontext steps are skipped (with a [rt] SKIP line saying so),
 * and ccall-switch leaves its outcall through fcontext instead. */
#ifdef __GLIBC__
#define HAVE_UCONTEXT 1
#else
#define HAVE_UCONTEXT 0
#endif

static long ncalls;

static int count(void *arg)
{
	__atomic_add_fetch(&ncalls, 1, __ATOMIC_RELAXED);
	return 7;
}

/* Some callbacks do runtime things: a syscall window, a yield. */
static int busy(void *arg)
{
	long i = (long)arg;

	if (i % 64 == 0)
		sq_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
	if (i % 256 == 0)
		sq_yield();
	return count(arg);
}

static int sigmask_differs(const sigset_t *a, const sigset_t *b)
{
	for (int s = 1; s < 65; s++)
		if (sigismember(a, s) != sigismember(b, s))
			return s;
	return 0;
}

static long nbadmask;

static void *caller(void *arg)
{
	long n = (long)arg;
	sigset_t before, after;

	pthread_sigmask(SIG_SETMASK, NULL, &before);
	for (long i = 0; i < n; i++)
		if (sq_callback(busy, (void *)i) != 7)
			return (void *)1;
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	if (sigmask_differs(&before, &after))
		__atomic_add_fetch(&nbadmask, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* 8 threads x N callbacks; masks kept; every extra M back on the list. */
static int test_threads(void *unused)
{
	pthread_t t[NTHREADS];
	long n = rt_argl(NCALLS);
	sigset_t odd;
	sq_stats st;
	void *ret;
	int i, bad = 0;

	sq_init();
	/* Give half the threads a non-default mask to keep. */
	sigemptyset(&odd);
	sigaddset(&odd, SIGWINCH);
	for (i = 0; i < NTHREADS; i++) {
		if (i % 2)
			pthread_sigmask(SIG_BLOCK, &odd, NULL);
		pthread_create(&t[i], NULL, caller, (void *)n);
		if (i % 2)
			pthread_sigmask(SIG_UNBLOCK, &odd, NULL);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], &ret);
		bad |= ret != NULL;
	}
	sq_stats_get(&st);
	fprintf(stderr, "[rt] CALLBACKS calls=%ld extram=%lld extram_total=%lld badmask=%ld\n",
		ncalls, (long long)st.extram, (long long)st.extram_total, nbadmask);
	if (bad || ncalls != NTHREADS * n)
		return rt_fail("callbacks lost or failed");
	if (nbadmask)
		return rt_fail("a thread's signal mask changed");
	if (st.extram != st.extram_total)
		return rt_fail("extra Ms not back on the list");
	if (sq_check(1))
		return rt_fail("invariants");
	return rt_pass();
}

/* ---- stack switching between callbacks -------------------------------- */

static ucontext_t uc_main, uc_co[2];
static fcontext_t fc_main;
static int switchfail;

static void callin(const char *from)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);

	fprintf(stderr, "[rt] CALLBACK from=%s sp=0x%lx\n", from, (unsigned long)sp);
	if (sq_callback(count, NULL) != 7)
		switchfail = 1;
}

static void uc_entry(int which)
{
	callin(which ? "ucontext-2" : "ucontext-1");
	swapcontext(&uc_co[which], &uc_main);
}

static void fc_entry(transfer_t t)
{
	fc_main = t.fctx;
	callin((const char *)t.data);
	jump_fcontext(fc_main, NULL);
}

static void *bigstack(void)
{
	return malloc(BIGSTACK);
}

static void *switcher(void *unused)
{
	int i;

	callin("pthread");
	if (HAVE_UCONTEXT) {
		for (i = 0; i < 2; i++) {
			getcontext(&uc_co[i]);
			uc_co[i].uc_stack.ss_sp = bigstack();
			uc_co[i].uc_stack.ss_size = BIGSTACK;
			uc_co[i].uc_link = &uc_main;
			makecontext(&uc_co[i], (void (*)(void))uc_entry, 1, i);
			swapcontext(&uc_main, &uc_co[i]);
		}
	} else {
		fprintf(stderr, "[rt] SKIP ucontext: this libc has no getcontext/makecontext/swapcontext\n");
	}
	for (i = 0; i < 2; i++) {
		char *stk = bigstack();
		fcontext_t fc = make_fcontext(stk + BIGSTACK, BIGSTACK, fc_entry);

		jump_fcontext(fc, i ? "boost-2" : "boost-1");
	}
	callin("pthread-again");
	return NULL;
}

/* The shape of Go's TestStackSwitchCallback. */
static int test_stackswitch(void *unused)
{
	pthread_t t;

	sq_init();
	pthread_create(&t, NULL, switcher, NULL);
	pthread_join(t, NULL);
	if (switchfail || ncalls != (HAVE_UCONTEXT ? 6 : 4))
		return rt_fail("callbacks from switched stacks failed");
	if (sq_check(1))
		return rt_fail("invariants");
	return rt_pass();
}

/* ---- callbacks inside sq_ccall ---------------------------------------- */

static ucontext_t cc_main, cc_co;

/* The C side of an outcall is plain C: no split checks (this file is
 * compiled with them, for its G code). */
#define C_CODE __attribute__((no_instrument_function, no_split_stack))

C_CODE static void cc_entry(void)
{
	sq_callback(count, NULL);	/* runtime frames are up the other stack */
	swapcontext(&cc_co, &cc_main);
}

C_CODE static void cc_fc_entry(transfer_t t)
{
	sq_callback(count, NULL);	/* the same, from an fcontext stack */
	jump_fcontext(t.fctx, NULL);
}

C_CODE static int ccall_switch(void *arg)
{
	if (HAVE_UCONTEXT) {
		getcontext(&cc_co);
		cc_co.uc_stack.ss_sp = bigstack();
		cc_co.uc_stack.ss_size = BIGSTACK;
		makecontext(&cc_co, cc_entry, 0);
		swapcontext(&cc_main, &cc_co);
	} else {
		jump_fcontext(make_fcontext((char *)bigstack() + BIGSTACK, BIGSTACK, cc_fc_entry), NULL);
	}
	return 0;
}

static int test_ccall_switch(void *unused)
{
	sq_ccall(ccall_switch, NULL);
	return rt_fail("the runtime did not stop this");
}

static sq_chan *nestch;

static int nested_fn(void *arg)
{
	/* Back on the G that made the sq_ccall: it may block and spawn. */
	sq_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
	sq_chan_send(nestch, (uintptr_t)arg);
	return 5;
}

static int ccall_then_callback(void *arg)
{
	return sq_callback(nested_fn, arg) + 1;
}

static int receiver(void *arg)
{
	uintptr_t v;

	for (int i = 0; i < 1000; i++)
		sq_chan_recv(nestch, &v);
	sq_wg_done(arg);
	return 0;
}

/* G -> C -> callback on the same G, 1000 times, the callback blocking. */
static int test_nested(void *unused)
{
	sq_wg *wg = sq_wg_new();

	nestch = sq_chan_new(0);
	sq_wg_add(wg, 1);
	sq_spawn(receiver, wg);
	for (long i = 0; i < 1000; i++)
		if (sq_ccall(ccall_then_callback, (void *)i) != 6)
			return rt_fail("nested callback result");
	sq_wg_wait(wg);
	return rt_pass();
}

/* ---- a callback that blocks on a G ------------------------------------ */

static sq_chan *blockch;

static int block_recv(void *arg)
{
	uintptr_t v;

	sq_chan_recv(blockch, &v);
	return (int)v;
}

static int block_send(void *arg)
{
	for (int i = 0; i < 1000; i++)
		sq_chan_send(blockch, 3);
	return 0;
}

static int spawn_sender(void *arg)
{
	sq_spawn(block_send, NULL);
	return 0;
}

static int test_blocking_callback(void *unused)
{
	sq_init();
	blockch = sq_chan_new(0);
	sq_callback(spawn_sender, NULL);
	for (int i = 0; i < 1000; i++)
		if (sq_callback(block_recv, NULL) != 3)
			return rt_fail("blocked callback got the wrong value");
	return rt_pass();
}

/* ---- attach/detach under a signal storm ------------------------------- */

static volatile int32_t tids[NTHREADS];
static volatile int storm_stop;
static long nusr1;
static long stormsent;

static void on_usr1(int sig)
{
	__atomic_add_fetch(&nusr1, 1, __ATOMIC_RELAXED);
}

static void *storm(void *unused)
{
	static const int sigs[] = { SIGURG, SIGPROF, SIGUSR1 };
	pid_t pid = getpid();
	long k = 0;

	while (!storm_stop) {
		for (int i = 0; i < NTHREADS; i++) {
			int32_t tid = tids[i];

			if (tid > 0 && syscall(SYS_tgkill, pid, tid, sigs[k++ % 3]) == 0)
				stormsent++;
		}
	}
	return NULL;
}

static void *attacher(void *arg)
{
	long i, n = (long)arg;
	int slot = (int)(n >> 32);

	n &= 0xffffffff;
	tids[slot] = (int32_t)syscall(SYS_gettid);
	for (i = 0; i < n; i++)
		sq_callback(count, NULL);
	tids[slot] = 0;
	return NULL;
}

static int test_attach_storm(void *unused)
{
	long total = rt_argl(100000), per = total / 4;
	pthread_t t[4], s;
	struct sigaction sa = { 0 };

	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);	/* before the runtime: it must keep working */
	setenv("SQ_CALLBACK_BIND", "0", 1);
	sq_init();
	pthread_create(&s, NULL, storm, NULL);
	for (long i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, attacher, (void *)((i << 32) | per));
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	storm_stop = 1;
	pthread_join(s, NULL);
	fprintf(stderr, "[rt] STORM cycles=%ld signals=%ld usr1=%ld badsignals=%llu\n",
		ncalls, stormsent, nusr1, (unsigned long long)sq_badsignals());
	if (ncalls != 4 * per)
		return rt_fail("callbacks lost");
	if (sq_check(1))
		return rt_fail("invariants");
	return rt_pass();
}

/* ---- signals ---------------------------------------------------------- */

static volatile int usr1_on_gsignal;

static void usr1_where(int sig)
{
	nusr1++;
	usr1_on_gsignal = 1;
}

/* A handler installed before the runtime keeps running for its signal. */
static int test_forward(void *unused)
{
	raise(SIGUSR1);
	if (nusr1 != 1)
		return rt_fail("the program's SIGUSR1 handler did not run");
	return rt_pass();
}

__attribute__((noinline)) static void spinwork(void)
{
	__asm__ volatile("" ::: "memory");
}

static int test_prof(void *unused)
{
	sq_stats st;
	int64_t end;

	sq_setprofile(1000);
	do {
		for (int i = 0; i < 100000; i++)
			spinwork();
		sq_stats_get(&st);
	} while (st.nprof < 20);
	sq_setprofile(0);
	fprintf(stderr, "[rt] PROF samples=%lld\n", (long long)st.nprof);
	(void)end;
	return rt_pass();
}

static const rt_case cases[] = {
	{ "threads", test_threads, 0, "[N] 8 C threads x N callbacks (SQ_CALLBACK_BIND decides binding)" },
	{ "stackswitch", test_stackswitch, 0, "callbacks from pthread, ucontext and Boost.Context stacks" },
	{ "ccall-switch", test_ccall_switch, 1, "callback inside sq_ccall after a stack switch: fatal" },
	{ "nested", test_nested, 1, "G -> sq_ccall -> C -> sq_callback on the same G" },
	{ "blocking-callback", test_blocking_callback, 0, "callbacks that block on channels" },
	{ "attach-storm", test_attach_storm, 0, "[N] N unbound attach/detach cycles under a signal storm" },
	{ "forward", test_forward, 1, "a SIGUSR1 handler from before the runtime still runs" },
	{ "prof", test_prof, 1, "SIGPROF samples are counted per M" },
	{ NULL, NULL, 0, NULL },
};

int main(int argc, char **argv)
{
	struct sigaction sa = { 0 };

	sa.sa_handler = usr1_where;
	sigaction(SIGUSR1, &sa, NULL);
	return rt_main(argc, argv, cases);
}
