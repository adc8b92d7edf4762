// sc_threads: NTHREADS threads making syscalls in a tight loop while the
// main thread signals each of them with tgkill; threads exit (each once its
// signal has arrived) while others still run. Everything is on glibc's MAP_STACK thread stacks or the main
// stack: clean.
//
//   sc_threads [NTHREADS [ITERS]]    defaults 8 and 2000

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "sctest.h"

static atomic_long nsig;
static atomic_int nready;
static __thread volatile sig_atomic_t gotsig;

static void onusr1(int sig)
{
	(void)sig;
	gotsig = 1;
	atomic_fetch_add(&nsig, 1);
}

struct worker {
	pthread_t th;
	pid_t tid;
	long iters;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	w->tid = syscall(SYS_gettid);
	atomic_fetch_add(&nready, 1);
	for (long i = 0; i < w->iters; i++) {
		switch (i % 3) {
		case 0: syscall(SYS_getpid); break;
		case 1: sched_yield(); break;
		case 2: nanosleep(&(struct timespec){ 0, 1000 }, NULL); break;
		}
	}
	// Stay until main's signal has arrived, so every worker counts once.
	for (int i = 0; i < 10000 && !gotsig; i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 8;
	long iters = argc > 2 ? atol(argv[2]) : 2000;
	struct worker *w;

	if (n < 1 || n > 1024 || iters < 1)
		sc_usage(argv[0], "[NTHREADS [ITERS]]");
	w = calloc(n, sizeof *w);
	signal(SIGUSR1, onusr1);
	for (int i = 0; i < n; i++) {
		w[i].iters = iters * (i + 1) / n;   // staggered exits
		if (pthread_create(&w[i].th, NULL, work, &w[i]) != 0)
			sc_fail("pthread_create");
	}
	while (atomic_load(&nready) < n)
		sched_yield();
	for (int i = 0; i < n; i++)
		syscall(SYS_tgkill, getpid(), w[i].tid, SIGUSR1);
	for (int i = 0; i < n; i++)
		pthread_join(w[i].th, NULL);
	sc_event("SIGNALS handled=%ld", atomic_load(&nsig));
	sc_event("DONE");
	return 0;
}
