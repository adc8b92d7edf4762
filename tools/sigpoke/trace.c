// trace: one traced run of PROGRAM, its threads, its breakpoints, its stops.
//
// A run is started PTRACE_SEIZEd (fork, seize, then let the child exec), so
// every thread it ever creates is traced from its first instruction: a
// breakpoint hit by an untraced thread would kill the process with SIGTRAP.
// runstart returns with the leader stopped at its exec event, so the caller
// can arm breakpoints before any of PROGRAM's code runs; it then resumes it.
//
// runnext waits for the next stop that the caller has to decide about and
// handles the others itself:
//   new threads' first stops, clone events          resumed
//   group-stops                                      PTRACE_LISTEN
//   a trap on a breakpoint no longer wanted          pc rewound, resumed
//     (the thread hit it before it was removed: a "stale hit")
//   the end of a single step over a breakpoint       bp re-armed, resumed
//   syscall exits of a thread traced by resumesys    PTRACE_SYSCALL again
// and reports: a hit on a wanted breakpoint (pc already rewound to it),
// a signal-delivery-stop, a syscall entry of a resumesys thread, a thread's
// exit, the end of the process, or the deadline.
//
// Waiting: SIGCHLD is blocked and taken with sigtimedwait between
// waitpid(WNOHANG) calls, so a deadline costs no polling.
//
// Breakpoints are written through /proc/PID/mem (FOLL_FORCE: text pages are
// copied on write), which needs no stopped thread: the other threads keep
// running while one thread is stopped at a breakpoint, as in a real program.

#include <errno.h>
#include <fcntl.h>
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sigpoke.h"

enum {
	OPTIONS = PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD |
	    PTRACE_O_EXITKILL,
};

int64_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct thr *thrfind(struct run *r, pid_t tid)
{
	for (size_t i = 0; i < r->nthr; i++)
		if (r->thr[i].tid == tid)
			return &r->thr[i];
	return NULL;
}

static struct thr *thradd(struct run *r, pid_t tid)
{
	struct thr *t = thrfind(r, tid);

	if (t != NULL)
		return t;
	if (r->nthr == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct thr *n = realloc(r->thr, cap * sizeof *n);
		if (n == NULL)
			return NULL;
		r->thr = n;
		r->cap = cap;
	}
	t = &r->thr[r->nthr++];
	memset(t, 0, sizeof *t);
	t->tid = tid;
	return t;
}

static void thrdel(struct run *r, pid_t tid)
{
	struct thr *t = thrfind(r, tid);

	if (t != NULL)
		*t = r->thr[--r->nthr];
}

// ---- breakpoints ----

static int memwrite(struct run *r, uintptr_t addr, const uint8_t *b, size_t n)
{
	if (pwrite(r->mem, b, n, (off_t)addr) != (ssize_t)n)
		return -errno;
	return 0;
}

static int bpwrite(struct run *r, struct bp *b, int on)
{
	int err = memwrite(r, b->addr, on ? archbrk : b->orig, archbrklen);

	if (err == 0)
		b->armed = on;
	return err;
}

int bparm(struct run *r, size_t i)
{
	struct bp *b = &r->bp[i];

	b->want = 1;
	b->ever = 1;
	if (b->armed || b->stepping)
		return 0;
	return bpwrite(r, b, 1);
}

int bpdisarm(struct run *r, size_t i)
{
	struct bp *b = &r->bp[i];

	b->want = 0;
	if (!b->armed)
		return 0;
	return bpwrite(r, b, 0);
}

static int cmpaddr(const void *a, const void *b, void *arg)
{
	const struct bp *bp = arg;
	uintptr_t x = bp[*(const size_t *)a].addr, y = bp[*(const size_t *)b].addr;

	return x < y ? -1 : x > y;
}

