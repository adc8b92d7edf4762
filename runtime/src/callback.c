/*
 * callback.c: foreign threads calling into the runtime (sq_callback).
 *
 * A C thread the runtime did not create has no g. On its first callback it
 * borrows an M from the extra-M list (needm) and that M's g0 becomes the
 * thread's own C stack; the callback itself runs on the M's callback G, a
 * G with its own stack that is locked to the M. Leaving a callback is a
 * syscall window (the thread goes back to C, which may block), so the
 * callback G enters and exits it exactly like a G making a system call,
 * and stays in it (Gsyscall) while the thread is in C: the first callback
 * after needm takes it from Gdead into the window, each callback leaves
 * and re-enters the window, and dropm takes it from Gsyscall to Gdead, as
 * Go's needm and dropm do with the extra M's curg. Between callbacks the
 * G is the thread's, not a goroutine (gparkedinc): sq_stats's count and
 * the quiescent check leave it out.
 *
 * needm, in this order: take an M, set g0's bounds from sp, install the
 * signal stack (minit), and only then install g. dropm is the mirror:
 * clear g, remove the signal stack (unminit), give the M back. A signal
 * landing at any instruction finds either no g (the handler touches
 * nothing of the M's and forwards it, badsignal) or a g whose M is whole.
 * So neither blocks signals, and the thread's mask is left alone: the two
 * sigaltstack calls are the only system calls of an attach and a detach.
 * A signal landing between "g installed" and "signal stack ready" (the
 * order before the fix) would find a g and run the runtime's handler on
 * whatever stack the thread happened to be on.
 *
 * Binding (default; SQ_CALLBACK_BIND=0 turns it off): after the first
 * callback the M stays with the thread, g = its g0, until the thread exits
 * and a pthread key destructor runs dropm. Since the thread may switch
 * stacks between callbacks (coroutines), every callback re-derives g0's
 * bounds when sp is outside them — unless runtime frames are up the stack
 * (m->ncgo > 0: a callback from C that sq_ccall is running), when moving
 * g0 would orphan those frames: that is "callback with sp out of bounds".
 * Between callbacks g0's guard is 0: the thread's own C is not checked.
 *
 * A callback from C run by sq_ccall (on any M) runs on the G that made the
 * sq_ccall, below the frames it left on its stack (g->ccallsp).
 *
 * Extra M states (m->extrastate), changed only under extralock, so that a
 * check holding it sees the list and the states agree at any time:
 *   NEW        made by newextram, not yet on the list
 *   FREE       on the list (and only then)
 *   ATTACHED   taken by needm: from that moment a foreign thread's, bound
 *              or in a callback (nattached counts them)
 *   DETACHING  dropm under way: g being cleared, the M not yet back
 *
 * A thread that dies inside a callback (pthread_exit from the callback's
 * C, or a cancellation) leaves runtime frames, a running G and maybe a P
 * behind, which nothing can unwind. The attach key's destructor runs at
 * every thread exit while the thread holds an M (bound or in a callback):
 * between callbacks it detaches; inside one it is the fatal "thread exited
 * with runtime frames on its stack".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"
#include "os.h"
#include "sq_harness.h"

enum {
	G0_ESTIMATE = 64 << 10,	/* assumed C stack below sp when pthread cannot say */
	G0_ABOVE    = 1024,
};

static Lock extralock;
static M *extram;
static int32_t nextram;
static int32_t nattached;
static pthread_key_t bindkey;

static void unbind(void *arg);

void callback_init(void)
{
	pthread_key_create(&bindkey, unbind);
}

int32_t extram_count(void)
{
	return __atomic_load_n(&nextram, __ATOMIC_ACQUIRE);
}

int32_t extram_attached(void)
{
	return __atomic_load_n(&nattached, __ATOMIC_ACQUIRE);
}

/* g, and whose M it is: no g is a foreign thread not attached (or
 * sysmon, or a thread mid attach/detach); an extra M is a foreign
 * thread's; any other M the runtime started. */
