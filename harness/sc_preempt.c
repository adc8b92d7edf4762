/*
 * sc_preempt: Gs in tight loops with no calls (so no split checks) that
 * hold live values in every register class (harness/arch/<arch>/regloop.*:
 * general registers, flags, the x87 and SSE control words, the x87 stack,
 * the vector registers as wide as the CPU has them, the opmask registers),
 * preempted asynchronously while other Gs run on the same Ms: one that
 * calls libc string functions (which clear the vector registers' upper
 * halves) and uses the FPU, and the other loops with values of their own.
 * Every loop checks every register every few thousand iterations; a value
 * that changed is the wrong result, naming the register.
 *
 * On a target that preempts asynchronously and counts it (sqt_async_
 * preempts), the loops run until the runtime has preempted them --iters
 * times, so a runtime that never preempts them hangs (the watchdog's
 * finding); elsewhere they run a fixed amount and only the registers are
 * checked. Fault sites in the preemption window (asyncpreempt.*) are
 * armed by the campaign like any others.
 */
#include "scenario.h"
#include "regloop.h"

static const sc_info info = {
	"sc_preempt", "tight loops with live values in every register class, preempted asynchronously",
	"loops", 60, 0, 30,
};

enum { NSPIN = 3, CHECK = 4000, FIXED_ITERS = 5 * 1000 * 1000 };

static volatile int stop;
static sqt_wg *wg;
static long nbad, nrounds, nclobber;
static char badreg[64];

static int async;	/* the target preempts asynchronously and counts it */

static int spinner(void *arg)
{
	sc_regs *r = arg;
	uint64_t bad;

	do {
		r->left = async ? CHECK * 64 : FIXED_ITERS;
		bad = sc_regloop(r);
		sc_tick();
		__atomic_add_fetch(&nrounds, 1, __ATOMIC_RELAXED);
	} while (!bad && async && !stop);
	if (bad && __atomic_fetch_add(&nbad, 1, __ATOMIC_RELAXED) == 0)
		sc_regname(bad - 1, badreg, sizeof badreg);
	sqt_wg_done(wg);
	return 0;
}

/* Another G on the same Ms: libc's string functions (their AVX versions
 * end in vzeroupper), FPU work, yields. */
static int clobberer(void *arg)
{
	static char buf[4096];
	volatile double x = 1.0;

	while (!stop) {
		memset(buf, (int)(nclobber & 0x7f) + 1, sizeof buf - 1);
		x = x * 1.000001 + (double)strlen(buf);
		nclobber++;
		sqt_yield();
	}
	sqt_wg_done(wg);
	return (int)x;
}

static int g_main(void *arg)
{
	static sc_regs regs[NSPIN] __attribute__((aligned(64)));
	long base = sqt_async_preempts(), now = base;
	struct timespec ms = { 0, 1000 * 1000 };

	async = base >= 0;
	wg = sqt_wg_new();
	sqt_wg_add(wg, NSPIN + 1);
	for (int i = 0; i < NSPIN; i++) {
		sc_regs_init(&regs[i], sc.seed + (uint64_t)i * 1000003, CHECK);
		sqt_spawn(spinner, &regs[i]);
	}
	sqt_spawn(clobberer, NULL);
	sc_event("START async=%d features=%llu", async, (unsigned long long)regs[0].features);
	/* The main G sleeps in a syscall window: it runs again only when the
	 * loops give way. */
	while (async && !nbad && (now = sqt_async_preempts()) - base < sc.iters)
		sqt_syscall_block(SYS_nanosleep, (long)&ms, 0, 0);
	stop = 1;
	for (int i = 0; i < NSPIN; i++)
		regs[i].halt = 1;
	sqt_wg_wait(wg);
	sc_event("DONE async-preemptions=%ld rounds=%ld clobbers=%ld bad=%ld%s%s", async ? now - base : -1,
		nrounds, nclobber, nbad, nbad ? " first=" : "", badreg);
	if (nbad) {	/* the oracle's message: the first FAIL line */
		printf("FAIL %s: %s changed while its goroutine was preempted\n", info.name, badreg);
		fflush(stdout);
	}
	sc_finish(nbad ? SC_WRONG : SC_CLEAN, 1);
}

int main(int argc, char **argv)
{
	sc_begin(argc, argv, &info);
	sc_expect_clean();
	sqt_main(g_main, NULL);
}
