
/* ---- what every scenario shares (harness/scenario.h) -------------------- */

enum { MAXTHREADS = 64 };

static long iters = @ITERS@;
//@if threads
static int nthreads = @THREADS@;
//@endif
//@if rand

/* The scenario's random draws, from the finding's seed: xorshift64 as the
 * harness draws them, so the choices are the ones the finding made. */
static uint64_t rng = @SEED@ull;

C_SIDE static uint64_t rnd(void)
{
	uint64_t x = __atomic_load_n(&rng, __ATOMIC_RELAXED), y;

	do {
		y = x;
		y ^= y << 13;
		y ^= y >> 7;
		y ^= y << 17;
	} while (!__atomic_compare_exchange_n(&rng, &x, y, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return y;
}

static long randn(long n)
{
	return n > 0 ? (long)(rnd() % (uint64_t)n) : 0;
}
//@endif
//@if storm

/* The finding's storm (harness/scenario.h): a thread sends SIGURG, SIGPROF
 * and SIGUSR1 with tgkill to every caller thread, as fast as it can. */
static volatile int32_t tids[MAXTHREADS];
static volatile int storm_stop;
static pthread_t storm_thread;
static int storm_sigs[3] = { SIGURG, SIGPROF, SIGUSR1 };
static int storm_nsigs = 3;

static void target(int slot) { tids[slot] = (int32_t)syscall(SYS_gettid); }
static void untarget(int slot) { tids[slot] = 0; }

static void *storm_main(void *arg)
{
	pid_t pid = getpid();
	long k = 0;

	while (!storm_stop)
		for (int i = 0; i < MAXTHREADS; i++)
			if (tids[i] > 0)
				syscall(SYS_tgkill, pid, tids[i], storm_sigs[k++ % storm_nsigs]);
	return NULL;
}

/* Only signals somebody handles: a default action that ends the process
 * would only show the kernel killing it. */
static void storm_start(void)
{
	struct sigaction sa;
	int n = 0;

	for (int i = 0; i < storm_nsigs; i++)
		if (storm_sigs[i] == SIGURG || (sigaction(storm_sigs[i], NULL, &sa) == 0 && sa.sa_handler != SIG_DFL))
			storm_sigs[n++] = storm_sigs[i];
	storm_nsigs = n;
	if (n > 0)
		pthread_create(&storm_thread, NULL, storm_main, NULL);
	else
		storm_stop = 1;
}

static void storm_end(void)
{
	if (!storm_stop) {
		storm_stop = 1;
		pthread_join(storm_thread, NULL);
	}
}
//@endif

static long nusr1;

static void on_usr1(int sig)
{
	__atomic_add_fetch(&nusr1, 1, __ATOMIC_RELAXED);
}

/* The harness's progress thread, idle here: every scenario run has it,
 * with every signal blocked, and its stack decides where later stacks
 * land (on Go, whether a switched stack is above or below g0's bounds). */
static void *idle(void *arg)
{
	for (;;)
		pause();
	return NULL;
}

/* The program's own SIGUSR1 handler, installed before the runtime (which
 * must keep it working), on the signal stack where the thread has one;
 * the idle thread; then the runtime's settings. */
static void begin(void)
{
	struct sigaction sa;
	sigset_t all, old;
	pthread_t t;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_create(&t, NULL, idle, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	runtime_settings();
	printf("{\"rec\":\"expect\",\"outcome\":\"%s\"%s}\n", "@EXPECT_OUTCOME@", "@EXPECT_FATAL@");
	fflush(stdout);
}

/* The end: the runtime's invariants (quiescent: nothing may be left
 * alive), then how the run ended. A run that reaches here did not hit the
 * finding's fatal error. */
static _Noreturn void finish(int bad, int quiescent)
{
//@if quiesce
	if (quiescent)
		quiesce();
//@endif
	if (sq_check(quiescent) > 0) {
		printf("invariant violated (sq_check)\n");
		exit(3);
	}
	printf("%s @SCENARIO@\n", bad ? "FAIL" : "PASS");
	fflush(stdout);
	exit(bad ? 1 : 0);
}