int sq_harness_attached(void)
{
	G *gp = getg();

	if (!SQ_HARNESS)
		return -ENOSYS;
	if (!gp || !gp->m)
		return SQ_ATTACHED_NONE;
	return gp->m->isextra ? SQ_ATTACHED_EXTRA : SQ_ATTACHED_M;
}

/* A new extra M and its callback G, in EXTRA_NEW. Runs with g NULL. The
 * callback G is locked to the M for good (lockedint): it is the foreign
 * thread's, dead between callbacks. */
static M *newextram(void)
{
	M *mp = allocm(true);
	G *gp = gnew(0);

	gp->status = Gdead;	/* first state of a callback G, not a transition */
	gp->goid = __atomic_add_fetch(&sched.goidgen, 1, __ATOMIC_RELAXED);
	gp->lockedm = mp;
	mp->lockedg = gp;
	mp->lockedint = 1;
	return mp;
}

/* Give mp back to the list (from NEW or DETACHING). */
static void extram_put(M *mp)
{
	lock(&extralock);
	mp->extrastate = EXTRA_FREE;
	mp->schedlink = extram;
	extram = mp;
	__atomic_add_fetch(&nextram, 1, __ATOMIC_RELEASE);
	unlock(&extralock);
}

/* The list's head, now ATTACHED, or NULL. */
static M *extram_pop(void)
{
	M *mp;

	lock(&extralock);
	mp = extram;
	if (mp) {
		extram = mp->schedlink;
		__atomic_sub_fetch(&nextram, 1, __ATOMIC_RELEASE);
		mp->extrastate = EXTRA_ATTACHED;
		__atomic_add_fetch(&nattached, 1, __ATOMIC_RELEASE);
	}
	unlock(&extralock);
	return mp;
}

/* Take an M, and keep one spare on the list for the next thread. */
static M *extram_get(void)
{
	M *mp;

	while ((mp = extram_pop()) == NULL)
		extram_put(newextram());
	if (extram_count() == 0)
		extram_put(newextram());
	return mp;
}

/* The extra Ms as one consistent picture, taken under extralock (for
 * sq_check): how many are in each state, how many are on the list and how
 * many of those are not FREE, and the two counters. Any thread. */
void extram_census(Extracensus *c)
{
	M *mp;

	memset(c, 0, sizeof *c);
	lock(&extralock);
	for (mp = extram; mp; mp = mp->schedlink) {
		c->listlen++;
		if (mp->extrastate != EXTRA_FREE)
			c->listbad++;
	}
	for (mp = __atomic_load_n(&allm, __ATOMIC_ACQUIRE); mp; mp = mp->alllink) {
		if (!mp->isextra || mp->extrastate > EXTRA_DETACHING)
			continue;
		c->nstate[mp->extrastate]++;
		/* A free M ran its last call-out and its last lock to the end. */
		if (mp->extrastate == EXTRA_FREE && (mp->ncgo || mp->locks))
			c->freebusy++;
		/* dropm ended its callback G's window before freeing it. */
		if (mp->extrastate == EXTRA_FREE && mp->lockedg &&
		    atomic_load32(&mp->lockedg->status) != Gdead)
			c->freelive++;
		/* A bound thread gives its M back in its key destructor, which
		 * runs before the thread is gone: one that is gone took it along. */
		if (mp->extrastate == EXTRA_ATTACHED && mp->procid &&
		    os_tgkill(mp->procid, 0) == -ESRCH && !c->orphans++)
			c->orphan_tid = mp->procid;
	}
	c->count = extram_count();
	c->attached = extram_attached();
	unlock(&extralock);
}

/* g0 covers the C stack around sp: the thread's own bounds when the
 * threads library knows them and they contain sp, else an estimate. */
