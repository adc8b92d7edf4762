//! only sq
//! uses regloop
//! expect clean
/* ---- sc_preempt, mode loops -----------------------------------------------
 * Three Gs in tight loops with no calls, live values in every register class
 * (harness/arch/<arch>/regloop.S), preempted asynchronously while a fourth
 * calls libc's string functions, uses the FPU and yields on the same Ms.
 * Every loop checks every register every few thousand iterations; the main
 * G waits (in a system call) until the runtime has preempted the loops
 * `iters` times. A changed register is the wrong result. */
#include "regloop.h"

enum { NSPIN = 3, CHECK = 4000 };

static volatile int stop;
static sq_wg *wg;
static long nbad, nclobber;
static char badreg[64];

static long async_preempts(void)
{
	sq_stats st;

	sq_stats_get(&st);
	return (long)st.nasyncpreempt;
}

static int spinner(void *arg)
{
	sc_regs *r = arg;
	uint64_t bad;

	do {
		r->left = CHECK * 64;
		bad = sc_regloop(r);
	} while (!bad && !stop);
	if (bad && __atomic_fetch_add(&nbad, 1, __ATOMIC_RELAXED) == 0)
		sc_regname(bad - 1, badreg, sizeof badreg);
	sq_wg_done(wg);
	return 0;
}

static int clobberer(void *arg)
{
	static char buf[4096];
	volatile double x = 1.0;

	while (!stop) {
		memset(buf, (int)(nclobber & 0x7f) + 1, sizeof buf - 1);
		x = x * 1.000001 + (double)strlen(buf);
		nclobber++;
		sq_yield();
	}
	sq_wg_done(wg);
	return (int)x;
}

static int g_main(void *arg)
{
	static sc_regs regs[NSPIN] __attribute__((aligned(64)));
	struct timespec ms = { 0, 1000 * 1000 };
	long base = async_preempts();

	if (!sq_harness_asyncpreempt()) {
		fprintf(stderr, "this runtime build does not preempt asynchronously\n");
		finish(1, 0);
	}
	wg = sq_wg_new();
	sq_wg_add(wg, NSPIN + 1);
	for (int i = 0; i < NSPIN; i++) {
		sc_regs_init(&regs[i], @SEED@ull + (uint64_t)i * 1000003, CHECK);
		sq_spawn(spinner, &regs[i]);
	}
	sq_spawn(clobberer, NULL);
	while (!nbad && async_preempts() - base < iters)
		sq_syscall_block(SYS_nanosleep, (long)&ms, 0, 0, 0, 0, 0);
	stop = 1;
	for (int i = 0; i < NSPIN; i++)
		regs[i].halt = 1;
	sq_wg_wait(wg);
	if (nbad)
		printf("FAIL sc_preempt: %s changed while its goroutine was preempted\n", badreg);
	finish(nbad != 0, 1);
}

int main(void)
{
	begin();
	sq_main(g_main, NULL);
}
