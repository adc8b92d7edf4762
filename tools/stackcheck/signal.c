// signal: handler tables, the check at signal delivery, and the kill.
//
// Where a handler runs decides which stack must be MAP_STACK, so stackcheck
// mirrors each sighand from the tracee's own rt_sigaction calls: disposition
// (default, ignore, handler) and flags. At a signal-delivery-stop:
//
//   no handler (default or ignored)  nothing runs in user space: no check.
//   handler, SA_ONSTACK, the thread has a sigaltstack and is not already on
//   it                               the signal stack must be MAP_STACK: every
//                                    page of its span (see altspan) counted.
//   any other handler                the interrupted SP must be MAP_STACK: the
//                                    frame goes just below it, on that stack.
//
// The kill mirrors OpenBSD's SIGSEGV: every other thread of the process is
// stopped first, then the offending syscall is skipped, SIGSEGV is unblocked
// and queued for the thread, and delivered at its delivery stop with the
// default action, so the process dies of SIGSEGV and no user instruction
// runs in between. When SIGSEGV is caught or ignored a handler could let the
// process live on, so the process gets SIGKILL instead. Any unexpected stop
// of a doomed thread also earns SIGKILL: the result is always a dead
// process. See "the kill" below for the order of the steps.

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stackcheck.h"

struct sighand *sighandnew(void)
{
	struct sighand *sh = calloc(1, sizeof *sh);

	if (sh == NULL)
		abort();
	sh->ref = 1;
	return sh;
}

struct sighand *sighandcopy(struct sighand *from)
{
	struct sighand *sh = sighandnew();

	memcpy(sh->act, from->act, sizeof sh->act);
	return sh;
}

struct sighand *sighandref(struct sighand *sh)
{
	sh->ref++;
	return sh;
}

void sighandunref(struct sighand *sh)
{
	if (sh != NULL && --sh->ref == 0)
		free(sh);
}

// sighandexec sets sh to the state after execve: every handler is back to
// default, but ignored signals stay ignored, which only /proc can tell us for
// the first program (it inherits stackcheck's child's dispositions).
void sighandexec(struct sighand *sh, pid_t pid)
{
	unsigned long long ign = 0;
	char path[64], line[256];
	FILE *f;
	int i;

	memset(sh->act, 0, sizeof sh->act);
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "SigIgn: %llx", &ign) == 1)
			break;
	fclose(f);
	for (i = 1; i <= 64; i++)
		if (ign & (1ULL << (i - 1)))
			sh->act[i].handler = (unsigned long)SIG_IGN;
}

void sigaction_apply(struct sighand *sh, int sig, const struct sigact *sa)
{
	if (sig >= 1 && sig <= 64)
		sh->act[sig] = *sa;
}

// onsigstack is the kernel's test for "already running on the signal stack".
static int onsigstack(struct altstack *alt, uintptr_t sp)
{
	return sp > alt->sp && sp - alt->sp <= alt->size;
}

// checkalt checks the signal stack a handler is about to switch to; on a
// violation it stores the first address of the span that is not MAP_STACK.
static int checkalt(struct thread *t, uintptr_t *bad)
{
	uintptr_t lo, hi, gap;

	altspan(t->alt.sp, t->alt.size, &lo, &hi);
	if (lo == hi) {
		*bad = t->alt.sp;
		return 0;
	}
	gap = spacegap(t->space, lo, hi);
	*bad = gap;
	return gap == hi;
}

// sigdeliver checks the delivery of sig to t and returns the signal to
// resume t with: sig itself, or what the kill path chose.
int sigdeliver(struct thread *t, int sig)
{
	struct violation v = { .t = t, .sig = sig };
	struct sigact *a;
	int alt, ok;

	if (!t->armed || t->sh == NULL || sig < 1 || sig > 64)
		return sig;
	tr.nsignals++;
	a = &t->sh->act[sig];
	if (a->handler == (unsigned long)SIG_DFL || a->handler == (unsigned long)SIG_IGN)
		return sig;
	if (archsp(t->tid, &v.sp, &v.pc) < 0)
		return sig;
	alt = (a->flags & SA_ONSTACK) && t->alt.on && !onsigstack(&t->alt, v.sp);
	if (alt) {
		ok = checkalt(t, &v.sp);
		v.reason = "sigaltstack not MAP_STACK";
	} else {
		ok = spacecheck(t->space, t->tid, v.sp);
		v.reason = "not MAP_STACK";
	}
	if (!ok && !doomed(t->tgid)) {
		doom(t, &v, 0);
		return 0;
	}
	if (a->flags & SA_RESETHAND)
		*a = (struct sigact){ 0, 0 };
	return sig;
}