NOSPLIT static void g0_fromsp(M *mp, uintptr sp)
{
	uintptr lo, hi;

	if (os_thread_stack(&lo, &hi) < 0 || sp < lo || sp >= hi) {
		lo = sp - G0_ESTIMATE;
		hi = sp + G0_ABOVE;
	}
	mp->g0->stack.lo = lo;
	mp->g0->stack.hi = hi;
	mp->g0->stackguard = lo + STACK_GUARD;
}

/* g goes in (attach) and comes out (detach): the first and last moment a
 * signal handler on this thread finds the M. */
NOSPLIT static inline void attachg(M *mp)
{
	setg(mp->g0);
	FAULT(NEEDM_AFTER_SETG);
}

NOSPLIT static inline void detachg(void)
{
	clearg();
	FAULT(DROPM_AFTER_CLEARG);
}

/* Attach the calling thread (g == NULL). The M's state is made whole
 * before g is installed: until then a signal finds no g (badsignal) and
 * touches nothing of the M's, and from then on it finds g0 with its
 * bounds and the signal stack in place. So no instruction here needs
 * signals blocked, and the thread's mask is never changed. Before the fix
 * g came first and the signal stack after it, with signals open. */
NOSPLIT void needm(void)
{
	M *mp = extram_get();

	if (REGRESS(ATTACHSIG))
		attachg(mp);
	g0_fromsp(mp, arch_getsp());
	if (REGRESS(ATTACHSIG))
		split_setword(mp->g0->stackguard);	/* g is this g0 */
	FAULT(NEEDM_BEFORE_MINIT);
	minit(mp);
	FAULT(NEEDM_AFTER_MINIT);
	if (!REGRESS(ATTACHSIG))
		attachg(mp);
	mp->attachdone = true;
}

/* Detach the calling thread from its M (g == its g0): needm backwards. g
 * goes first, then the signal stack, then the M. Before the fix the signal
 * stack went first, with g still set and signals open. */
NOSPLIT void dropm(void)
{
	M *mp = getg()->m;

	mp->inC = false;
	/* The callback G has been in its window since the M's first
	 * callback (cgocallbackg leaves it there); a thread detached after
	 * none at all left it dead. */
	if (atomic_load32(&mp->lockedg->status) == Gsyscall)
		casgstatus(mp->lockedg, Gsyscall, Gdead);
	lock(&extralock);
	mp->extrastate = EXTRA_DETACHING;
	__atomic_sub_fetch(&nattached, 1, __ATOMIC_RELEASE);
	unlock(&extralock);
	if (!REGRESS(ATTACHSIG))
		detachg();
	/* Until here a signal on g0's stack, with the thread's own signal
	 * stack taken away, is handled there (signal.c, adjustsigstack). */
	mp->attachdone = false;
	FAULT(DROPM_BEFORE_UNMINIT);
	unminit(mp);
	FAULT(DROPM_AFTER_UNMINIT);
	if (REGRESS(ATTACHSIG))
		detachg();
	mp->procid = 0;
	extram_put(mp);
}

/* The attach key's destructor: the thread is exiting while it holds an M.
 * Between callbacks (bound) it detaches. Inside a callback the thread is
 * dying under the runtime's frames (pthread_exit from the callback's C,
 * cancellation): nothing can unwind them, and the callback's G, its P and
 * the M would be lost without a word. NOSPLIT: g may be the callback's G
 * while sp is wherever the threads library runs destructors. */
NOSPLIT static void unbind(void *arg)
{
	M *mp = arg;

	if (mp->incallback) {
		printlock();
		prints("runtime: thread ");
		printi(os_gettid());
		prints(" exited inside a callback on M");
		printi(mp->id);
		printnl();
		printunlock();
		throw(F_THREAD_EXIT);
	}
	if (getg() != mp->g0)
		setg(mp->g0);
	dropm();
}

