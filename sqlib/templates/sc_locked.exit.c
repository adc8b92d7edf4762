//! uses locked
//! expect clean
/* ---- sc_locked, mode exit -------------------------------------------------
 * The main G locks itself to its thread; then, round after round, checker
 * Gs read their thread's name, and a G locks (once or twice), names its
 * thread, blocks on a channel and sleeps while locked, and ends locked: by
 * returning, or by sq_goexit three frames down. Every thread such a G left
 * must be gone within 2 s of the last round but one (the thread a runtime
 * must keep), the thread count may grow by 8 at most, and no G may run on
 * a thread with the name a locked G gave it. */

enum { EXIT_WARMUP = 8, EXIT_CHECKERS = 3, EXIT_GROWTH = 8, EXIT_KEPT = 1, EXIT_WAIT_MS = 2000 };

static const char TAINT[] = "sc-locked-left";
static sq_chan *born, *go_on, *dying;
static int32_t *left;
static long nleft;

static int thread_alive(int32_t tid)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
	return access(path, F_OK) == 0;
}

static long count_alive(void)
{
	long n = 0;

	for (long i = 0; i < nleft; i++)
		n += thread_alive(left[i]);
	return n;
}

static long count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	long n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static __attribute__((noinline)) int goexit_from(int depth)
{
	volatile int frame = depth;

	if (depth == 0)
		sq_goexit();
	return goexit_from(depth - 1) + frame - depth;
}

static int exiter(void *arg)
{
	long round = (long)arg;
	int self = 1;
	uintptr_t v;
	int32_t tid;

	sq_lockosthread();
	if (round % 3 == 1)
		sq_lockosthread();
	tid = tid_now();
	slot_publish(self, tid);
	target(self);
	prctl(PR_SET_NAME, TAINT, 0, 0, 0);
	sq_chan_send(born, (uintptr_t)tid);
	sq_chan_recv(go_on, &v);
	check_stayed(self, tid, "a channel receive", round);
	sleep_checked(draw_sleep(), "a G about to exit locked");
	check_stayed(self, tid, "a sleep", round);
	untarget(self);
	slot_clear(self);
	sq_chan_send(dying, (uintptr_t)round);
	if (round % 2 == 1)
		goexit_from(3);
	return 0;
}

static int checker(void *arg)
{
	char name[17] = "";

	check_alone(-1, "a checker G");
	prctl(PR_GET_NAME, name, 0, 0, 0);
	if (strcmp(name, TAINT) == 0) {
		snprintf(vbuf, sizeof vbuf, "a G ran on thread %d named \"%s\", the name a G that ended locked gave its thread",
			(int)tid_now(), name);
		violation("locked", "thread state propagated", vbuf);
	}
	sq_wg_done(arg);
	return 0;
}

static int g_main(void *arg)
{
	sq_wg *checked = sq_wg_new();
	long t0 = -1, t1, alive;
	int64_t deadline;
	uintptr_t v;

	storm_start();
	sq_lockosthread();
	slot_publish(0, tid_now());
	born = sq_chan_new(0);
	go_on = sq_chan_new(0);
	dying = sq_chan_new(0);
	left = calloc((size_t)(iters + EXIT_WARMUP), sizeof *left);
	for (long r = 0; r < iters + EXIT_WARMUP; r++) {
		if (r == EXIT_WARMUP)
			t0 = count_threads();
		sq_wg_add(checked, EXIT_CHECKERS);
		for (int k = 0; k < EXIT_CHECKERS; k++)
			sq_spawn(checker, checked);
		sq_wg_wait(checked);
		sq_spawn(exiter, (void *)r);
		sq_chan_recv(born, &v);
		left[nleft++] = (int32_t)v;
		sq_chan_send(go_on, 1);
		sq_chan_recv(dying, &v);
	}
	deadline = mono_ns() + (int64_t)EXIT_WAIT_MS * 1000000;
	while ((alive = count_alive()) > EXIT_KEPT && mono_ns() < deadline)
		sq_sleep(5 * 1000 * 1000);
	t1 = count_threads();
	slot_clear(0);
	sq_unlockosthread();
	storm_end();
	if (alive > EXIT_KEPT) {
		snprintf(vbuf, sizeof vbuf, "%ld of the %ld threads that Gs ended locked on are still alive %d ms after"
			" the last (at most %d may stay: the thread a runtime must keep)", alive, nleft, EXIT_WAIT_MS,
			EXIT_KEPT);
		violation("locked", "a locked G's thread outlived it", vbuf);
	}
	if (t0 >= 0 && t1 - t0 > EXIT_GROWTH) {
		snprintf(vbuf, sizeof vbuf, "threads grew by %ld over %ld Gs that ended locked (from %ld to %ld; bound %d)",
			t1 - t0, iters, t0, t1, EXIT_GROWTH);
		violation("leak", "threads", vbuf);
	}
	finish(0, 1);
}

int main(void)
{
	begin();
	sq_main(g_main, NULL);
}