// ---- the kill ----
//
// OpenBSD decides in the kernel, at the syscall entry (or trap) of the
// thread that broke the rule, and the SIGSEGV it sends ends the whole
// process there: no other thread of it gets another system call through.
// Here the other threads run on while the tracer decides, so the kill
// takes three steps:
//   1. doom: the offender stays stopped where it is (its syscall skipped),
//      the KILL line is written but not printed, and every other thread of
//      the process is asked to stop (PTRACE_INTERRUPT);
//   2. each of them is frozen at its next stop, whatever it is: resume
//      leaves it stopped (doomhold), so a syscall it was entering never
//      runs, and one it was inside returns before the freeze;
//   3. doomsweep, once no thread of the process runs: print the KILL line,
//      then kill the offender (SIGSEGV, or SIGKILL) and resume it alone.
//      The process dies with no other thread resumed, and nothing it wrote
//      can come after the KILL line.

enum { DSTOPPING, DKILLING };

struct doomrec {
	pid_t tgid, tid;        // the process, and the thread that broke the rule
	int state;              // DSTOPPING, then DKILLING once the line is out
	int atentry;            // the offender stands at a syscall entry
	char line[768];         // its KILL line
};

static struct doomrec *doomlist;
static size_t ndoom, capdoom;

static struct doomrec *doomfind(pid_t tgid)
{
	for (size_t i = 0; i < ndoom; i++)
		if (doomlist[i].tgid == tgid)
			return &doomlist[i];
	return NULL;
}

int doomed(pid_t tgid)
{
	return doomfind(tgid) != NULL;
}

static struct doomrec *doomadd(pid_t tgid)
{
	if (ndoom == capdoom) {
		capdoom = capdoom ? 2 * capdoom : 8;
		doomlist = realloc(doomlist, capdoom * sizeof *doomlist);
		if (doomlist == NULL)
			abort();
	}
	doomlist[ndoom] = (struct doomrec){ .tgid = tgid };
	return &doomlist[ndoom++];
}

// doomhold reports whether t must stay stopped: a thread of a doomed
// process other than the one being killed. Called by every resume.
int doomhold(struct thread *t)
{
	struct doomrec *d = ndoom ? doomfind(t->tgid) : NULL;

	return d != NULL && d->tid != t->tid;
}

static void doomline(struct doomrec *d)
{
	if (d->state == DSTOPPING)
		emit(d->line);
	d->state = DKILLING;
}

// undoom forgets a process once its leader is reaped (the tgid may be
// reused). If it died before all its threads stopped (another thread's
// exit_group or execve was already under way), its line is printed now.
void undoom(pid_t tgid, int status)
{
	struct doomrec *d = doomfind(tgid);
	char buf[16];

	if (d == NULL)
		return;
	doomline(d);
	if (WIFSIGNALED(status))
		note("pid=%d killed by %s", (int)tgid, signame(WTERMSIG(status), buf, sizeof buf));
	*d = doomlist[--ndoom];
}

static int unblocksegv(pid_t tid)
{
	uint64_t mask;

	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof mask, &mask) < 0)
		return -errno;
	mask &= ~(1ULL << (SIGSEGV - 1));
	if (ptrace(PTRACE_SETSIGMASK, tid, sizeof mask, &mask) < 0)
		return -errno;
	return 0;
}

static void sigkill(struct thread *t)
{
	kill(t->tgid, SIGKILL);
	t->doom = DOOM_KILL;
}

