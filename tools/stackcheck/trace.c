// trace: the stop loop. One waitpid(__WALL) for every tracee, one handler per
// kind of stop, one resume per stop.
//
// Kinds of stop (tracees are PTRACE_SEIZEd, so group-stops are events):
//   syscall-stop          SIGTRAP|0x80: entry or exit (GET_SYSCALL_INFO says
//                         which; in regs mode t->insyscall toggles);
//   seccomp stop          PTRACE_EVENT_SECCOMP: a syscall entry reported by
//                         the filter, the only entry stop in seccomp mode;
//   clone/fork/vfork      the parent's half of a birth;
//   exec                  reported under the leader's tid, after the kernel
//                         killed the other threads;
//   PTRACE_EVENT_STOP     a new thread's first stop, a group-stop (answered
//                         with PTRACE_LISTEN so the tracee stays stopped until
//                         SIGCONT), or a trap after LISTEN;
//   signal-delivery-stop  anything else: checked, then forwarded unchanged.
//
// Resume: PTRACE_SYSCALL when the exit stop is wanted or no seccomp filter
// is in place, PTRACE_CONT otherwise, so a seccomp-mode tracee stops once per
// syscall and twice only for the few calls that change the model. A thread
// of a process being killed for a violation is not resumed at all (frozen),
// and after every stop doomsweep kills the processes that are all stopped.
//
// Births race: the kernel queues the new thread's first stop and its parent's
// clone event together and waitpid may report either first. The first one
// seen creates the entry: a thread announced by its parent is TNEW until its
// own stop arrives; a thread that stops unannounced is THELD, left stopped,
// and resumed when its parent's event links it, or when its parent process
// dies or execs first and the event is lost (see thread.c).

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "stackcheck.h"

// resume answers t's stop, unless t is frozen for its process's kill
// (signal.c): a thread of a doomed process stays stopped until it dies.
void resume(struct thread *t, int sig)
{
	int req = (t->insyscall || !tr.filter) ? PTRACE_SYSCALL : PTRACE_CONT;

	if (!t->frozen && doomhold(t))
		t->frozen = 1;
	if (t->frozen)
		return;
	// ESRCH: killed while stopped (SIGKILL, exit_group); its exit report follows.
	ptrace(req, t->tid, 0, sig);
}

// readsys reads the syscall t stopped in, dropping to registers for good if
// the kernel lacks PTRACE_GET_SYSCALL_INFO.
static int readsys(struct thread *t, struct sysregs *r)
{
	int err = archsys(t->tid, tr.sysinfo, r);

	if (err == -EIO && tr.sysinfo) {
		tr.sysinfo = 0;
		note("PTRACE_GET_SYSCALL_INFO unsupported: reading registers");
		err = archsys(t->tid, 0, r);
	}
	return err;
}

static void syscallstop(struct thread *t)
{
	struct sysregs r;
	int rsig = 0;

	if (readsys(t, &r) < 0) {
		resume(t, 0);
		return;
	}
	if (r.op == SYS_UNKNOWN) {
		// Regs mode: the kernel sets rax to -ENOSYS before an entry stop,
		// which resynchronizes the toggle if an exit stop was ever lost.
		r.op = t->insyscall || r.rval != -ENOSYS ? SYS_EXIT : SYS_ENTRY;
	}
	if (r.op == SYS_EXIT) {
		sysexit(t, &r);
		t->insyscall = 0;
	} else {
		sysenter(t, &r, &rsig);
		t->insyscall = 1;
	}
	resume(t, rsig);
}

static void seccompstop(struct thread *t)
{
	struct sysregs r;
	int rsig = 0;

	tr.filter = 1;
	if (t->insyscall || readsys(t, &r) < 0) {
		// A syscall-enter-stop of this very call came first and was checked.
		resume(t, 0);
		return;
	}
	t->insyscall = sysenter(t, &r, &rsig);
	resume(t, rsig);
}

static void cloned(struct thread *t, int event)
{
	unsigned long msg;
	struct thread *c;

	if (ptrace(PTRACE_GETEVENTMSG, t->tid, 0, &msg) == 0) {
		unsigned long flags = cloneflags(t, event);
		c = threadfind((pid_t)msg);
		if (c != NULL && c->state != THELD) {
			// A stale entry whose death we never saw: the tid was reused.
			threadfree(c);
			c = NULL;
		}
		if (c == NULL) {
			c = threadnew((pid_t)msg);
			c->state = TNEW;
			threadclone(t, c, flags);
		} else {
			threadlink(t, c, flags);
			resume(c, 0);
		}
	}
	resume(t, 0);
}

