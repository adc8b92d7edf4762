// thread: the table of traced threads and their lifecycle.
//
// Births: a clone/fork/vfork event names the new tid in its parent; the new
// thread's own first stop may come before or after that event (the kernel
// queues both at once), so whichever is seen first creates the entry and the
// other completes it (see trace.c: TNEW and THELD).
//
// A held thread can wait forever: the kernel drops the parent's clone event
// when the parent is being SIGKILLed (exit_group by a sibling, or a sibling's
// execve), and a forked child outlives it. So a held thread takes provisional
// copies of its parent process's space and handlers at once (its parent is
// named in /proc), and is released with them when that process dies or execs.
//
// Inheritance follows the kernel's copy_process:
//   CLONE_VM       share the space, else copy it (fork gets a snapshot);
//   CLONE_SIGHAND  share the handler table, else copy it;
//   sigaltstack    cleared when CLONE_VM is set without CLONE_VFORK (a new
//                  thread on its own stack), inherited otherwise;
//   CLONE_THREAD   same thread group (tgid), else a new process.
//
// execve: a non-leader thread that execs takes over the leader's tid; the old
// leader vanishes without an exit report. threadexec moves the execing
// thread's entry to its new tid and resets space, handlers and altstack.

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>

#include "stackcheck.h"

enum { NBUCKET = 1024 };

static struct thread *buckets[NBUCKET];

static struct thread **bucket(pid_t tid)
{
	return &buckets[(unsigned)tid % NBUCKET];
}

struct thread *threadfind(pid_t tid)
{
	struct thread *t;

	for (t = *bucket(tid); t != NULL; t = t->hnext)
		if (t->tid == tid)
			return t;
	return NULL;
}

static void hashin(struct thread *t)
{
	struct thread **b = bucket(t->tid);

	t->hnext = *b;
	*b = t;
}

static void hashout(struct thread *t)
{
	struct thread **p;

	for (p = bucket(t->tid); *p != NULL; p = &(*p)->hnext)
		if (*p == t) {
			*p = t->hnext;
			return;
		}
}

// threadnew enters a new, empty thread: no space, no handlers, not armed.
struct thread *threadnew(pid_t tid)
{
	struct thread *t = calloc(1, sizeof *t);

	if (t == NULL)
		abort();
	t->tid = tid;
	t->tgid = tid;
	t->state = TLIVE;
	t->sys.nr = -1;
	hashin(t);
	tr.nthreads++;
	return t;
}

void threadfree(struct thread *t)
{
	hashout(t);
	spaceunref(t->space);
	sighandunref(t->sh);
	free(t);
}

// threadclone gives child what the kernel gave it from parent under flags.
void threadclone(struct thread *parent, struct thread *child, unsigned long flags)
{
	child->tgid = (flags & CLONE_THREAD) ? parent->tgid : child->tid;
	child->armed = parent->armed;
	if (parent->space != NULL)
		child->space = (flags & CLONE_VM) ? spaceref(parent->space) : spacecopy(parent->space);
	if (parent->sh != NULL)
		child->sh = (flags & CLONE_SIGHAND) ? sighandref(parent->sh) : sighandcopy(parent->sh);
	if ((flags & (CLONE_VM | CLONE_VFORK)) != CLONE_VM)
		child->alt = parent->alt;
}

// threadexec handles execve by the thread that had tid former and now has
// tid (they differ when a non-leader exec'd), and returns its entry.
struct thread *threadexec(pid_t tid, pid_t former)
{
	struct thread *t, *leader;

	if (former != tid && (leader = threadfind(tid)) != NULL)
		threadfree(leader);
	t = threadfind(former);
	if (t == NULL)
		t = threadnew(former);
	hashout(t);
	t->tid = tid;
	hashin(t);

	t->tgid = tid;
	t->armed = 1;
	t->state = TLIVE;
	t->sys.nr = -1;
	memset(&t->alt, 0, sizeof t->alt);
	spaceunref(t->space);
	t->space = spacenew();
	spaceexec(t->space, tid);
	sighandunref(t->sh);
	t->sh = sighandnew();
	sighandexec(t->sh, tid);
	return t;
}

// ---- held threads ----

static struct thread **held;
static size_t nheld, capheld;

static void heldin(struct thread *t)
{
	if (nheld == capheld) {
		capheld = capheld ? 2 * capheld : 8;
		held = realloc(held, capheld * sizeof *held);
		if (held == NULL)
			abort();
	}
	held[nheld++] = t;
}