/* A bound M's thread called in again, maybe from another stack. */
NOSPLIT static void g0_update(M *mp)
{
	uintptr sp = arch_getsp();
	G *g0 = mp->g0;
	bool in = sp > g0->stack.lo && sp <= g0->stack.hi;

	if (in)
		return;
	if (mp->ncgo > 0) {
		printlock();
		prints("runtime: callback sp=");
		printx(sp);
		prints(" outside g0 [");
		printx(g0->stack.lo);
		prints(",");
		printx(g0->stack.hi);
		prints(") with runtime frames up the stack\n");
		printunlock();
		throw(F_CALLBACK_SP);
	}
	if (!REGRESS(STACKSWITCH))
		g0_fromsp(mp, sp);
}

/* On g0 (the C stack), bounds already good. Pick the G, then switch.
 * Never inlined: its split check is the first look at g0's bounds after
 * g0_update (inlined into the nosplit sq_callback, it would lose it, and a
 * bound M whose g0 bounds were not re-derived, the stackswitch variant,
 * would end in the harness's bounds check rather than morestack on g0). */
__attribute__((noinline)) static void callback_g0(Cb *cb)
{
	M *mp = cb->mp;
	G *g0 = mp->g0;
	uintptr save = g0->sched.sp, sp;

	FAULT(CALLBACK_ENTER);
	if (SQ_HARNESS && (arch_getsp() <= g0->stack.lo || arch_getsp() > g0->stack.hi))
		throwf(F_INVARIANT, "callback: g0 bounds do not contain sp");
	if (mp->ncgo > 0) {
		cb->gp = mp->curg;
		sp = cb->gp->ccallsp - ARCH_REDZONE - 256;
	} else {
		cb->gp = mp->lockedg;
		sp = gstacktop(cb->gp);
	}
	sp &= ~(uintptr)(ARCH_STACK_ALIGN - 1);
	/* Nested mcall/systemstack work must go below the C frames. */
	g0->sched.sp = (arch_getsp() - 512) & ~(uintptr)(ARCH_STACK_ALIGN - 1);
	mp->curg = cb->gp;
	cb->gp->m = mp;
	setg(cb->gp);
	asan_switch_start_ctx(&cb->asan, cb->gp->stack.lo, cb->gp->stack.hi);
	sq_oncall(sp, cgocallbackg, cb, NULL);
	asan_switch_finish_ctx(&cb->asan);
	setg(cb->gp->m->g0);
	mp = cb->gp->m;
	if (mp->ncgo == 0) {
		mp->curg = NULL;
		cb->gp->m = NULL;
	}
	g0->sched.sp = save;
}

NOSPLIT int sq_callback(int (*fn)(void *), void *arg)
{
	G *gp = getg();
	Cb cb = { .fn = fn, .arg = arg };
	bool attached = false, incb;
	M *mp;

	bool incgo;

	if (!gp) {
		schedinit();
		needm();
		attached = true;
		gp = getg();
		pthread_setspecific(bindkey, mp = gp->m);	/* from here, exit is noticed */
	}
	mp = gp->m;
	if (gp != mp->g0)
		throwf(F_CALLBACK_FROM_G, "sq_callback: called on a goroutine or signal stack; use sq_ccall to run C that calls back");
	if (!attached)
		g0_update(mp);
	incb = mp->incallback;
	incgo = mp->incgo;
	mp->incallback = true;
	mp->incgo = false;
	mp->inC = false;
	/* Between callbacks an extra M's g0 guard is 0: its thread runs its
	 * own C, on whatever stack it likes, and that is not ours to check. */
	setguard_running(mp->g0, mp->g0->stack.lo + STACK_GUARD);
	cb.mp = mp;
	callback_g0(&cb);
	mp->incallback = incb;
	mp->incgo = incgo;
	if (mp->isextra && !incb) {
		setguard_running(mp->g0, 0);
		mp->inC = true;
	}
	/* Bound, the M stays until the key's destructor detaches at exit. */
	if (attached && !sq_settings.callback_bind) {
		pthread_setspecific(bindkey, NULL);
		dropm();
	}
	return cb.ret;
}
