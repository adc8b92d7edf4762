// sp_attach: a hand-rolled attach/detach window, over and over, with no
// runtime: sigpoke's own test target.
//
// A thread attaches the way a green-thread runtime's needm does: it points
// its TLS pointer curm at its per-thread state (an m), then installs that
// m's alternate signal stack. It detaches in the reverse order. The handler
// (SIGURG and SIGPROF, SA_ONSTACK) checks the invariant a runtime's handler
// relies on:
//
//     curm != NULL  =>  the handler runs on curm's signal stack
//
// Between the store of curm and the end of the sigaltstack call (attach),
// and between the sigaltstack call and the store clearing curm (detach),
// the invariant does not hold: a signal that lands there finds it broken,
// unless signals are blocked across both windows (Go's fix in needm and
// dropm). This file is built twice:
//
//   sp_attach_blocked  SP_BLOCK=1: all signals blocked across both windows;
//                      a sweep of attach,detach finds no unsafe instruction,
//                      and a signal sent inside a window is deferred to the
//                      pthread_sigmask that ends it
//   sp_attach_open     SP_BLOCK=0: a sweep finds exactly the instructions
//                      after the store of curm up to the sigaltstack call
//                      (attach), and after the sigaltstack call up to the
//                      store that clears curm (detach)
//
// One worker thread, named sp-attach, runs attach, a little work and
// detach in a loop; the main thread only waits for it. What the handler
// does on finding the invariant broken is the first argument, so that
// sigpoke's tests see every way a poked program can end:
//
//   fatal  "fatal error: signal arrived with curm set but off its signal
//          stack", exit 2 (the default; the runtime's convention)
//   crash  killed by SIGABRT
//   exit   exit 1, no fatal error
//   hang   the handler never returns
//
// usage: sp_attach_{blocked,open} [fatal|crash|exit|hang] [N]
//        N attach/detach rounds, then exit 0 (default 0: until killed)
// stderr: "[sp_attach] START pid=P mode=M block=B n=N" first, and
// "[sp_attach] DONE n=N" at a normal end.
// Exit: 0 done, 1 exit mode, 2 fatal error, 64 usage, 70 a setup call failed.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef SP_BLOCK
#error "build with -DSP_BLOCK=1 (signals blocked across the windows) or -DSP_BLOCK=0"
#endif

enum { BLOCK = SP_BLOCK, SIGSTACK = 64 * 1024, USAGE = 64, SETUP = 70 };
enum mode { FATAL, CRASH, EXIT, HANG };

static const char *const modes[] = { "fatal", "crash", "exit", "hang", NULL };

struct m {
	char *sigstack;         // MAP_STACK memory for the signal stack
	size_t size;
};

static enum mode mode;
static long rounds;
static volatile unsigned long work;
// The worker's m, and curm: the TLS pointer the handler trusts. Both
// initial-exec (here: local-exec), so reading curm in a handler is one
// %fs-relative load, async-signal-safe.
static __thread struct m self __attribute__((tls_model("initial-exec")));
static __thread struct m *curm __attribute__((tls_model("initial-exec")));

// setcurm is always inlined, into attach and into detach: sigpoke's tests
// sweep its inlined copies (-w setcurm) by their DWARF inline records.
static inline __attribute__((always_inline)) void setcurm(struct m *m)
{
	curm = m;
}

static void setupfailed(const char *what)
{
	fprintf(stderr, "[sp_attach] SETUP-FAILED %s\n", what);
	_exit(SETUP);
}

// broken is what the handler does on a broken invariant: it never returns.
// Async-signal-safe (write, raise, _exit, pause).
static void broken(void)
{
	static const char msg[] =
	    "fatal error: signal arrived with curm set but off its signal stack\n";

	switch (mode) {
	case FATAL:
		if (write(2, msg, sizeof msg - 1) != (ssize_t)(sizeof msg - 1))
			_exit(SETUP);
		_exit(2);
	case CRASH:
		signal(SIGABRT, SIG_DFL);
		raise(SIGABRT);
		_exit(SETUP);
	case EXIT:
		_exit(1);
	case HANG:
		for (;;)
			pause();
	}
}

// handler checks the invariant by where its own frame is: a thread with an
// m must be on that m's signal stack. With no m the signal is not ours to
// judge (a runtime would forward it) and returns at once.
static void handler(int sig, siginfo_t *si, void *uc)
{
	uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
	struct m *m = curm;

	(void)sig;
	(void)si;
	(void)uc;
	if (m == NULL)
		return;
	if (fp >= (uintptr_t)m->sigstack && fp < (uintptr_t)m->sigstack + m->size)
		return;
	broken();
}

// attach makes the calling thread's m current: curm first, then its signal
// stack. Without the blocked signals a handler that runs in between sees an
// m and no signal stack. Out of line and argument-free: its instructions
// are the window sigpoke sweeps, with no clone for the compiler to make.
__attribute__((noinline)) void attach(void)
{
	sigset_t all, old;
	stack_t ss = { .ss_sp = self.sigstack, .ss_size = self.size };

	if (BLOCK) {
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
	}
	setcurm(&self);
	// Checked, so that the call is a call (not a tail jump) and the
	// window ends at its return.
	if (sigaltstack(&ss, NULL) != 0)
		setupfailed("sigaltstack");
	if (BLOCK)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
}

// detach undoes attach in the reverse order: the signal stack first, then
// curm. The same hazard in between.
__attribute__((noinline)) void detach(void)
{
	sigset_t all, old;
	stack_t off = { .ss_flags = SS_DISABLE };

	if (BLOCK) {
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
	}
	if (sigaltstack(&off, NULL) != 0)
		setupfailed("sigaltstack");
	setcurm(NULL);
	if (BLOCK)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void *worker(void *arg)
{
	(void)arg;
	// Named here, before the first attach: sigpoke -c sp-attach picks it.
	pthread_setname_np(pthread_self(), "sp-attach");
	self.size = SIGSTACK;
	self.sigstack = mmap(NULL, SIGSTACK, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (self.sigstack == MAP_FAILED)
		setupfailed("mmap");
	for (long i = 0; rounds == 0 || i < rounds; i++) {
		attach();
		for (int k = 0; k < 16; k++)
			work++;
		detach();
	}
	return NULL;
}

static void onsignals(void)
{
	struct sigaction sa = { .sa_sigaction = handler, .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGURG, &sa, NULL) != 0 || sigaction(SIGPROF, &sa, NULL) != 0)
		setupfailed("sigaction");
}

static int usage(const char *prog)
{
	fprintf(stderr, "usage: %s [fatal|crash|exit|hang] [N]  (N rounds, 0 = until killed)\n", prog);
	return USAGE;
}

int main(int argc, char **argv)
{
	pthread_t t;
	char *end;
	int arg = 1;

	for (int k = 0; arg < argc && modes[k] != NULL; k++) {
		if (strcmp(argv[arg], modes[k]) == 0) {
			mode = (enum mode)k;
			arg++;
			break;
		}
	}
	if (arg < argc && ((rounds = strtol(argv[arg++], &end, 10)) < 0 || *end))
		return usage(argv[0]);
	if (arg < argc)
		return usage(argv[0]);
	fprintf(stderr, "[sp_attach] START pid=%d mode=%s block=%d n=%ld\n",
	    (int)getpid(), modes[mode], BLOCK, rounds);
	onsignals();
	if (pthread_create(&t, NULL, worker, NULL) != 0 || pthread_join(t, NULL) != 0)
		setupfailed("pthread");
	fprintf(stderr, "[sp_attach] DONE n=%ld\n", rounds);
	return 0;
}