// bpat finds the breakpoint at run-time address addr, or returns -1.
static long bpat(struct run *r, uintptr_t addr)
{
	size_t lo = 0, hi = r->nbp;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uintptr_t a = r->bp[r->byaddr[mid]].addr;
		if (a == addr)
			return (long)r->byaddr[mid];
		if (a < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int bpinit(struct run *r, const struct window *w)
{
	r->nbp = w->nin;
	r->bp = calloc(w->nin ? w->nin : 1, sizeof *r->bp);
	r->byaddr = calloc(w->nin ? w->nin : 1, sizeof *r->byaddr);
	if (r->bp == NULL || r->byaddr == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < w->nin; i++) {
		struct bp *b = &r->bp[i];
		b->addr = w->in[i].addr + r->bias;
		if (pread(r->mem, b->orig, archbrklen, (off_t)b->addr) != (ssize_t)archbrklen)
			return -errno;
		r->byaddr[i] = i;
	}
	qsort_r(r->byaddr, r->nbp, sizeof *r->byaddr, cmpaddr, r->bp);
	return 0;
}

// ---- starting a run ----

static void child(const struct spawnopts *o, const char *log, int go, int err)
{
	char c;
	int e, fd;

	if (read(go, &c, 1) != 1)
		_exit(127);
	setpgid(0, 0);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0)
		dup2(fd, 0);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	// Same addresses in every run, so logs and replays line up.
	personality(ADDR_NO_RANDOMIZE);
	for (char **v = o->env; v != NULL && *v != NULL; v++)
		putenv(*v);
	execvp(o->argv[0], o->argv);
	e = errno;
	if (write(err, &e, sizeof e) < 0)
		_exit(127);
	_exit(127);
}

// auxentry reads AT_ENTRY of a process that has just exec'd.
static int auxentry(pid_t pid, uintptr_t *entry)
{
	char path[64];
	unsigned long v[2];
	int fd, ret = -ENOENT;

	snprintf(path, sizeof path, "/proc/%d/auxv", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (read(fd, v, sizeof v) == sizeof v && v[0] != AT_NULL) {
		if (v[0] == AT_ENTRY) {
			*entry = v[1];
			ret = 0;
			break;
		}
	}
	close(fd);
	return ret;
}

static void sigchldblock(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGCHLD);
	sigprocmask(SIG_BLOCK, &s, NULL);
}

// waitexec waits for the child's exec event; -errno of a failed exec.
static int waitexec(struct run *r, int errfd)
{
	int st, e;

	for (;;) {
		pid_t p = waitpid(r->pid, &st, __WALL);
		if (p < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			r->ended = 1;
			r->status = st;
			if (read(errfd, &e, sizeof e) == sizeof e)
				return -e;
			return -ECHILD;
		}
		if (WIFSTOPPED(st) && (unsigned)st >> 16 == PTRACE_EVENT_EXEC)
			return 0;
		// The seize's own event stop, if any: go on to the exec.
		ptrace(PTRACE_CONT, p, 0, 0);
	}
}

// runstart starts run n of o->argv and returns with it stopped at its exec
// event, the breakpoint table read but nothing armed. entry is PROGRAM's
// link-time e_entry (in o), for the load bias.
int runstart(struct run *r, const struct spawnopts *o, const struct window *w, int n)
{
	int go[2], err[2], ret;
	uintptr_t entry = 0;
	char path[64];

	memset(r, 0, sizeof *r);
	r->mem = -1;
	r->n = n;
	snprintf(r->log, sizeof r->log, "%s/run-%03d.log", o->logdir, n);
	sigchldblock();
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
		return -errno;
	r->pid = fork();
	if (r->pid < 0)
		return -errno;
	if (r->pid == 0) {
		close(go[1]);
		close(err[0]);
		child(o, r->log, go[0], err[1]);
	}
	close(go[0]);
	close(err[1]);
	if (ptrace(PTRACE_SEIZE, r->pid, 0, OPTIONS) < 0) {
		ret = -errno;
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, __WALL);
		close(go[1]);
		close(err[0]);
		r->pid = 0;
		return ret;
	}
	r->t0 = now();
	ret = write(go[1], "g", 1) == 1 ? 0 : -errno;
	close(go[1]);
	if (ret == 0)
		ret = waitexec(r, err[0]);
	close(err[0]);
	if (ret < 0) {
		runkill(r);
		return ret;
	}
	thradd(r, r->pid);
	if ((ret = auxentry(r->pid, &entry)) < 0)
		goto fail;
	r->bias = o->pie ? entry - o->entry : 0;
	snprintf(path, sizeof path, "/proc/%d/mem", (int)r->pid);
	r->mem = open(path, O_RDWR | O_CLOEXEC);
	if (r->mem < 0) {
		ret = -errno;
		goto fail;
	}
	if ((ret = bpinit(r, w)) < 0)
		goto fail;
	return 0;
fail:
	runkill(r);
	return ret;
}

// ---- resuming ----

// again resumes t the way it was running: under PTRACE_SYSCALL or not.
static void again(struct thr *t, int sig)
{
	ptrace(t->sys ? PTRACE_SYSCALL : PTRACE_CONT, t->tid, 0, sig);
}