// doom starts killing t's process for violation v (step 1 above). atentry
// says t is stopped at a syscall entry (the call must not run); otherwise
// it is at a signal-delivery-stop. t is left stopped.
void doom(struct thread *t, struct violation *v, int atentry)
{
	struct doomrec *d = doomadd(t->tgid);

	d->tid = t->tid;
	d->atentry = atentry;
	report(v, d->line, sizeof d->line);
	if (atentry)
		archskip(t->tid);
	t->frozen = 1;
	threadinterrupt(t->tgid, t->tid);
}

// killsig arms the kill of the offender t (step 3) and returns the signal
// to resume it with.
static int killsig(struct thread *t, int atentry)
{
	int dfl = t->sh == NULL || t->sh->act[SIGSEGV].handler == (unsigned long)SIG_DFL;

	if (!dfl || unblocksegv(t->tid) < 0) {
		sigkill(t);
		return 0;
	}
	if (!atentry) {
		// Replace the signal being delivered: it dies with SIGSEGV now.
		t->doom = DOOM_SENT;
		return SIGSEGV;
	}
	// A seccomp stop ignores a signal passed to the resume, so queue it;
	// it is delivered on the way back to user space, before any instruction.
	if (syscall(SYS_tgkill, t->tgid, t->tid, SIGSEGV) < 0) {
		sigkill(t);
		return 0;
	}
	t->doom = DOOM_SEGV;
	return 0;
}

// doomsweep kills each doomed process whose other threads are all frozen
// (step 3). The stop loop calls it after every stop.
void doomsweep(void)
{
	for (size_t i = 0; i < ndoom; i++) {
		struct doomrec *d = &doomlist[i];
		struct thread *t;

		if (d->state != DSTOPPING || !threadsfrozen(d->tgid, d->tid))
			continue;
		doomline(d);
		t = threadfind(d->tid);
		if (t == NULL || t->tgid != d->tgid) {
			// The offender died first: an exit_group or execve of a
			// sibling, already under way, is taking the process.
			kill(d->tgid, SIGKILL);
			continue;
		}
		t->frozen = 0;
		resume(t, killsig(t, d->atentry));
	}
}

// doomstop handles a stop of a doomed thread and returns the signal to
// resume it with. sig is the signal of a signal-delivery-stop, 0 for the exit
// stop of the skipped syscall, -1 for any other stop.
int doomstop(struct thread *t, int sig)
{
	if (t->doom == DOOM_SEGV && sig == SIGSEGV) {
		t->doom = DOOM_SENT;
		return SIGSEGV;
	}
	// Another signal or the skipped call's exit stop: the thread goes on to
	// dequeue SIGSEGV, and the dropped signal's handler never runs first.
	if (t->doom == DOOM_SEGV && sig >= 0)
		return 0;
	sigkill(t);
	return 0;
}

// ---- names ----

static const char *const names[32] = {
	[SIGHUP] = "SIGHUP", [SIGINT] = "SIGINT", [SIGQUIT] = "SIGQUIT",
	[SIGILL] = "SIGILL", [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT",
	[SIGBUS] = "SIGBUS", [SIGFPE] = "SIGFPE", [SIGKILL] = "SIGKILL",
	[SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
	[SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM",
	[SIGSTKFLT] = "SIGSTKFLT", [SIGCHLD] = "SIGCHLD", [SIGCONT] = "SIGCONT",
	[SIGSTOP] = "SIGSTOP", [SIGTSTP] = "SIGTSTP", [SIGTTIN] = "SIGTTIN",
	[SIGTTOU] = "SIGTTOU", [SIGURG] = "SIGURG", [SIGXCPU] = "SIGXCPU",
	[SIGXFSZ] = "SIGXFSZ", [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",
	[SIGWINCH] = "SIGWINCH", [SIGIO] = "SIGIO", [SIGPWR] = "SIGPWR",
	[SIGSYS] = "SIGSYS",
};

// signame names sig the way kill -l does; real-time signals are numbered
// from the kernel's SIGRTMIN (32), not glibc's, which reserves two.
const char *signame(int sig, char *buf, size_t n)
{
	if (sig > 0 && sig < 32 && names[sig] != NULL)
		return names[sig];
	if (sig >= 32 && sig <= 64)
		snprintf(buf, n, "SIGRT%d", sig - 32);
	else
		snprintf(buf, n, "SIG%d", sig);
	return buf;
}
