/*
 * rt_callback.c: foreign threads calling in, and signals around them.
 *
 * The process's main thread stays foreign (sq_init, no sq_main) except in
 * the tests that need a G to start from.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <sched.h>
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

/* Frames with a split check each, until a guard says no more. */
__attribute__((noinline)) static long recurse_usr2(long n)
{
	volatile char pad[256];

	pad[0] = (char)n;
	if (n == 0)
		return pad[0];
	return recurse_usr2(n - 1) + pad[0];
}

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

/* ---- deadlock while foreign threads exist ------------------------------- */

static sq_chan *latech;
static volatile int latedone;

static int late_send(void *arg)
{
	return sq_chan_send(latech, 42);
}

/* A C thread that calls in a moment after it starts: by then the main G
 * is blocked on the channel and every M is idle. */
static void *late_caller(void *arg)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	sq_callback(late_send, NULL);
	latedone = 1;
	return NULL;
}

static pthread_t latethread;

static int start_late_caller(void *arg)
{
	return pthread_create(&latethread, NULL, late_caller, NULL);
}

static int join_late_caller(void *arg)
{
	return pthread_join(latethread, NULL);
}

/* The main G starts a C thread (from C run by sq_ccall; with ARG "direct",
 * straight from the G) and blocks until it calls in: no deadlock. */
static int test_late_caller(void *unused)
{
	uintptr_t v = 0;

	latech = sq_chan_new(0);
	if (rt_arg && strcmp(rt_arg, "direct") == 0)
		start_late_caller(NULL);
	else
		sq_ccall(start_late_caller, NULL);
	if (sq_chan_recv(latech, &v) != 0 || v != 42)
		return rt_fail("the late caller's value did not arrive");
	sq_ccall(join_late_caller, NULL);
	return latedone ? rt_pass() : rt_fail("the late caller did not finish");
}

/* ---- a thread's own signal stack ----------------------------------------- */

enum { OWNSTACK = 64 << 10 };
static long ownbad, ownsig;

static void *ownstack(void)
{
	void *p = mmap(NULL, OWNSTACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void install_own(void *p)
{
	stack_t st = { .ss_sp = p, .ss_size = OWNSTACK };

	sigaltstack(&st, NULL);
}

static int is_own(void *p)
{
	stack_t st;

	sigaltstack(NULL, &st);
	return !(st.ss_flags & SS_DISABLE) && st.ss_sp == p && st.ss_size == OWNSTACK;
}

static void tgkill_self(int sig)
{
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
	__atomic_add_fetch(&ownsig, 1, __ATOMIC_RELAXED);
}

static int own_cb(void *arg)
{
	tgkill_self(SIGURG);	/* the runtime's, on whatever stack the thread has */
	tgkill_self(SIGPROF);
	return 7;
}

/* Each thread has a signal stack of its own, calls in, and between
 * callbacks now and then puts in another one of its own and takes signals
 * there. Whatever it installed last must be installed after each callback
 * and at the end, bound or not. */
static void *own_thread(void *arg)
{
	long n = (long)arg;
	void *a = ownstack(), *b = ownstack(), *cur = a;

	if (!a || !b)
		return (void *)1;
	install_own(cur);
	for (long i = 0; i < n; i++) {
		if (sq_callback(own_cb, NULL) != 7)
			return (void *)1;
		if (!is_own(cur))
			__atomic_add_fetch(&ownbad, 1, __ATOMIC_RELAXED);
		if (i % 16 == 15) {
			cur = cur == a ? b : a;
			install_own(cur);
			tgkill_self(SIGPROF);
			tgkill_self(SIGURG);
		}
	}
	return NULL;
}

/* Four threads run fn(n) while the runtime profiles; whether one failed. */
static int own_threads(void *(*fn)(void *), long n)
{
	pthread_t t[4];
	void *ret;
	int bad = 0;

	sq_setprofile(2000);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, fn, (void *)n);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &ret);
		bad |= ret != NULL;
	}
	sq_setprofile(0);
	return bad;
}

static int test_own_sigstack(void *unused)
{
	long n = rt_argl(2000);
	int bad;

	sq_init();
	bad = own_threads(own_thread, n);
	fprintf(stderr, "[rt] OWNSTACK calls=%ld signals=%ld replaced=%ld\n", 4 * n, ownsig, ownbad);
	if (bad)
		return rt_fail("a callback failed");
	if (ownbad)
		return rt_fail("a thread's own signal stack was not installed after a callback");
	if (sq_check(1))
		return rt_fail("invariants");
	return rt_pass();
}