int resume(struct run *r, pid_t tid, int sig)
{
	struct thr *t = thrfind(r, tid);

	if (t != NULL)
		t->sys = 0;
	// ESRCH: killed while stopped (exit_group); its exit report follows.
	return ptrace(PTRACE_CONT, tid, 0, sig) < 0 ? -errno : 0;
}

int resumesys(struct run *r, pid_t tid, int sig)
{
	struct thr *t = thrfind(r, tid);

	if (t != NULL)
		t->sys = 1;
	return ptrace(PTRACE_SYSCALL, tid, 0, sig) < 0 ? -errno : 0;
}

// stepover lets tid, stopped on breakpoint i with its pc rewound, execute
// the original instruction: the breakpoint is lifted (for every thread, so
// another one may run past it meanwhile) until the step ends.
int stepover(struct run *r, pid_t tid, size_t i)
{
	struct thr *t = thrfind(r, tid);
	struct bp *b = &r->bp[i];

	if (t == NULL)
		return -ESRCH;
	if (b->armed)
		bpwrite(r, b, 0);
	b->stepping++;
	t->step = 1;
	t->stepbp = i;
	return ptrace(PTRACE_SINGLESTEP, tid, 0, 0) < 0 ? -errno : 0;
}

static void stepdone(struct run *r, struct thr *t)
{
	struct bp *b = &r->bp[t->stepbp];

	if (b->stepping > 0)
		b->stepping--;
	if (b->stepping == 0 && b->want && !b->armed)
		bpwrite(r, b, 1);
	t->step = 0;
	again(t, 0);
}

// ---- stops ----

// trapstop decides about a SIGTRAP signal-delivery-stop: 1 and ev filled
// when the caller must see it, 0 when it was handled here.
static int trapstop(struct run *r, struct thr *t, struct event *ev)
{
	uintptr_t pc, sp, addr;
	long i;

	if (ptrace(PTRACE_GETSIGINFO, t->tid, 0, &ev->si) < 0)
		return 0;
	if (t->step) {
		stepdone(r, t);
		return 0;
	}
	if (archregs(t->tid, &pc, &sp) < 0 || !archbpaddr(&ev->si, pc, &addr) ||
	    (i = bpat(r, addr)) < 0 || !r->bp[i].ever)
		return 1;       // not ours: the program's own SIGTRAP
	archsetpc(t->tid, addr);
	if (!r->bp[i].want) {
		again(t, 0);
		return 0;
	}
	ev->kind = EV_HIT;
	ev->bp = (size_t)i;
	return 1;
}

static int syscallstop(struct thr *t, struct event *ev)
{
	struct __ptrace_syscall_info si;

	if (!t->sys || ptrace(PTRACE_GET_SYSCALL_INFO, t->tid, sizeof si, &si) < 0 ||
	    si.op != PTRACE_SYSCALL_INFO_ENTRY) {
		again(t, 0);
		return 0;
	}
	ev->kind = EV_SYSENTER;
	ev->nr = (long)si.entry.nr;
	return 1;
}

// stopped handles one wait status; 1 when ev is to be reported.
static int stopped(struct run *r, pid_t tid, int st, struct event *ev)
{
	struct thr *t;
	int sig = WSTOPSIG(st), event = (unsigned)st >> 16;
	unsigned long msg;

	memset(ev, 0, sizeof *ev);
	ev->tid = tid;
	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		thrdel(r, tid);
		if (tid != r->pid) {
			ev->kind = EV_GONE;
			return 1;
		}
		r->ended = 1;
		r->status = st;
		ev->kind = EV_END;
		return 1;
	}
	if (!WIFSTOPPED(st))
		return 0;
	t = thradd(r, tid);
	if (t == NULL)
		return 0;
	switch (event) {
	case PTRACE_EVENT_CLONE:
		if (ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg) == 0)
			thradd(r, (pid_t)msg);
		again(t, 0);
		return 0;
	case PTRACE_EVENT_STOP:
		if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
			ptrace(PTRACE_LISTEN, tid, 0, 0);
		else
			again(t, 0);
		return 0;
	case PTRACE_EVENT_EXEC:
		// The breakpoints went with the old image; nothing will hit them.
		fprintf(stderr, "sigpoke: run %d: pid %d exec'd again: its window is no longer traced\n",
		    r->n, (int)r->pid);
		again(t, 0);
		return 0;
	case 0:
		break;
	default:
		again(t, 0);
		return 0;
	}
	if (sig == (SIGTRAP | 0x80))
		return syscallstop(t, ev);
	ev->kind = EV_SIGNAL;
	ev->sig = sig;
	if (sig == SIGTRAP)
		return trapstop(r, t, ev);
	if (t->step) {
		// A signal came first: deliver it; the step ends at the handler.
		ptrace(PTRACE_SINGLESTEP, tid, 0, sig);
		return 0;
	}
	ptrace(PTRACE_GETSIGINFO, tid, 0, &ev->si);
	return 1;
}

