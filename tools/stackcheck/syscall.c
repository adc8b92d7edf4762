// syscall: the check at every syscall entry, and what the tracked calls do
// to the model at their exit.
//
// Entry: SP must be MAP_STACK memory of the thread's space, else the
// thread's process is doomed (signal.c: the call never runs, the process is
// stopped, reported and killed). Then the calls that change the model save
// their arguments, and any tracee memory they point at, for the exit stop:
// the kernel copies that memory at entry too.
//
// Exit: only a successful call changes the model, and its result (the new
// address of mmap and mremap) is known only there. Tracked calls:
//   mmap         MAP_STACK sets the flag on the new range, anything else
//                clears it (a MAP_FIXED remap replaces what was there);
//   munmap       clears it, at ENTRY: once the kernel has run the call
//                another thread may map the same range, and its mmap exit
//                stop can reach us before this call's exit stop would,
//                which would then wipe the new mapping. A failing munmap
//                (bad arguments) is rare enough to accept the loss;
//   mremap       moves it with the pages (spacemremap);
//   sigaltstack  sets the thread's signal stack and, as OpenBSD's remap
//                does, marks its span MAP_STACK (no zeroing: see docs);
//   rt_sigaction records disposition and flags for signal delivery;
//   clone family saves the flags for the clone event (no exit needed).
// Not tracked: mprotect, madvise, brk (no effect on MAP_STACK), shmat (see
// docs), and every 32-bit (int $0x80) call.

#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "stackcheck.h"

// peek copies n bytes of t's memory at addr; the call is one syscall, far
// cheaper than a PEEKDATA per word.
static int peek(pid_t tid, uintptr_t addr, void *buf, size_t n)
{
	struct iovec local = { buf, n }, remote = { (void *)addr, n };

	return process_vm_readv(tid, &local, 1, &remote, 1, 0) == (ssize_t)n ? 0 : -1;
}

// readaux fetches the memory a tracked call reads at entry into p->aux.
static void readaux(pid_t tid, struct pending *p)
{
	switch (p->nr) {
	case SYS_rt_sigaction:          // struct kernel_sigaction: handler, flags
		p->auxok = p->a[1] != 0 && peek(tid, p->a[1], p->aux, 2 * sizeof p->aux[0]) == 0;
		break;
	case SYS_sigaltstack:           // stack_t: ss_sp, ss_flags (+pad), ss_size
		p->auxok = p->a[0] != 0 && peek(tid, p->a[0], p->aux, 3 * sizeof p->aux[0]) == 0;
		break;
	case SYS_clone3:                // struct clone_args starts with flags
		p->auxok = peek(tid, p->a[0], p->aux, sizeof p->aux[0]) == 0;
		break;
	default:
		p->auxok = 0;
	}
}

static int needexit(long nr)
{
	switch (nr) {
	case SYS_mmap:
	case SYS_mremap:
	case SYS_sigaltstack:
	case SYS_rt_sigaction:
		return 1;
	}
	return 0;
}

static int saved(long nr)
{
	return needexit(nr) || nr == SYS_clone || nr == SYS_clone3 ||
	    nr == SYS_fork || nr == SYS_vfork || nr == SYS_munmap;
}

// sysenter checks t at a syscall entry. Returns 1 when the exit stop is
// needed; *resumesig is the signal to resume with.
int sysenter(struct thread *t, struct sysregs *r, int *resumesig)
{
	struct violation v = {
		.t = t, .nr = r->nr, .compat = r->compat, .sp = r->sp, .pc = r->pc,
	};

	*resumesig = 0;
	t->sys.nr = -1;
	if (!t->armed)
		return 0;
	tr.nsyscalls++;
	if (!spacecheck(t->space, t->tid, r->sp) && !doomed(t->tgid)) {
		v.reason = "not MAP_STACK";
		doom(t, &v, 1);
		return 0;
	}
	if (r->compat || !saved(r->nr))
		return 0;
	t->sys.nr = r->nr;
	for (int i = 0; i < 6; i++)
		t->sys.a[i] = r->a[i];
	if (r->nr == SYS_munmap && t->space) {
		spacemunmap(t->space, r->a[0], r->a[1]);
		t->sys.nr = -1;
		return 0;
	}
	readaux(t->tid, &t->sys);
	return needexit(r->nr);
}

// stackflags tells whether an mmap with these flags is MAP_STACK memory on
// OpenBSD, which refuses (EINVAL) MAP_STACK unless the mapping is private
// and anonymous. Its PROT_READ|PROT_WRITE rule is not applied: glibc maps
// thread stacks PROT_NONE first and opens them with mprotect.
static int stackflags(struct thread *t, unsigned long flags)
{
	unsigned long need = MAP_ANONYMOUS | MAP_PRIVATE;

	if (!(flags & MAP_STACK))
		return 0;
	if ((flags & need) == need)
		return 1;
	note("pid=%d tid=%d mmap MAP_STACK without MAP_ANON|MAP_PRIVATE "
	    "(EINVAL on OpenBSD): not counted as MAP_STACK", (int)t->tgid, (int)t->tid);
	return 0;
}

static void setaltstack(struct thread *t, struct pending *p)
{
	uintptr_t lo, hi;

	if (!p->auxok)
		return;
	if ((int)p->aux[1] & SS_DISABLE) {
		t->alt.on = 0;
		return;
	}
	t->alt = (struct altstack){ .sp = p->aux[0], .size = p->aux[2], .on = 1 };
	altspan(t->alt.sp, t->alt.size, &lo, &hi);
	if (lo < hi)
		spacemmap(t->space, lo, hi - lo, 1);
}

// sysexit applies the effect of the tracked call t is returning from.
void sysexit(struct thread *t, struct sysregs *r)
{
	struct pending *p = &t->sys;
	long nr = p->nr;

	p->nr = -1;
	if (nr < 0 || t->space == NULL || (r->rval < 0 && r->rval > -4096))
		return;
	switch (nr) {
	case SYS_mmap:
		spacemmap(t->space, r->rval, p->a[1], stackflags(t, p->a[3]));
		break;
	case SYS_mremap:
		spacemremap(t->space, p->a[0], p->a[1], r->rval, p->a[2],
		    (p->a[3] & MREMAP_DONTUNMAP) || p->a[1] == 0);
		break;
	case SYS_sigaltstack:
		setaltstack(t, p);
		break;
	case SYS_rt_sigaction:
		if (p->auxok)
			sigaction_apply(t->sh, (int)p->a[0],
			    &(struct sigact){ p->aux[0], p->aux[1] });
		break;
	}
}

// cloneflags returns the clone flags of the call that produced a
// clone/fork/vfork event in t; the event kind is the fallback.
unsigned long cloneflags(struct thread *t, int event)
{
	switch (t->sys.nr) {
	case SYS_clone:
		return t->sys.a[0];
	case SYS_clone3:
		if (t->sys.auxok)
			return t->sys.aux[0];
		break;
	case SYS_fork:
		return 0;
	case SYS_vfork:
		return CLONE_VM | CLONE_VFORK;
	}
	if (event == PTRACE_EVENT_FORK)
		return 0;
	if (event == PTRACE_EVENT_VFORK)
		return CLONE_VM | CLONE_VFORK;
	return CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
}