/* On a thread with a signal stack of its own, a handler of the program's
 * that recurses without end runs out of that stack: the runtime must say
 * so with that stack's bounds (gsignal follows the stack in use). With
 * ARG "reinstall" the thread puts in another one between two callbacks. */
static int raise_usr2(void *arg)
{
	raise(SIGUSR2);
	return 0;
}

static int nothing(void *arg)
{
	return 0;
}

static void *bounds_thread(void *arg)
{
	void *p = ownstack();

	install_own(p);
	if (arg) {
		sq_callback(nothing, NULL);
		p = ownstack();
		install_own(p);
	}
	fprintf(stderr, "[rt] ALTSTACK 0x%lx 0x%lx\n", (unsigned long)p, (unsigned long)p + OWNSTACK);
	sq_callback(raise_usr2, NULL);
	return NULL;
}

static int test_own_sigstack_bounds(void *unused)
{
	pthread_t t;

	sq_init();
	pthread_create(&t, NULL, bounds_thread, (void *)(long)(rt_arg && !strcmp(rt_arg, "reinstall")));
	pthread_join(t, NULL);
	return rt_fail("the runtime did not stop this");
}

/* A bound thread takes its own signal stack away between callbacks and
 * takes signals on the stack it is on, as Rust's std does at thread exit
 * (its TLS destructor runs before the key destructor that detaches the
 * M). The signals are handled there: the runtime's SIGURG and SIGPROF
 * (profiling on: an external sample), and SIGUSR1 goes to the host's
 * handler. It calls in again only with a new one in place (a thread that
 * calls in with none leaves the runtime no stack for a signal that lands
 * on the G's: fatal, as in Go), and exits still bound. */
static long gonehost;

static void gone_usr1(int sig)
{
	__atomic_add_fetch(&gonehost, 1, __ATOMIC_RELAXED);
}

static void *gone_thread(void *arg)
{
	long n = (long)arg;
	stack_t off = { .ss_flags = SS_DISABLE };
	void *p;

	for (long i = 0; i < n; i++) {
		if (!(p = ownstack()))
			return (void *)1;
		install_own(p);
		if (sq_callback(own_cb, NULL) != 7)
			return (void *)1;
		sigaltstack(&off, NULL);
		munmap(p, OWNSTACK);
		tgkill_self(SIGURG);
		tgkill_self(SIGPROF);
		tgkill_self(SIGUSR1);
	}
	return NULL;
}

static int test_own_sigstack_gone(void *unused)
{
	long n = rt_argl(200);
	int bad;

	signal(SIGUSR1, gone_usr1);
	sq_init();
	bad = own_threads(gone_thread, n);
	fprintf(stderr, "[rt] GONE rounds=%ld signals=%ld host-usr1=%ld\n", 4 * n, ownsig, gonehost);
	if (bad)
		return rt_fail("a callback failed");
	if (gonehost != 4 * n)
		return rt_fail("the host's SIGUSR1 handler missed signals");
	if (sq_check(1))
		return rt_fail("invariants");
	return rt_pass();
}

/* ---- a thread back in C between two callbacks ---------------------------- */

static sem_t incgo, inagain;

static void *between_thread(void *arg)
{
	sq_callback(nothing, NULL);
	sem_post(&incgo);
	sem_wait(&inagain);
	sq_callback(nothing, NULL);
	return NULL;
}

/* A thread makes a callback, returns to its own C and waits there; then it
 * makes a second one and exits. While it waits, its callback G (bound: in
 * its window, as Go's extra M's goroutine) is no goroutine: sq_stats counts
 * none and the quiescent check finds nothing. After the exit (bound: the
 * key's destructor detaches) the M is free and its G dead. With ARG "dump",
 * the runtime's dump while the thread waits. */
static int test_between_callbacks(void *unused)
{
	pthread_t t;
	sq_stats st;
	int mid, after;

	sq_init();
	sem_init(&incgo, 0, 0);
	sem_init(&inagain, 0, 0);
	pthread_create(&t, NULL, between_thread, NULL);
	sem_wait(&incgo);
	sq_stats_get(&st);
	mid = sq_check(1);
	if (rt_arg && strcmp(rt_arg, "dump") == 0)
		sq_harness_dump();
	sem_post(&inagain);
	pthread_join(t, NULL);
	after = sq_check(1);
	fprintf(stderr, "[rt] BETWEEN gcount=%lld check=%d after=%d extram_total=%lld\n",
		(long long)st.gcount, mid, after, (long long)st.extram_total);
	if (st.gcount != 0)
		return rt_fail("a thread's callback G counted as a goroutine between callbacks");
	return mid || after ? rt_fail("invariants") : rt_pass();
}

/* ---- sq_check(0) while other threads attach ------------------------------ */

static volatile int checking;