// runnext reports the next stop the caller must decide about, or
// EV_TIMEOUT at deadline (ns, CLOCK_MONOTONIC), or EV_END.
int runnext(struct run *r, struct event *ev, int64_t deadline)
{
	sigset_t chld;
	int st;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		if (r->ended) {
			memset(ev, 0, sizeof *ev);
			ev->kind = EV_END;
			return 0;
		}
		// The deadline holds even when stops keep coming (a busy thread
		// that sigpoke keeps stepping over a breakpoint).
		if (now() >= deadline) {
			memset(ev, 0, sizeof *ev);
			ev->kind = EV_TIMEOUT;
			return 0;
		}
		pid_t tid = waitpid(-1, &st, __WALL | WNOHANG);
		if (tid > 0) {
			if (stopped(r, tid, st, ev))
				return 0;
			continue;
		}
		if (tid < 0 && errno == EINTR)
			continue;
		if (tid < 0) {
			// ECHILD: nothing left to wait for.
			r->ended = 1;
			continue;
		}
		int64_t left = deadline - now();
		if (left <= 0) {
			memset(ev, 0, sizeof *ev);
			ev->kind = EV_TIMEOUT;
			return 0;
		}
		struct timespec ts = { left / 1000000000, left % 1000000000 };
		sigtimedwait(&chld, NULL, &ts);
	}
}

// runkill ends the run (if it has not ended) and reaps every thread.
void runkill(struct run *r)
{
	int st;

	if (r->pid <= 0)
		return;
	if (!r->ended) {
		kill(-r->pid, SIGKILL);
		kill(r->pid, SIGKILL);
	}
	while (!r->ended) {
		pid_t tid = waitpid(-1, &st, __WALL);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			r->ended = 1;
			break;
		}
		if (tid == r->pid && (WIFEXITED(st) || WIFSIGNALED(st))) {
			r->ended = 1;
			r->status = st;
		}
	}
	// Reap any stragglers (a thread's report after the leader's).
	while (waitpid(-1, &st, __WALL | WNOHANG) > 0)
		;
}

void runfree(struct run *r)
{
	runkill(r);
	if (r->mem >= 0)
		close(r->mem);
	free(r->thr);
	free(r->bp);
	free(r->byaddr);
	r->mem = -1;
	r->thr = NULL;
	r->bp = NULL;
	r->byaddr = NULL;
	r->pid = 0;
}

// ---- /proc ----

int threadcomm(struct run *r, pid_t tid, char *buf, size_t n)
{
	char path[64];
	ssize_t k;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int)r->pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	k = read(fd, buf, n - 1);
	close(fd);
	if (k < 0)
		return -errno;
	while (k > 0 && buf[k - 1] == '\n')
		k--;
	buf[k] = 0;
	return 0;
}

// catches reports whether the process has a handler for sig (SigCgt).
int catches(struct run *r, int sig)
{
	char path[64], line[256];
	unsigned long long mask = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)r->pid);
	f = fopen(path, "re");
	if (f == NULL)
		return 1;       // assume it does; the handler's return is awaited
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "SigCgt: %llx", &mask) == 1)
			break;
	fclose(f);
	return sig >= 1 && sig <= 64 && (mask >> (sig - 1)) & 1;
}

// mapwhere names a run-time address outside PROGRAM's functions by its
// mapping: "libc.so.6+0x8a3f1", "[vdso]+0x..", or the bare address.
void mapwhere(struct run *r, uintptr_t addr, char *buf, size_t n)
{
	char path[64], line[512], name[256];
	unsigned long lo, hi, off;
	FILE *f;

	snprintf(buf, n, "0x%lx", (unsigned long)addr);
	snprintf(path, sizeof path, "/proc/%d/maps", (int)r->pid);
	f = fopen(path, "re");
	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		name[0] = 0;
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %255s", &lo, &hi, &off, name) < 3)
			continue;
		if (addr < lo || addr >= hi)
			continue;
		const char *base = strrchr(name, '/');
		snprintf(buf, n, "%s+0x%lx", base ? base + 1 : name[0] ? name : "anon",
		    (unsigned long)(addr - lo + off));
		break;
	}
	fclose(f);
}
