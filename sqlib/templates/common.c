
/* ---- what every scenario shares (harness/scenario.h) -------------------- */

enum { MAXTHREADS = 64 };

//@if iters
static long iters = @ITERS@;
//@endif
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
//@if mono

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
//@endif
//@if storm

/* The finding's storm (harness/scenario.h): a thread sends SIGURG, SIGPROF
 * and SIGUSR1 with tgkill to every caller thread, a sweep every 5 us. */
static volatile int32_t tids[MAXTHREADS];
static volatile int storm_stop;
static pthread_t storm_thread;
static int storm_sigs[3] = { SIGURG, SIGPROF, SIGUSR1 };
static int storm_nsigs = 3;

static void target(int slot) { tids[slot] = (int32_t)syscall(SYS_gettid); }
static void untarget(int slot) { tids[slot] = 0; }

/* A sweep takes 5 us at least, so a lone target gets to run between hits. */
static void *storm_main(void *arg)
{
	pid_t pid = getpid();
	long k = 0;

	while (!storm_stop) {
		int64_t t0 = mono_ns();
		int targets = 0;

		for (int i = 0; i < MAXTHREADS; i++)
			if (tids[i] > 0) {
				targets++;
				syscall(SYS_tgkill, pid, tids[i], storm_sigs[k++ % storm_nsigs]);
			}
		if (targets == 0)
			sched_yield();	/* nobody to hit: let the threads be made */
		else
			while (mono_ns() - t0 < 5000)
				;
	}
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

//@if violation
/* An outside oracle's verdict (harness/outside.h): a "violation" record, exit 3. */
static _Noreturn void violation(const char *oracle, const char *what, const char *detail)
{
	printf("{\"rec\":\"violation\",\"oracle\":\"%s\",\"what\":\"%s\",\"detail\":\"%s\"}\n",
		oracle, what, detail);
	fflush(stdout);
	_exit(3);
}
//@endif
//@if callback

/* ---- what a thread that calls in must come back with (harness/outside.h) --
 * Its signal mask, and its own signal stack if it had one; none again once
 * detached, where the runtime detaches after every callback. A broken rule
 * is a "violation" record and exit status 3. */
static __thread int ts_saved, ts_depth;
static __thread sigset_t ts_mask;
static __thread stack_t ts_ss;

C_SIDE static void tstate_check(void)
{
	char d[400];
	sigset_t mask;
	stack_t ss;
	int own, had = !(ts_ss.ss_flags & SS_DISABLE);

	pthread_sigmask(SIG_SETMASK, NULL, &mask);
	sigaltstack(NULL, &ss);
	own = !(ss.ss_flags & SS_DISABLE);
	for (int sig = 1; sig < 65; sig++)
		if (sig != SIGKILL && sig != SIGSTOP && sigismember(&ts_mask, sig) != sigismember(&mask, sig)) {
			snprintf(d, sizeof d, "after a callback: %s is %s, it was %s before the thread called in",
				strsignal(sig), sigismember(&mask, sig) ? "blocked" : "unblocked",
				sigismember(&ts_mask, sig) ? "blocked" : "unblocked");
			violation("thread-state", "after a callback", d);
		}
	if (had && (!own || ss.ss_sp != ts_ss.ss_sp || ss.ss_size != ts_ss.ss_size)) {
		snprintf(d, sizeof d, "after a callback: the thread's own signal stack [%p,+%#zx) is %s",
			ts_ss.ss_sp, ts_ss.ss_size, own ? "replaced" : "gone");
		violation("thread-state", "after a callback", d);
	}
	if (!had && !sq_callback_binds() && own) {
		snprintf(d, sizeof d, "after a callback: the thread had no signal stack; once detached it has [%p,+%#zx)",
			ss.ss_sp, ss.ss_size);
		violation("thread-state", "after a callback", d);
	}
}

/* A callback, the thread's state checked once the outermost one returns. */
C_SIDE static int callback(int (*fn)(void *), void *arg)
{
	int r;

	if (!ts_saved) {
		pthread_sigmask(SIG_SETMASK, NULL, &ts_mask);
		sigaltstack(NULL, &ts_ss);
		ts_saved = 1;
	}
	ts_depth++;
	r = sq_callback(fn, arg);
	if (--ts_depth == 0)
		tstate_check();
	return r;
}
//@endif
//@if leak

/* ---- leaks between two phases (harness/outside.h) ----------------------- */
typedef struct res { long threads, fds, maps, rss; } res;

static long count(const char *path, int lines)
{
	long n = 0;

	if (lines) {
		FILE *f = fopen(path, "r");
		int c;

		if (!f)
			return -1;
		while ((c = getc(f)) != EOF)
			n += c == '\n';
		fclose(f);
	} else {
		DIR *d = opendir(path);
		struct dirent *e;

		if (!d)
			return -1;
		while ((e = readdir(d)) != NULL)
			n += e->d_name[0] != '.';
		closedir(d);
	}
	return n;
}

static void res_read(res *u)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, rss = 0;

	u->threads = count("/proc/self/task", 0);
	u->fds = count("/proc/self/fd", 0);
	u->maps = count("/proc/self/maps", 1);
	if (f) {
		if (fscanf(f, "%ld %ld", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	u->rss = rss * sysconf(_SC_PAGESIZE);
}

/* Growth beyond both bounds (absolute, per cycle) is a leak. */
static void leak_judge(const res *a, const res *b, long cycles, const char *what)
{
	static const struct { const char *what; long abs; double per; } bound[] = {
		{ "threads", 8, 0.02 }, { "file descriptors", 4, 0.02 },
		{ "mappings", 16, 0.05 }, { "resident bytes", 8 << 20, 1024.0 },
	};
	long d[4] = { b->threads - a->threads, b->fds - a->fds, b->maps - a->maps, b->rss - a->rss };
	char msg[400];

	if (cycles <= 0 || a->threads < 0 || a->maps < 0)
		return;
	for (int i = 0; i < 4; i++)
		if (d[i] > bound[i].abs && (double)d[i] / (double)cycles > bound[i].per) {
			snprintf(msg, sizeof msg, "%s grew by %ld over %ld cycles (%.3f per cycle; a cycle: %s)",
				bound[i].what, d[i], cycles, (double)d[i] / (double)cycles, what);
			violation("leak", bound[i].what, msg);
		}
}
//@endif

/* The harness's progress thread, idle here: every scenario run has it,
 * with every signal blocked, and its stack decides where later stacks
 * land (on Go, whether a switched stack is above or below g0's bounds).
 * It waits for its pipe to close. */
static int idle_pipe[2] = { -1, -1 };
static pthread_t idle_thread;

static void *idle(void *arg)
{
	char c;

	while (read(idle_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}
//@if idlestop

/* End the progress thread, as sc_ticker_stop does: a thread the runtime
 * does not own may call in, and keeps any deadlock from being declared.
 * The wait is C that blocks, so a G makes it through sq_ccall, as the
 * harness's own goes through the target's outcall: the same syscall
 * window, which a fault site there counts. */
static int idle_join(void *arg)
{
	close(idle_pipe[1]);
	pthread_join(idle_thread, NULL);
	return 0;
}

static void idle_stop(void)
{
	if (idle_pipe[1] >= 0)
		sq_ccall(idle_join, NULL);
}
//@endif

/* The program's own SIGUSR1 handler, installed before the runtime (which
 * must keep it working), on the signal stack where the thread has one;
 * the idle thread; then the runtime's settings. */
static void begin(void)
{
	struct sigaction sa;
	sigset_t all, old;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pipe(idle_pipe) == 0)
		pthread_create(&idle_thread, NULL, idle, NULL);
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
	if (sq_check(quiescent) + (quiescent ? stacks_unmapped() : 0) > 0)
		exit(3);	/* each broken invariant was printed */
	printf("%s @SCENARIO@\n", bad ? "FAIL" : "PASS");
	fflush(stdout);
	exit(bad ? 1 : 0);
}