static void *churn(void *arg)
{
	while (checking)
		sq_callback(count, NULL);
	return NULL;
}

static int test_check_attach(void *unused)
{
	pthread_t t[4];
	long n = rt_argl(20000), bad = 0;

	setenv("SQ_CALLBACK_BIND", "0", 1);
	sq_init();
	checking = 1;
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn, NULL);
	for (long i = 0; i < n || __atomic_load_n(&ncalls, __ATOMIC_RELAXED) < n; i++) {
		bad += sq_check(0) != 0;
		if (i % 16 == 0)
			sched_yield();	/* the lock it takes must not starve the attachers */
	}
	checking = 0;
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	fprintf(stderr, "[rt] CHECKS %ld while attaching: %ld with violations, calls=%ld\n", n, bad, ncalls);
	return bad ? rt_fail("sq_check(0) reported violations that are not") : rt_pass();
}

/* ---- SIGPROF on threads that never called in ----------------------------- */

static volatile int cspin = 1;

static void *c_only(void *arg)
{
	while (cspin)
		__asm__ volatile("" ::: "memory");
	return NULL;
}

static int test_prof_external(void *unused)
{
	pthread_t t;
	sq_stats st;

	sq_init();
	pthread_create(&t, NULL, c_only, NULL);
	sq_setprofile(1000);
	do {
		for (volatile int i = 0; i < 1000000; i++)
			;
		sq_stats_get(&st);
	} while (st.nprofext < 10);
	sq_setprofile(0);
	cspin = 0;
	pthread_join(t, NULL);
	fprintf(stderr, "[rt] PROFEXT samples=%lld external=%lld\n", (long long)st.nprof,
		(long long)st.nprofext);
	return rt_pass();
}

/* ---- the host's handlers ------------------------------------------------- */

static long hosturg, hostprof;

static void host_handler(int sig, siginfo_t *si, void *uc)
{
	__atomic_add_fetch(sig == SIGURG ? &hosturg : &hostprof, 1, __ATOMIC_RELAXED);
}

static volatile int32_t boundtid;
static volatile int hoststop;

static int spin_cb(void *arg)
{
	for (volatile long i = 0; i < 20000; i++)
		;
	return 0;
}

static void *bound_caller(void *arg)
{
	boundtid = (int32_t)syscall(SYS_gettid);
	while (!hoststop)
		sq_callback(spin_cb, NULL);
	return NULL;
}

/* Handlers installed before the runtime for SIGURG and SIGPROF get those
 * signals on a thread attached to the runtime (bound: g is set between
 * callbacks, and in them): every SIGURG (the runtime's own requests too:
 * one coalesces with a host's, and the host's must not be lost), SIGPROF
 * while the runtime is not profiling. */
static int test_host_handlers(void *unused)
{
	struct sigaction sa = { 0 };
	pthread_t t;
	long urg, prof, during;
	sq_stats st;

	sa.sa_sigaction = host_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigaction(SIGURG, &sa, NULL);
	sigaction(SIGPROF, &sa, NULL);
	sq_init();
	pthread_create(&t, NULL, bound_caller, NULL);
	while (!boundtid)
		sched_yield();
	/* One at a time, each waited for: none coalesces with the next, and
	 * none is still on its way when profiling starts (a late one would
	 * count as misrouted). A signal the runtime lost hangs here. */
	for (int i = 0; i < 200; i++) {
		long *n = i % 2 ? &hosturg : &hostprof;
		long before = __atomic_load_n(n, __ATOMIC_RELAXED);

		syscall(SYS_tgkill, getpid(), boundtid, i % 2 ? SIGURG : SIGPROF);
		while (__atomic_load_n(n, __ATOMIC_RELAXED) == before)
			sched_yield();
	}
	urg = hosturg;
	prof = hostprof;
	/* Profiling: SIGPROF is the runtime's and goes to no one else. What
	 * the host's handler saw is read while profiling is still on: a
	 * SIGPROF sent (or a timer tick raised) just before profiling stops
	 * may arrive after it, and is the host's by then. */
	sq_setprofile(1000);
	do {
		syscall(SYS_tgkill, getpid(), boundtid, SIGPROF);
		usleep(100);
		sq_stats_get(&st);
	} while (st.nprof + st.nprofext < 20);
	during = __atomic_load_n(&hostprof, __ATOMIC_RELAXED);
	sq_setprofile(0);
	hoststop = 1;
	pthread_join(t, NULL);
	fprintf(stderr, "[rt] HOST urg=%ld prof=%ld prof-while-profiling=%ld samples=%lld+%lld\n", urg,
		prof, during - prof, (long long)st.nprof, (long long)st.nprofext);
	if (during != prof)
		return rt_fail("SIGPROF went to the host's handler while the runtime profiled");
	return rt_pass();
}