// release resumes the held threads whose clone events will never come now
// that process gone died or exec'd.
static void release(pid_t gone)
{
	struct thread *h;

	while ((h = threadorphan(gone)) != NULL) {
		note("pid=%d tid=%d: parent %d gone before its clone event; "
		    "released with a copy of its state", (int)h->tgid, (int)h->tid, (int)h->parent);
		resume(h, 0);
	}
}

static void execed(pid_t tid)
{
	unsigned long former = tid;
	struct thread *t;

	ptrace(PTRACE_GETEVENTMSG, tid, 0, &former);
	release(tid);
	t = threadexec(tid, (pid_t)former);
	if (doomed(tid)) {
		// A sibling's execve, under way at the violation, killed the
		// thread that broke the rule: the new image must not live on.
		kill(tid, SIGKILL);
	}
	if (!tr.filter && tr.mode == MODE_SECCOMP) {
		note("seccomp filter not in place: stopping at every syscall");
		tr.mode = MODE_SYSCALL;
	}
	// Without a filter the tracee runs under PTRACE_SYSCALL, so execve's
	// own exit stop follows; the toggle of regs mode must expect it.
	if (!tr.filter)
		t->insyscall = 1;
	resume(t, 0);
}

// eventstop handles PTRACE_EVENT_STOP of a live thread.
static void eventstop(struct thread *t, int sig)
{
	int group = sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;

	// A group-stop is left listening, unless the thread is to be frozen
	// (resume keeps it stopped and counts it).
	if (group && !doomhold(t))
		ptrace(PTRACE_LISTEN, t->tid, 0, 0);
	else
		resume(t, 0);
}

// doomedstop handles any stop of a thread whose process is being killed.
static void doomedstop(struct thread *t, int st)
{
	int sig = -1;

	if (WSTOPSIG(st) == (SIGTRAP | 0x80) && t->insyscall) {
		t->insyscall = 0;
		sig = 0;
	} else if ((unsigned)st >> 16 == 0 && WSTOPSIG(st) != (SIGTRAP | 0x80)) {
		sig = WSTOPSIG(st);
	}
	resume(t, doomstop(t, sig));
}

static void died(struct thread *t, pid_t tid, int st)
{
	if (tid == tr.root) {
		tr.rootstatus = st;
		tr.rootalive = 0;
	}
	if (t == NULL)
		return;
	if (t->tid == t->tgid)
		release(t->tgid);
	if (t->tid == t->tgid)
		undoom(t->tgid, st);
	threadfree(t);
}

// stopped dispatches one waitpid report. The order of the tests is the
// point: deaths and exec come first (exec is reported under a tid that may
// belong to a vanished leader), then births, then doomed threads, which must
// not be checked or forwarded like live ones, and last the ordinary stops.
static void stopped(pid_t tid, int st)
{
	struct thread *t = threadfind(tid);
	int sig = WSTOPSIG(st), event = (unsigned)st >> 16;

	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		died(t, tid, st);
		return;
	}
	if (!WIFSTOPPED(st))
		return;
	if (event == PTRACE_EVENT_EXEC) {
		execed(tid);
		return;
	}
	if (t == NULL) {
		// A new thread's first stop, before its parent's clone event.
		t = threadhold(tid);
		if (t->state == TLIVE) {
			note("pid=%d tid=%d: parent gone before its clone event; "
			    "unchecked until it execs", (int)t->tgid, (int)t->tid);
			resume(t, 0);
		}
		return;
	}
	if (t->state == TNEW) {
		t->state = TLIVE;
		resume(t, 0);
		return;
	}
	if (t->doom != DOOM_NONE) {
		doomedstop(t, st);
		return;
	}
	if (sig == (SIGTRAP | 0x80)) {
		syscallstop(t);
		return;
	}
	switch (event) {
	case PTRACE_EVENT_SECCOMP:
		seccompstop(t);
		break;
	case PTRACE_EVENT_CLONE:
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK:
		cloned(t, event);
		break;
	case PTRACE_EVENT_STOP:
		eventstop(t, sig);
		break;
	case 0:
		resume(t, sigdeliver(t, sig));
		break;
	default:
		resume(t, 0);
		break;
	}
}

// traceloop runs until no tracee is left. root is the seized child, which has
// not exec'd yet: it is traced but not armed.
int traceloop(pid_t root)
{
	struct thread *t = threadnew(root);
	int st;

	t->space = spacenew();
	t->sh = sighandnew();
	for (;;) {
		pid_t tid = waitpid(-1, &st, __WALL);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ECHILD)
				return 0;
			return -errno;
		}
		stopped(tid, st);
		doomsweep();
	}
}