static void heldout(struct thread *t)
{
	for (size_t i = 0; i < nheld; i++)
		if (held[i] == t) {
			held[i] = held[--nheld];
			return;
		}
}

// lineage reads tid's thread group and parent process from /proc.
static void lineage(pid_t tid, pid_t *tgid, pid_t *ppid)
{
	char path[64], line[128];
	int v;
	FILE *f;

	*tgid = tid;
	*ppid = 0;
	snprintf(path, sizeof path, "/proc/%d/status", (int)tid);
	if ((f = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "Tgid: %d", &v) == 1)
			*tgid = v;
		else if (sscanf(line, "PPid: %d", &v) == 1)
			*ppid = v;
	}
	fclose(f);
}

// threadhold enters a thread whose first stop came before its parent's
// clone event, with provisional copies of its parent process's state. If
// that parent is already gone (reparented, so PPid no longer names a traced
// process), no event will ever come and nothing of its memory is known: the
// thread is made live at once, unarmed until it execs.
struct thread *threadhold(pid_t tid)
{
	struct thread *t = threadnew(tid), *p;
	pid_t ppid;

	lineage(tid, &t->tgid, &ppid);
	// A new thread's PPid is its process's parent: its parent is its group.
	t->parent = t->tgid != tid ? t->tgid : ppid;
	if ((p = threadfind(t->parent)) == NULL || p->space == NULL || p->sh == NULL) {
		t->space = spacenew();
		t->sh = sighandnew();
		return t;
	}
	t->state = THELD;
	t->armed = p->armed;
	t->space = spacecopy(p->space);
	t->sh = sighandcopy(p->sh);
	heldin(t);
	return t;
}

// threadlink completes a held thread from its parent's clone event.
void threadlink(struct thread *parent, struct thread *t, unsigned long flags)
{
	heldout(t);
	spaceunref(t->space);
	sighandunref(t->sh);
	t->space = NULL;
	t->sh = NULL;
	threadclone(parent, t, flags);
	t->state = TLIVE;
}

// orphaned reports whether held thread t can no longer expect its parent's
// clone event: the parent process died or exec'd (gone), or a held process
// was reparented, which happens when its creator dies.
static int orphaned(struct thread *t, pid_t gone)
{
	pid_t tgid, ppid;

	if (t->parent == gone)
		return 1;
	if (t->tgid != t->tid)
		return 0;
	lineage(t->tid, &tgid, &ppid);
	return ppid != t->parent;
}

// threadorphan returns a held thread that will never be linked now that
// process gone died or exec'd, made live with its provisional state; NULL
// when there is none.
struct thread *threadorphan(pid_t gone)
{
	for (size_t i = 0; i < nheld; i++) {
		struct thread *t = held[i];
		if (orphaned(t, gone)) {
			heldout(t);
			t->state = TLIVE;
			return t;
		}
	}
	return NULL;
}

// ---- stopping a process for its kill (signal.c) ----

// threadinterrupt asks every running thread of process tgid but except to
// stop. PTRACE_INTERRUPT makes a seized thread stop at once (a blocking
// syscall is interrupted, to be restarted; one that is copying returns
// first); its stop then reaches the loop like any other, and resume
// freezes it there. A thread already stopped keeps its stop. One that
// cannot be interrupted (ESRCH) cannot run either.
void threadinterrupt(pid_t tgid, pid_t except)
{
	for (size_t b = 0; b < NBUCKET; b++)
		for (struct thread *t = buckets[b]; t != NULL; t = t->hnext)
			if (t->tgid == tgid && t->tid != except && t->state == TLIVE && !t->frozen &&
			    ptrace(PTRACE_INTERRUPT, t->tid, 0, 0) < 0)
				t->frozen = 1;  // gone: a leader that exited alone is a zombie
				                // whose report waits for the other threads
}

// threadsfrozen reports whether no thread of process tgid but except can
// run: each is frozen, or has not had its first stop yet (TNEW: it will be
// frozen there; THELD: held stopped).
int threadsfrozen(pid_t tgid, pid_t except)
{
	for (size_t b = 0; b < NBUCKET; b++)
		for (struct thread *t = buckets[b]; t != NULL; t = t->hnext)
			if (t->tgid == tgid && t->tid != except && t->state == TLIVE && !t->frozen)
				return 0;
	return 1;
}