/* A real fault in the thread's own C, outside any callback, on a thread
 * still bound to its M: the host's SIGSEGV handler gets it, as it would on
 * a thread that never called in. With ARG "nohandler", there is none: the
 * default action, with a line saying what it was. */
static void host_segv(int sig)
{
	static const char msg[] = "[rt] HOST SIGSEGV\n";

	(void)!write(2, msg, sizeof msg - 1);
	_exit(7);
}

static int *volatile nullp;

static void *fault_after(void *arg)
{
	sq_callback(count, NULL);
	*nullp = 1;
	return NULL;
}

static int test_fault_bound(void *unused)
{
	pthread_t t;

	if (!rt_arg || strcmp(rt_arg, "nohandler"))
		signal(SIGSEGV, host_segv);
	sq_init();
	pthread_create(&t, NULL, fault_after, NULL);
	pthread_join(t, NULL);
	return rt_fail("the fault went nowhere");
}

/* A crash signal sent with tgkill is no fault: the runtime says who sent
 * it, dumps, and ends the process with the signal's default action. ARG:
 * the signal number (default SIGSEGV). */
static int test_sent_crash(void *unused)
{
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), (int)rt_argl(SIGSEGV));
	return rt_fail("the process survived the signal");
}

/* ---- a callback's G is locked to its thread ------------------------------ */

static sq_chan *lockch;
static long lockbad;

static int lock_feeder(void *arg)
{
	for (int i = 0; i < 200; i++)
		sq_chan_send(lockch, (uintptr_t)i);
	return 0;
}

/* Inside a callback: the G blocks and is woken by others, yet stays on the
 * thread's M; it locks twice and unlocks once, and the count it leaves
 * ends with the callback (the next one starts at 0). */
static int locked_cb(void *arg)
{
	int64_t mid = sq_mid();
	uintptr_t v;

	if (sq_harness_lockcount() != 0)
		__atomic_add_fetch(&lockbad, 1, __ATOMIC_RELAXED);
	sq_lockosthread();
	sq_lockosthread();
	sq_chan_recv(lockch, &v);
	sq_yield();
	sq_unlockosthread();
	if (sq_mid() != mid || sq_harness_lockcount() != 1)
		__atomic_add_fetch(&lockbad, 1, __ATOMIC_RELAXED);
	return 9;
}

static int spawn_feeder(void *arg)
{
	sq_spawn(lock_feeder, NULL);
	return 0;
}

static int test_callback_lock(void *unused)
{
	sq_init();
	lockch = sq_chan_new(0);
	sq_callback(spawn_feeder, NULL);
	for (int i = 0; i < 200; i++)
		if (sq_callback(locked_cb, NULL) != 9)
			return rt_fail("callback result");
	fprintf(stderr, "[rt] CBLOCK bad=%ld\n", lockbad);
	if (lockbad)
		return rt_fail("a callback's G left its M, or its lock count outlived it");
	return rt_pass();
}

static const rt_case cases[] = {
	{ "callback-lock", test_callback_lock, 0, "a callback's G is locked to its thread; a count it leaves ends with it" },
	{ "late-caller", test_late_caller, 1, "[direct] the main G waits for a C thread that calls in later" },
	{ "own-sigstack", test_own_sigstack, 0, "[N] threads with signal stacks of their own keep them" },
	{ "own-sigstack-gone", test_own_sigstack_gone, 0, "[N] bound threads take their own signal stack away between callbacks, then take signals" },
	{ "own-sigstack-bounds", test_own_sigstack_bounds, 0, "[reinstall] gsignal takes the bounds of the thread's own stack: fatal" },
	{ "between-callbacks", test_between_callbacks, 0, "[dump] a thread in its own C between two callbacks: no goroutine, no violation" },
	{ "check-attach", test_check_attach, 0, "[N] sq_check(0) while threads attach and detach" },
	{ "prof-external", test_prof_external, 0, "SIGPROF on a thread that never called in is counted" },
	{ "host-handlers", test_host_handlers, 0, "the host's SIGURG and SIGPROF handlers on an attached thread" },
	{ "fault-bound", test_fault_bound, 0, "[nohandler] a fault in a bound thread's own C goes to the host" },
	{ "sent-crash", test_sent_crash, 1, "[SIG] a sent crash signal is said to be sent, then its default action" },
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

static void deep_usr2(int sig)
{
	recurse_usr2(1 << 20);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { 0 };

	sa.sa_handler = usr1_where;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = deep_usr2;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR2, &sa, NULL);
	return rt_main(argc, argv, cases);
}
