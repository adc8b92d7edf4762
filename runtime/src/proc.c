/*
 * proc.c: the scheduler.
 *
 * Gs run on Ms that hold Ps. Each P has a lock-free run queue that its owner
 * puts to and gets from and that other Ps steal half of; a global run queue
 * under sched.lock takes overflow, preempted Gs and Gs leaving syscalls.
 *
 * An M with nothing to run spins looking for work for a while (at most half
 * of the busy Ps' worth of spinning Ms), then gives its P back to the idle
 * list and parks on its note. Whoever makes a G runnable calls wakep, which
 * starts a spinning M if there is an idle P and nobody spins already. A
 * spinning M that finds work wakes another spinner before it runs it, so
 * work fans out without thundering herds.
 *
 * A G locked to an M (sq_lockosthread, or a callback G, locked to its
 * foreign thread) runs only there: the M that dequeues it hands over its P
 * (startlockedm) and the locked M, parked in stoplockedm, runs it. A G that
 * exits while locked takes its M with it (mexit): the thread may be in a
 * state nobody else should inherit, so it ends; its M waits on sched.freem
 * until the thread is gone and is then reused. M0, the main thread, cannot
 * end that way (the process would go on without its main thread): it is
 * parked for good instead.
 *
 * Deadlock (sq_main programs, checkdead): declared when no M runs, no G
 * can run, no timer is pending, and no thread exists that the runtime does
 * not own. A thread the runtime does not own may call in at any moment: a
 * C thread started by the program (from sq_ccall or straight from a G), a
 * bound thread between callbacks. Go's rule is coarser: in a program that
 * can receive callbacks (any cgo program) the extra M counts as running,
 * so a cgo program never deadlocks. Counting the threads keeps the check
 * where nothing can call in, and drops it while something might. It is
 * made whenever an M goes idle, and by sysmon while every P is idle (a
 * foreign thread's exit is not otherwise an event the scheduler sees).
 *
 * Everything that switches Gs runs on g0, reached through mcall. Those
 * continuations are named *_m and never return.
 *
 * sysmon runs on its own thread without an M or a P. It retakes Ps held by
 * Gs in syscalls (so a blocking read does not stall the other Gs) and asks
 * Gs that have run for more than 10 ms to yield, by poisoning their stack
 * guard and, once signals are up, by sending the M a preemption signal.
 *
 * Harness builds let a harness drive the scheduler with the same code
 * (sq_harness.h): hold sysmon (parked until released, woken by nothing
 * else), tick or retake in its place, and wait for the quiet state that
 * deterministic runs step from.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include "runtime.h"
#include "os.h"
#include "sq_harness.h"

__thread G *g __attribute__((tls_model("initial-exec")));
Sched sched;
P *allp;
int32_t sq_nprocs;
G *allg;
M *allm;
Lock allglock;
M m0;

static G *maing;
static uint32_t started;
static Lock startlock;
static pthread_key_t mkey;
static Note wedge;	/* M0 parks here for good when its locked G exits */

enum {
	SYSMON_MIN_US   = 20,
	SYSMON_MAX_US   = 10000,
	FORCE_PREEMPT_NS = 10 * 1000 * 1000,
	G0_STACK        = 1 << 20,
	FAIRNESS        = 64,	/* every FAIRNESS-th schedule looks at the global queue first */
	ERRSTR          = 128,
};

NOSPLIT const char *gstatusname(uint32_t s)
{
	static const char *const names[Gnstatus] = {
		"idle", "runnable", "running", "syscall", "waiting", "dead",
	};
	return s < Gnstatus ? names[s] : "?";
}

/* casgstatus (runtime.h) found a bad transition. */
NOSPLIT NORETURN void badstatus(G *gp, uint32_t old, uint32_t new)
{
	printlock();
	prints("runtime: casgstatus: goroutine ");
	printu(gp->goid);
	prints(" from ");
	prints(gstatusname(old));
	prints(" to ");
	prints(gstatusname(new));
	prints(" but status is ");
	prints(gstatusname(atomic_load32(&gp->status)));
	printnl();
	printunlock();
	throw(F_BAD_STATUS);
}

/* For a G about to run (setg then installs the guard word). */
NOSPLIT void gsetguard(G *gp)
{
	gp->stackguard = gguard(gp);
}

void g0_setstack(G *g0, uintptr lo, uintptr hi)
{
	g0->stack.lo = lo;
	g0->stack.hi = hi;
	g0->stackguard = lo + STACK_GUARD;
}

/* ---- context switches ---------------------------------------------------- */

NOSPLIT static void mcall_g0(void *arg)
{
	G *gp = arg;
	void (*fn)(G *) = gp->m->mcallfn;

	asan_switch_finish(NULL);	/* g0 starts afresh at its sched.sp */
	gp->sched.pc = *(uintptr *)(gp->sched.sp + ARCH_CTX_PC_OFF);
	fn(gp);
	throw(F_MCALL_RETURNED);
}

/* ASan: a G that exits, mcall(goexit0), leaves its stack for good. */
#if SQ_ASAN
static void goexit0(G *gp);
#define GOEXIT(fn) ((fn) == goexit0)
#else
#define GOEXIT(fn) 0
#endif

/* Save the current G's context and run fn(gp) on g0. fn never returns; the
 * G resumes here when someone gogo's it. */
NOSPLIT void mcall(void (*fn)(G *))
{
	G *gp = getg();
	M *mp = gp->m;

	if (gp == mp->g0 || gp == mp->gsignal)
		throw(F_MCALL_G0);
	mp->mcallfn = fn;
	/* ASan: the G's fake stack is kept for its return, unless it exits. */
	asan_switch_start(GOEXIT(fn) ? NULL : &gp->asanfake,
		mp->g0->stack.lo, mp->g0->stack.hi);
	setg(mp->g0);
	sq_mcall_switch(&gp->sched.sp, mp->g0->sched.sp, mcall_g0, gp);
	asan_switch_finish(gp->asanfake);
}

/* ASan: the frames left on this stack (g0's) are abandoned. Every G
 * resumes with an asan_switch_finish: in mcall, in yield_direct, or in
 * gstart for a new G. */
NOSPLIT NORETURN void gogo(G *gp)
{
	asan_switch_start(NULL, gp->stack.lo, gp->stack.hi);
	setg(gp);
	sq_gogo_switch(gp->sched.sp);
}

typedef struct Sysfn {
	void (*fn)(void *);
	void *arg;
	Asanctx asan;
} Sysfn;

/* No local may have its address taken here (asan_switch_back(NULL)). */
NOSPLIT static void systemstack_g0(void *arg)
{
	Sysfn *s = arg;

	asan_switch_finish_from(NULL, &s->asan);	/* g0 afresh at its sched.sp */
	FAULT(SYSTEMSTACK_G0);
	s->fn(s->arg);
	asan_switch_back(NULL, &s->asan);
}

/* Run fn(arg) on g0 and come back. Never inlined, like Go's (assembly):
 * inlined, fn's frame would be reserved on the caller's stack — the G's.
 * On g0 it just calls fn, and so it does
 * on threads without a g (sysmon, foreign threads before attach), whose own
 * stack is their system stack. From anything but g0 or curg (gsignal) it
 * is fatal: g0 may be in use by the code the signal interrupted, and the
 * switch back goes to m->curg, which is not the G we came from. Where gp
 * stands is the arch layer's call (arch_systemstack_from), as in Go. */
__attribute__((noinline)) NOSPLIT void systemstack(void (*fn)(void *), void *arg)
{
	G *gp = getg();
	M *mp = gp ? gp->m : NULL;
	int from = gp ? arch_systemstack_from(gp, mp->g0, mp->curg) : ARCH_SYS_NOSWITCH;
	Sysfn s = { .fn = fn, .arg = arg };

	if (from == ARCH_SYS_NOSWITCH) {
		fn(arg);
		return;
	}
	if (!REGRESS(GSIGNAL_SYSTEMSTACK) && from == ARCH_SYS_BAD)
		throw(F_SYSTEMSTACK_GSIGNAL);
	setg(mp->g0);
	asan_switch_start(&gp->asanfake, mp->g0->stack.lo, mp->g0->stack.hi);
	sq_oncall(mp->g0->sched.sp, systemstack_g0, &s, NULL);
	asan_switch_finish(gp->asanfake);
	setg(mp->curg);
}

/* ---- P lists and run queues ---------------------------------------------- */

void pidleput(P *p)
{
	if (p->runqhead != p->runqtail)
		throwf(F_BAD_P_STATE, "pidleput: P has runnable Gs");
	p->status = Pidle;
	p->link = sched.pidle;
	sched.pidle = p;
	xadd32(&sched.npidle, 1);
}

P *pidleget(void)
{
	P *p = sched.pidle;

	if (p) {
		sched.pidle = p->link;
		xadd32(&sched.npidle, -1);
	}
	return p;
}

NOSPLIT void acquirep(P *p)
{
	M *mp = getg()->m;

	if (mp->p || p->m || p->status != Pidle)
		throwf(F_BAD_P_STATE, "acquirep: P already owned");
	mp->p = p;
	p->m = mp;
	p->status = Prunning;
	if (UNLIKELY(atomic_load32(&sched.sysmonwait)))
		notewakeup(&sched.sysmonnote);
}

NOSPLIT P *releasep(void)
{
	M *mp = getg()->m;
	P *p = mp->p;

	if (!p || p->m != mp || p->status != Prunning)
		throwf(F_BAD_P_STATE, "releasep: P not owned");
	mp->p = NULL;
	p->m = NULL;
	p->status = Pidle;
	return p;
}

/* Global run queue; sched.lock held. */
void globrunqput(G *gp)
{
	gp->schedlink = NULL;
	if (sched.runqtail)
		sched.runqtail->schedlink = gp;
	else
		sched.runqhead = gp;
	sched.runqtail = gp;
	sched.runqsize++;
}

static G *globrunqpop(void)
{
	G *gp = sched.runqhead;

	if (gp) {
		sched.runqhead = gp->schedlink;
		if (!sched.runqhead)
			sched.runqtail = NULL;
		sched.runqsize--;
	}
	return gp;
}

/* Take a batch of at most max (0: no limit) from the global queue: return
 * one, queue the rest on p, whose queue must have room (it is empty, or
 * max is 1). sched.lock held: runqput must not overflow back into it. */
static G *globrunqget(P *p, int32_t max)
{
	int32_t n;
	G *gp;

	if (sched.runqsize == 0)
		return NULL;
	n = sched.runqsize / sq_nprocs + 1;
	if (n > sched.runqsize)
		n = sched.runqsize;
	if (n > RUNQ_SIZE / 2)
		n = RUNQ_SIZE / 2;
	if (max > 0 && n > max)
		n = max;
	gp = globrunqpop();
	while (--n > 0)
		runqput(p, globrunqpop());
	return gp;
}

/* Move half of p's full queue and gp to the global queue. Off the fast
 * path, so it runs on g0. */
typedef struct Putslow {
	P *p;
	G *gp;
	uint32_t h, t;
	bool ok;
} Putslow;

static bool runqputslow1(P *p, G *gp, uint32_t h, uint32_t t);

static void runqputslow_g0(void *arg)
{
	Putslow *a = arg;

	a->ok = runqputslow1(a->p, a->gp, a->h, a->t);
}

NOSPLIT static bool runqputslow(P *p, G *gp, uint32_t h, uint32_t t)
{
	Putslow a = { p, gp, h, t, false };

	systemstack(runqputslow_g0, &a);
	return a.ok;
}

static bool runqputslow1(P *p, G *gp, uint32_t h, uint32_t t)
{
	G *batch[RUNQ_SIZE / 2 + 1];
	uint32_t n = (t - h) / 2, i;

	for (i = 0; i < n; i++)
		batch[i] = p->runq[(h + i) % RUNQ_SIZE];
	if (!cas32(&p->runqhead, h, h + n))
		return false;
	batch[n] = gp;
	lock(&sched.lock);
	for (i = 0; i <= n; i++)
		globrunqput(batch[i]);
	unlock(&sched.lock);
	return true;
}

/* The runqput.slot fault site. newproc queues from a running G: a lock is
 * held across the site so that no action there (a yield, a preemption)
 * reschedules the G while its P's queue is half written. */
NOSPLIT static inline void runqput_site(void)
{
	G *g;

	if (!SQ_HARNESS || (g = getg()) == NULL || g->m == NULL)
		return;
	g->m->locks++;
	FAULT(RUNQPUT_SLOT);
	g->m->locks--;
}

/* Owner only. */
NOSPLIT void runqput(P *p, G *gp)
{
	uint32_t h, t;

	for (;;) {
		h = atomic_load32(&p->runqhead);
		t = p->runqtail;
		if (t - h < RUNQ_SIZE) {
			p->runq[t % RUNQ_SIZE] = gp;
			runqput_site();
			atomic_store32(&p->runqtail, t + 1);
			return;
		}
		if (runqputslow(p, gp, h, t))
			return;
	}
}

/* Owner only. Stealers race the owner for the head, so it takes a CAS;
 * with one P nobody steals (findrunnable only steals when there are
 * others) and a store does. */
NOSPLIT static G *runqget(P *p)
{
	uint32_t h, t;
	G *gp;

	if (sq_nprocs == 1) {
		h = p->runqhead;
		if (p->runqtail == h)
			return NULL;
		gp = p->runq[h % RUNQ_SIZE];
		atomic_store32(&p->runqhead, h + 1);
		return gp;
	}
	for (;;) {
		h = atomic_load32(&p->runqhead);
		t = p->runqtail;
		if (t == h)
			return NULL;
		gp = p->runq[h % RUNQ_SIZE];
		if (cas32(&p->runqhead, h, h + 1))
			return gp;
	}
}

/* Copy half of victim's queue into p's ring starting at p->runqtail. */
static uint32_t runqgrab(P *victim, P *p)
{
	uint32_t h, t, n, i, base = p->runqtail;

	for (;;) {
		h = atomic_load32(&victim->runqhead);
		t = atomic_load32(&victim->runqtail);
		n = t - h;
		n -= n / 2;
		if (n == 0)
			return 0;
		if (n > RUNQ_SIZE / 2)
			continue;	/* inconsistent h and t: read again */
		for (i = 0; i < n; i++)
			p->runq[(base + i) % RUNQ_SIZE] = victim->runq[(h + i) % RUNQ_SIZE];
		if (cas32(&victim->runqhead, h, h + n))
			return n;
	}
}

static G *runqsteal(P *p, P *victim)
{
	uint32_t t = p->runqtail, n = runqgrab(victim, p);
	G *gp;

	if (n == 0)
		return NULL;
	n--;
	gp = p->runq[(t + n) % RUNQ_SIZE];
	if (n)
		atomic_store32(&p->runqtail, t + n);
	return gp;
}

static bool runqempty(P *p)
{
	return atomic_load32(&p->runqhead) == atomic_load32(&p->runqtail);
}

/* ---- Ms ------------------------------------------------------------------ */

static void mput(M *mp)
{
	mp->schedlink = sched.midle;
	sched.midle = mp;
	sched.nmidle++;
}

static M *mget(void)
{
	M *mp = sched.midle;

	if (mp) {
		sched.midle = mp->schedlink;
		sched.nmidle--;
	}
	return mp;
}

/* stackownlock held: mpreinit hands out the signal stack. */
void mcommoninit(M *mp)
{
	lock(&sched.lock);
	mp->id = sched.mnext++;
	if (!mp->isextra)
		sched.mcount++;
	unlock(&sched.lock);
	noteclear(&mp->park);
	mpreinit(mp);
	/* Publish last: dumps walk allm without locks. */
	mp->alllink = __atomic_load_n(&allm, __ATOMIC_ACQUIRE);
	while (!__atomic_compare_exchange_n(&allm, &mp->alllink, mp, false,
			__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

/* A new M with its g0. A runtime M's g0 stack comes from stackalloc; an
 * extra M's g0 is whatever stack its foreign thread calls in on. Its
 * stacks and its place on allm appear together (stackownlock). */
M *allocm(bool extra)
{
	M *mp = calloc(1, sizeof *mp);
	G *g0 = calloc(1, sizeof *g0);

	if (!mp || !g0)
		throwf(F_NEWM, "allocm: out of memory");
	g0->isg0 = true;
	g0->status = Gdead;
	g0->m = mp;
	lock(&stackownlock);
	if (!extra)
		g0->stack = stackalloc(G0_STACK);
	mp->g0 = g0;
	mp->isextra = extra;
	mcommoninit(mp);
	unlock(&stackownlock);
	return mp;
}

/* Name the thread after its M, so tools (sigpoke -c, gdb, top -H) can
 * tell the runtime's threads apart. */
static void nameM(M *mp)
{
	char name[16];

	snprintf(name, sizeof name, "sq-m%lld", (long long)mp->id);
	pthread_setname_np(pthread_self(), name);
}

/* A runtime M's thread is ending while mkey still names its M: the thread
 * exited under the runtime (pthread_exit from C that sq_ccall ran). Its
 * G, its P and the runtime frames up its stack would be lost. */
NOSPLIT static void mkey_exit(void *arg)
{
	M *mp = arg;

	printlock();
	prints("runtime: thread ");
	printi(os_gettid());
	prints(" of M");
	printi(mp->id);
	prints(" exited under the runtime\n");
	printunlock();
	throw(F_THREAD_EXIT);
}

/* schedule's first call on a runtime M, on a fresh context below mstart's
 * frame (mstart stays resumable, for mexit). */
static void mstart1(void)
{
	M *mp = getg()->m;

	if (mp->nextp) {
		acquirep(mp->nextp);
		mp->nextp = NULL;
	}
	schedule();
}

/* The M's locked G exited and mexit came back here: every signal blocked,
 * signal stack and g gone, then the M waits on sched.freem for its thread
 * to be gone (os_threadgone) and someone to reuse it. */
static void mdestroy(M *mp)
{
	sigset_t all;

	sigfillset(&all);
	os_sigprocmask(SIG_SETMASK, &all, NULL);
	unminit(mp);
	mp->procid = 0;
	/* Its TCB goes with the thread: sysmon must not poison the word. */
	__atomic_store_n(&mp->splitword, NULL, __ATOMIC_RELEASE);
	clearg();
	pthread_setspecific(mkey, NULL);
	lock(&sched.lock);
	mp->freelink = sched.freem;
	sched.freem = mp;
	unlock(&sched.lock);
}

/* The first code on a runtime M's thread, on its g0 stack. Returns (and
 * the thread ends) only when mexit resumes it. */
static void *mstart(void *arg)
{
	M *mp = arg;
	G *g0 = mp->g0;
	uintptr top;

	g0->stackguard = g0->stack.lo + STACK_GUARD;
	setg(g0);
	mp->procid = os_gettid();
	/* The thread's split guard word, for sysmon to poison (preemptone),
	 * until mdestroy takes it back as the thread ends. */
	__atomic_store_n(&mp->splitword, split_wordaddr(), __ATOMIC_RELEASE);
	nameM(mp);
	pthread_setspecific(mkey, mp);
	minit(mp);
	/* g0 work starts below mstart's frame, which stays for the way out. */
	top = (arch_getsp() - 256) & ~(uintptr)(ARCH_STACK_ALIGN - 1);
	g0->sched.sp = top;
	sq_ctx_swap(&mp->exitsp, sq_ctx_make(top, mstart1));
	mdestroy(mp);
	return NULL;
}

/* An M from sched.freem whose thread is gone, made ready for a new
 * thread, or NULL. Its g0 and signal stacks are reused as they are. */
static M *mreuse(void)
{
	M **pp, *mp;

	lock(&sched.lock);
	for (pp = &sched.freem; (mp = *pp) != NULL; pp = &mp->freelink)
		if (os_threadgone(mp)) {
			*pp = mp->freelink;
			break;
		}
	if (mp) {
		mp->id = sched.mnext++;
		sched.mcount++;
	}
	unlock(&sched.lock);
	if (!mp)
		return NULL;
	mp->p = mp->nextp = mp->oldp = NULL;
	mp->curg = mp->lockedg = NULL;
	mp->locks = mp->ncgo = mp->lockedext = mp->lockedint = 0;
	mp->spinning = mp->incgo = mp->incallback = mp->throwing = mp->exiting = false;
	mp->preemptreq = 0;
	mp->freelink = NULL;
	noteclear(&mp->park);
	return mp;
}

static void newm(P *p, bool spinning)
{
	M *mp = mreuse();
	int r;

	if (!mp)
		mp = allocm(false);
	mp->nextp = p;
	mp->spinning = spinning;
	if (SQ_HARNESS && misuse_failnewm)
		r = -EAGAIN;
	else
		r = os_newthread(mp, mstart, mp->g0->stack.lo, mp->g0->stack.hi);
	if (r < 0) {
		printlock();
		prints("runtime: pthread_create: ");
		prints(strerror(-r));
		printnl();
		printunlock();
		throw(F_NEWM);
	}
}

typedef struct Startm {
	P *p;
	bool spinning;
} Startm;

static void startm_g0(void *arg);

/* Run p (an idle one if NULL) on an idle or new M. Thread creation wants
 * room and must not be preempted half-way: it runs on g0. */
NOSPLIT void startm(P *p, bool spinning)
{
	Startm s = { p, spinning };

	systemstack(startm_g0, &s);
}

static void startm_g0(void *arg)
{
	P *p = ((Startm *)arg)->p;
	bool spinning = ((Startm *)arg)->spinning;
	M *mp;

	lock(&sched.lock);
	if (!p) {
		p = pidleget();
		if (!p) {
			unlock(&sched.lock);
			if (spinning)
				xadd32(&sched.nmspinning, -1);
			return;
		}
	}
	mp = mget();
	unlock(&sched.lock);
	if (!mp) {
		newm(p, spinning);
		return;
	}
	mp->spinning = spinning;
	mp->nextp = p;
	notewakeup(&mp->park);
}

void wakep(void)
{
	if (atomic_load32(&sched.npidle) == 0)
		return;
	if (atomic_load32(&sched.nmspinning) != 0 || !cas32(&sched.nmspinning, 0, 1))
		return;
	startm(NULL, true);
}

/* Work waits for p: on its own queue, or on the global one. */
static inline bool haswork(P *p)
{
	return !runqempty(p) || sched.runqsize != 0;
}

/* p's M is going away (blocking syscall, locked M parking, a retake): find
 * p a new M if there is work for it, else put it on the idle list. With
 * spinning, when no M spins and no P is idle, p goes to a spinning M
 * instead, for work that may come while p's M is away (Go's rule). The
 * harness's retakes leave that out (sq_harness_retake). */
static void handoff(P *p, bool spinning)
{
	if (haswork(p)) {
		startm(p, false);
		return;
	}
	if (spinning && atomic_load32(&sched.nmspinning) + atomic_load32(&sched.npidle) == 0 &&
	    cas32(&sched.nmspinning, 0, 1)) {
		startm(p, true);
		return;
	}
	lock(&sched.lock);
	if (sched.runqsize) {
		unlock(&sched.lock);
		startm(p, false);
		return;
	}
	pidleput(p);
	unlock(&sched.lock);
}

void handoffp(P *p)
{
	handoff(p, true);
}

/* Take p back from the M that left it in Psyscall, and hand it off. The
 * status goes first, by CAS: that M, back from its call, races for p with
 * the same CAS (exitsyscallfast). syscalltick moves after, so that a look
 * that saw the old tick (sysmon's) knows that call is over. Returns whether
 * p was ours to take. */
static bool retakep(P *p, bool spinning)
{
	if (!cas32(&p->status, Psyscall, Pidle))
		return false;
	xadd32(&p->syscalltick, 1);
	handoff(p, spinning);
	return true;
}

static void checkdead(void);

/* Park the M until someone hands it a P. No P held, on g0. */
void stopm(void)
{
	M *mp = getg()->m;

	if (mp->locks)
		throw(F_SCHEDULE_LOCKS);
	if (mp->p)
		throwf(F_BAD_P_STATE, "stopm: holding a P");
	lock(&sched.lock);
	mput(mp);
	checkdead();
	unlock(&sched.lock);
	notesleep(&mp->park);
	noteclear(&mp->park);
	acquirep(mp->nextp);
	mp->nextp = NULL;
}

/* The M is locked to a G that is not runnable: give the P away and wait
 * until whoever dequeues the G hands a P back. */
void stoplockedm(void)
{
	M *mp = getg()->m;

	if (mp->p)
		handoffp(releasep());
	lock(&sched.lock);
	if (!mp->isextra)	/* extra Ms are not in mcount: their threads are foreign */
		sched.nmidlelocked++;
	checkdead();
	unlock(&sched.lock);
	notesleep(&mp->park);
	noteclear(&mp->park);
	lock(&sched.lock);
	if (!mp->isextra)
		sched.nmidlelocked--;
	unlock(&sched.lock);
	acquirep(mp->nextp);
	mp->nextp = NULL;
}

/* gp is locked to another M: hand it our P and wait for one ourselves. */
static void startlockedm(G *gp)
{
	M *mp = gp->lockedm;
	P *p = releasep();

	mp->nextp = p;
	notewakeup(&mp->park);
	stopm();
}

/* The deadlock check (see the file comment): sched.lock held; throws
 * with it released. */
static void checkdead(void)
{
	int32_t run, nthreads;
	bool waiting = false;
	G *gp;

	if (!sched.mainstarted)
		return;
	run = sched.mcount - sched.nmidle - sched.nmidlelocked - sched.nmsys;
	if (run > 0)
		return;
	for (gp = allg; gp; gp = gp->alllink) {
		uint32_t st = atomic_load32(&gp->status);

		if (st == Grunnable || st == Grunning || st == Gsyscall)
			return;
		waiting |= st == Gwaiting;
	}
	if (timers_pending())
		return;
	/* Every thread the runtime owns is an M in mcount, or sysmon. Any
	 * other may call in; an OS that cannot say counts as "maybe". */
	nthreads = os_nthreads();
	if (nthreads < 0 || nthreads > sched.mcount + 1)
		return;
	unlock(&sched.lock);
	if (!waiting && sched.goexitmain)
		throw(F_NO_GOROUTINES);
	throw(F_DEADLOCK);
}

/* ---- the scheduler loop -------------------------------------------------- */

static void resetspinning(void)
{
	M *mp = getg()->m;

	mp->spinning = false;
	if (xadd32(&sched.nmspinning, -1) == 0)
		wakep();
}

static uint32_t fastrand(void)
{
	static __thread uint32_t s;

	if (s == 0)
		s = (uint32_t)os_gettid() * 2654435761u | 1;
	s ^= s << 13;
	s ^= s >> 17;
	s ^= s << 5;
	return s;
}

static G *steal(P *p)
{
	int32_t i, n = 4 * sq_nprocs;
	P *victim;
	G *gp;

	for (i = 0; i < n; i++) {
		victim = &allp[fastrand() % (uint32_t)sq_nprocs];
		if (victim != p && (gp = runqsteal(p, victim)) != NULL)
			return gp;
	}
	return NULL;
}

/* Find a runnable G: local queue, global queue, other Ps. Parks the M when
 * there is none, and returns once it has both a P and a G. */
static bool picking(void);
static G *pickrunnable(P *p);

static G *findrunnable(void)
{
	M *mp = getg()->m;
	bool wasspinning;
	P *p;
	G *gp;
	int32_t i;

top:
	p = mp->p;
	/* An M woken with work must not take the queue's head past the picker:
	 * where a choice is made would depend on where this M was parked. */
	if (picking() && (gp = pickrunnable(p)) != NULL)
		return gp;
	if ((gp = runqget(p)) != NULL)
		return gp;
	if (UNLIKELY(timers_pending()))
		timer_run(nanotime());
	if (sched.runqsize) {
		lock(&sched.lock);
		gp = globrunqget(p, 0);
		unlock(&sched.lock);
		if (gp)
			return gp;
	}
	if (sq_nprocs > 1 && (mp->spinning ||
	    2 * atomic_load32(&sched.nmspinning) < (uint32_t)sq_nprocs - atomic_load32(&sched.npidle))) {
		if (!mp->spinning) {
			mp->spinning = true;
			xadd32(&sched.nmspinning, 1);
		}
		if ((gp = steal(p)) != NULL)
			return gp;
	}
	lock(&sched.lock);
	if (sched.runqsize) {
		gp = globrunqget(p, 0);
		unlock(&sched.lock);
		return gp;
	}
	pidleput(releasep());
	unlock(&sched.lock);
	FAULT(FINDRUNNABLE_IDLE);
	wasspinning = mp->spinning;
	if (mp->spinning) {
		mp->spinning = false;
		xadd32(&sched.nmspinning, -1);
	}
	/* Work queued after we looked but before the P went idle would be lost
	 * with nobody spinning: look once more, without a P. The global queue
	 * too: a G put there from a thread without a P (timer_run on sysmon)
	 * wakes nobody while we still counted as spinning. Our count dropped
	 * before we take sched.lock, and the putter takes it before reading
	 * the count: one of us sees the other. */
	if (wasspinning) {
		lock(&sched.lock);
		p = sched.runqsize ? pidleget() : NULL;
		unlock(&sched.lock);
		if (p) {
			acquirep(p);
			mp->spinning = true;
			xadd32(&sched.nmspinning, 1);
			goto top;
		}
	}
	for (i = 0; i < sq_nprocs; i++) {
		if (!runqempty(&allp[i])) {
			lock(&sched.lock);
			p = pidleget();
			unlock(&sched.lock);
			if (p) {
				acquirep(p);
				if (wasspinning) {
					mp->spinning = true;
					xadd32(&sched.nmspinning, 1);
				}
				goto top;
			}
			break;
		}
	}
	/* Parked until handed a P with work. Back to schedule's top rather
	 * than ours: an M woken here and one woken in exitsyscall0's stopm
	 * then take the same path, so what a woken M runs does not depend on
	 * where it happened to park (deterministic schedules need that). */
	stopm();
	return NULL;
}

NOSPLIT NORETURN void execute(G *gp)
{
	M *mp = getg()->m;

	casgstatus(gp, Grunnable, Grunning);
	gp->preempt = false;
	gsetguard(gp);
	mp->p->schedtick++;
	mp->curg = gp;
	gp->m = mp;
	gogo(gp);
}

/* ---- deterministic scheduling (harness builds) ----------------------------
 * With a picker installed and one P, every choice of the next G is the
 * picker's: all runnable Gs (global queue first, then the P's, in order)
 * are offered, it names one, and the rest go back in order. Fuzzers drive
 * the picker from their input, so a schedule replays from the input alone. */

static int (*picker)(void *ctx, int n);
static void *pickctx;

void sq_harness_picker(int (*pick)(void *ctx, int n), void *ctx)
{
	pickctx = ctx;
	__atomic_store_n(&picker, pick, __ATOMIC_RELEASE);
}

/* noinline: its array must not swell schedule's frame on every round. */
__attribute__((noinline)) static G *pickrunnable(P *p)
{
	G *cand[RUNQ_SIZE];
	int n = 0, k, i;

	lock(&sched.lock);
	while (sched.runqsize && n < RUNQ_SIZE / 2)
		cand[n++] = globrunqpop();
	unlock(&sched.lock);
	while (n < RUNQ_SIZE && (cand[n] = runqget(p)) != NULL)
		n++;
	if (n == 0)
		return NULL;
	k = picker(pickctx, n);
	if (k < 0 || k >= n)
		k = 0;
	for (i = 0; i < n; i++)
		if (i != k)
			runqput(p, cand[i]);
	return cand[k];
}

static bool picking(void)
{
	return SQ_HARNESS && sq_nprocs == 1 && __atomic_load_n(&picker, __ATOMIC_ACQUIRE);
}

/* One round of scheduling: find a G and run it. On g0, never returns. */
NORETURN void schedule(void)
{
	M *mp = getg()->m;
	G *gp;

	if (mp->locks)
		throw(F_SCHEDULE_LOCKS);
	if (mp->lockedg) {
		stoplockedm();
		execute(mp->lockedg);
	}
top:
	gp = NULL;
	if (picking())
		gp = pickrunnable(mp->p);
	if (!gp && mp->p->schedtick % FAIRNESS == 0 && sched.runqsize > 0) {
		lock(&sched.lock);
		gp = globrunqget(mp->p, 1);
		unlock(&sched.lock);
	}
	if (!gp)
		gp = runqget(mp->p);
	if (!gp && (gp = findrunnable()) == NULL)
		goto top;
	if (mp->spinning)
		resetspinning();
	if (gp->lockedm && gp->lockedm != mp) {
		startlockedm(gp);
		goto top;
	}
	execute(gp);
}

NOSPLIT static void dropg(M *mp, G *gp)
{
	mp->curg = NULL;
	gp->m = NULL;
}

/* ---- G life cycle -------------------------------------------------------- */

/* Put a dead G on the free list for its stack's size: sched.gfree for the
 * default size, sched.gfreesized for the rest (sq_spawn_stack). */
static void gfput(G *gp)
{
	G **list;

	lock(&sched.lock);
	list = gp->stack.hi - gp->stack.lo == stack_gsize() ? &sched.gfree : &sched.gfreesized;
	gp->schedlink = *list;
	*list = gp;
	sched.ngfree++;
	unlock(&sched.lock);
}

/* A dead G whose stack is size bytes, taken off its free list, or NULL.
 * The default size's list holds that size only: its first G serves. */
static G *gfget(size_t size)
{
	G **pp, *gp;

	lock(&sched.lock);
	pp = size == stack_gsize() ? &sched.gfree : &sched.gfreesized;
	while ((gp = *pp) != NULL && gp->stack.hi - gp->stack.lo != size)
		pp = &gp->schedlink;
	if (gp) {
		*pp = gp->schedlink;
		sched.ngfree--;
	}
	unlock(&sched.lock);
	return gp;
}

/* A G with a stack of size bytes (0: the default), status Gidle (new) or
 * Gdead (reused).
 *
 * A G lives in the top bytes of its own stack, and its frames start just
 * below it (gstacktop): a G and its stack are made together and never freed
 * (dead Gs are reused whole), and the stack's top page is the one its first
 * frames touch anyway, so an idle G costs that page and nothing from
 * malloc. stack.[lo, hi) stays the whole stack, as SQ_STACKSIZE or
 * sq_spawn_stack says. So a dead G cannot trade its stack for one of
 * another size (the G would go with it): it waits for a spawn that asks
 * for its size (gfget), and a size nobody has left gets a new G. */
G *gnew(size_t size)
{
	G *gp;
	Stack st;

	if (size == 0)
		size = stack_gsize();
	gp = gfget(size);
	if (gp) {
		/* ASan: its old frames were abandoned, and its fake stack
		 * freed when it exited (mcall(goexit0)). */
		asan_unpoison(gp->stack.lo, gp->stack.hi);
		if (SQ_ASAN)
			gp->asanfake = NULL;
		return gp;
	}
	/* A stack and its owner on allg appear together for sq_check. */
	lock(&stackownlock);
	st = stackalloc(size);
	gp = (G *)((st.hi - sizeof *gp) & ~(uintptr)63);
	memset(gp, 0, sizeof *gp);
	gp->stack = st;
	gp->status = Gidle;
	lock(&allglock);
	gp->alllink = allg;
	__atomic_store_n(&allg, gp, __ATOMIC_RELEASE);
	unlock(&allglock);
	unlock(&stackownlock);
	return gp;
}

static NORETURN void mexit(M *mp);

/* The G is done, on g0. A G that was locked to its M takes the M with it. */
static void goexit0(G *gp)
{
	M *mp = gp->m;
	bool locked = gp->lockedm != NULL;

	if (gp == maing) {	/* sq_goexit from the main G: the program goes on */
		maing = NULL;
		sched.goexitmain = true;
	}
	casgstatus(gp, Grunning, Gdead);
	dropg(mp, gp);
	if (mp->lockedint)
		throwf(F_INVARIANT, "goexit0: a G exited locked by the runtime (a callback's)");
	gp->lockedm = NULL;
	mp->lockedg = NULL;
	mp->lockedext = 0;
	gp->defer = NULL;	/* records of frames that are gone */
	gp->fn = NULL;
	gp->arg = NULL;
	gp->waitreason = NULL;
	gfput(gp);
	if (locked)
		mexit(mp);
	schedule();
}

/* Every G starts here, on its own stack, with g already set. */
ASAN_NOSPLIT static void gstart(void)
{
	G *gp = getg();
	int r;

	asan_switch_finish(NULL);	/* a new context */
	r = gp->fn(gp->arg);

	if (gp == maing)
		exit(r);
	mcall(goexit0);
}

static G *newproc(int (*fn)(void *), void *arg, size_t size)
{
	G *gp = gnew(size);
	uint32_t old = gp->status;

	gp->fn = fn;
	gp->arg = arg;
	gp->goid = __atomic_add_fetch(&sched.goidgen, 1, __ATOMIC_RELAXED);
	gp->throwsplit = false;
	gp->preempt = false;
	gp->lockedm = NULL;
	gp->defer = NULL;
	gp->asyncpc = 0;
	gp->pnotify = NULL;
	gp->sched.sp = sq_ctx_make(gstacktop(gp), gstart);
	gp->sched.pc = (uintptr)gstart;
	gsetguard(gp);
	casgstatus(gp, old, Grunnable);
	return gp;
}

static void spawn(int (*fn)(void *), void *arg, size_t size)
{
	G *gp = getg();
	G *newg;
	M *mp;

	if (!atomic_load32(&started))
		throw(F_NOT_INIT);
	if (!gp || !gp->m || !gp->m->p)
		throwf(F_BAD_ARG, "sq_spawn: not called from a goroutine");
	newg = newproc(fn, arg, size);
	mp = acquirem();
	runqput(mp->p, newg);
	releasem(mp);
	wakep();
}

void sq_spawn(int (*fn)(void *), void *arg)
{
	spawn(fn, arg, 0);
}

enum { MIN_SPAWN_STACK = 64 << 10 };

int sq_spawn_stack(int (*fn)(void *), void *arg, size_t size)
{
	if (size != 0 && (size < MIN_SPAWN_STACK || size > ((size_t)1 << 40)))
		return -EINVAL;
	spawn(fn, arg, (size + PAGE - 1) & ~(size_t)(PAGE - 1));
	return 0;
}

/* ---- wiring a G to its M, and ending a G from any depth -------------------
 * Runtime code is never preempted asynchronously, and these are NOSPLIT:
 * a G must not move to another M between reading its M and wiring itself
 * to it. */

NOSPLIT static G *runningg(const char *who)
{
	G *gp = getg();

	if (!atomic_load32(&started))
		throw(F_NOT_INIT);
	if (!gp || !gp->m || gp != gp->m->curg)
		throwf(F_BAD_ARG, who);
	return gp;
}

NOSPLIT void sq_lockosthread(void)
{
	G *gp = runningg("sq_lockosthread: not called from a goroutine");
	M *mp = gp->m;

	if (mp->lockedext == INT32_MAX)
		throwf(F_BAD_ARG, "sq_lockosthread: nesting overflow");
	mp->lockedext++;
	mp->lockedg = gp;
	gp->lockedm = mp;
}

/* As Go's UnlockOSThread: a call with no lock to undo does nothing. */
NOSPLIT void sq_unlockosthread(void)
{
	G *gp = runningg("sq_unlockosthread: not called from a goroutine");
	M *mp = gp->m;

	if (mp->lockedext == 0)
		return;
	mp->lockedext--;
	if (mp->lockedext == 0 && mp->lockedint == 0) {
		mp->lockedg = NULL;
		gp->lockedm = NULL;
	}
}

int sq_harness_lockcount(void)
{
	G *gp = getg();

	if (!gp || !gp->m || gp != gp->m->curg)
		return -1;
	return gp->lockedm ? gp->m->lockedext : 0;
}

void sq_defer_push(sq_defer *d, void (*fn)(void *), void *arg)
{
	G *gp = runningg("sq_defer_push: not called from a goroutine");

	d->fn = fn;
	d->arg = arg;
	d->next = gp->defer;
	gp->defer = d;
}

void sq_defer_pop(sq_defer *d, int run)
{
	G *gp = runningg("sq_defer_pop: not called from a goroutine");

	if (gp->defer != d)
		throwf(F_BAD_ARG, "sq_defer_pop: not the innermost cleanup");
	gp->defer = d->next;
	if (run)
		d->fn(d->arg);
}

/* Whether gp is running a callback: its M is in one, and gp is the G the
 * callback locked (the M runs nothing else meanwhile). */
NOSPLIT static bool incallback(G *gp)
{
	return gp->m->incallback && gp->m->lockedg == gp;
}

_Noreturn void sq_goexit(void)
{
	G *gp = runningg("sq_goexit: not called from a goroutine");
	sq_defer *d;

	/* Each record is off the list before it runs: a cleanup that calls
	 * sq_goexit goes on with the rest. */
	while ((d = gp->defer) != NULL) {
		gp->defer = d->next;
		d->fn(d->arg);
	}
	gp = getg();	/* the cleanups may have moved it */
	if (incallback(gp))
		throwf(F_GOEXIT_CALLBACK, "sq_goexit: the G is running a callback; return from it instead");
	mcall(goexit0);
	throw(F_MCALL_RETURNED);
}

/* The M's locked G has exited (on g0, holding the G's P): give the P away
 * and end the thread, back through mstart. M0 is parked for good instead:
 * the process must keep its main thread. */
static NORETURN void mexit(M *mp)
{
	handoffp(releasep());
	lock(&sched.lock);
	if (mp == &m0) {
		sched.nmsys++;
		checkdead();
		unlock(&sched.lock);
		for (;;)
			notesleep(&wedge);
	}
	sched.mcount--;
	mp->exiting = true;
	checkdead();
	unlock(&sched.lock);
	sq_gogo_switch(mp->exitsp);
}

static void goyield_m_impl(G *gp)
{
	M *mp = gp->m;

	casgstatus(gp, Grunning, Grunnable);
	dropg(mp, gp);
	FAULT(YIELD_DETACHED);
	runqput(mp->p, gp);
	schedule();
}

void goyield_m(G *gp)
{
	goyield_m_impl(gp);
}

/* The yield fast path: the next G is on our own run queue and nothing
 * waits globally or is locked elsewhere, so switch straight to it without
 * the round trip through g0. Everything a schedule would do for the two
 * Gs is done here, in the same order. Returns false to take the slow path.
 * (schedule's every-64th look at the global queue finds it empty here, so
 * it needs no test of its own.)
 *
 * Only with one P: the yielding G goes on the run queue before its context
 * is saved (the save is the switch itself), and with other Ps around a
 * stealer could take it and resume the stale context in between. With one
 * P nobody else reads the queue until we have switched, nobody else writes
 * it at all (runqget's store path), and the slot next leaves is where gp
 * goes: the queue cannot be full. */
NOSPLIT static bool yield_direct(G *gp)
{
	M *mp = gp->m;
	P *p = allp;
	uint32_t h, t;
	uintptr guard;
	G *next;

	if (sq_nprocs != 1 || mp->lockedg || gp->lockedm || sched.runqsize ||
	    (SQ_HARNESS && picker))
		return false;
	/* With one P, a running G's M holds allp[0]. Naming it so rather than
	 * as gp->m->p takes two loads off the chain each switch waits for:
	 * the next G's saved sp comes from p's queue (docs/bench.md). */
	if (SQ_HARNESS && mp->p != p)
		throwf(F_BAD_P_STATE, "yield: running G's M does not hold the only P");
	h = p->runqhead;
	t = p->runqtail;
	if (t == h)
		return false;
	next = p->runq[h % RUNQ_SIZE];
	if (next->lockedm)
		return false;	/* the slow path sorts it out */
	/* No split check can run from here to the switch (NOSPLIT all the
	 * way), so nothing can reschedule gp half-queued, except an armed
	 * fault site's action: harness builds hold a lock across it. */
	if (SQ_HARNESS)
		mp->locks++;
	atomic_store32(&p->runqhead, h + 1);
	casgstatus(gp, Grunning, Grunnable);
	p->runq[t % RUNQ_SIZE] = gp;
	atomic_store32(&p->runqtail, t + 1);
	FAULT(YIELD_QUEUED);	/* queued, context not yet saved */
	casgstatus(next, Grunnable, Grunning);
	/* execute's resets, as tests: they rarely change anything, and a
	 * store costs more than a load here. */
	if (UNLIKELY(next->preempt))
		next->preempt = false;
	guard = gguard(next);
	if (UNLIKELY(next->stackguard != guard))
		next->stackguard = guard;
	p->schedtick++;
	mp->curg = next;
	next->m = mp;
	if (SQ_HARNESS)
		mp->locks--;
	gp->sched.pc = (uintptr)__builtin_return_address(0);
	/* g moves first: a signal handler finds its M through g, so the G
	 * that g names must never be one already detached from this M. */
	setg(next);
	gp->m = NULL;
	asan_switch_start(&gp->asanfake, next->stack.lo, next->stack.hi);
	/* Alternate switches leave through alternate copies of the switch
	 * (asm.S): two Gs yielding to each other then resume through jumps
	 * that always go to the same place. */
	if (ARCH_CTX_SWAP_ALT && (p->schedtick & 1))
		sq_ctx_swap_alt(&gp->sched.sp, next->sched.sp);
	else
		sq_ctx_swap(&gp->sched.sp, next->sched.sp);
	asan_switch_finish(gp->asanfake);
	return true;
}

NOSPLIT void sq_yield(void)
{
	G *gp = getg();

	/* g is set only once the runtime has started. */
	if (UNLIKELY(!gp || !gp->m || gp != gp->m->curg)) {
		if (!atomic_load32(&started))
			throw(F_NOT_INIT);
		throwf(F_BAD_ARG, "sq_yield: not called from a goroutine");
	}
	if (yield_direct(gp))
		return;
	mcall(goyield_m);
}

/* Preempted: to the global queue, so that it goes behind everything. */
void gopreempt_m(G *gp)
{
	M *mp = gp->m;

	casgstatus(gp, Grunning, Grunnable);
	dropg(mp, gp);
	mp->npreempt++;
	__atomic_store_n(&gp->npreempt, gp->npreempt + 1, __ATOMIC_RELEASE);
	if (SQ_HARNESS && __atomic_load_n(&gp->pnotify, __ATOMIC_RELAXED)) {
		uint32_t *w = __atomic_exchange_n(&gp->pnotify, NULL, __ATOMIC_ACQ_REL);

		if (w)
			__atomic_store_n(w, 1, __ATOMIC_RELEASE);
	}
	lock(&sched.lock);
	globrunqput(gp);
	unlock(&sched.lock);
	schedule();
}

static void park_m(G *gp)
{
	M *mp = gp->m;
	Lock *l = mp->waitlock;

	casgstatus(gp, Grunning, Gwaiting);
	dropg(mp, gp);
	mp->waitlock = NULL;
	if (l)
		unlock(l);
	schedule();
}

/* Block the current G. If l is non-NULL it is held and is released once
 * the G is fully parked, so a waker that takes l sees it waiting. */
void gopark(Lock *l, const char *reason)
{
	G *gp = getg();

	gp->waitreason = reason;
	gp->m->waitlock = l;
	mcall(park_m);
}

void goready(G *gp)
{
	M *mp = acquirem();

	casgstatus(gp, Gwaiting, Grunnable);
	runqput(mp->p, gp);
	releasem(mp);
	wakep();
}

/* ---- sysmon -------------------------------------------------------------- */

typedef struct Sysmontick {
	uint32_t schedtick;
	int64_t schedwhen;
	uint32_t syscalltick;
	int64_t syscallwhen;
} Sysmontick;

/* What sysmon saw of each P at its last tick. sysmon's alone, but for
 * sq_harness_tick, which runs only while sysmon is held. */
static Sysmontick *pdesc;

/* Poison the split guard word of mp's thread, for a preemption request
 * made from another thread: in tcb mode the checks read the word, not the
 * G's guard (splitword.h). The M may have moved on to another G, g0 or
 * gsignal by now; a failed check there finds its word out of line with its
 * g and corrects it (split_miss). An extra M has no word here: its thread
 * may be gone; the preemption signal's handler rewrites the word from the
 * G's poisoned guard as it puts g back (signal.c, sighandler). An M that
 * ends takes its word back first (mdestroy); one caught between the load
 * here and its thread's end is the same race as preemptm's tgkill, and
 * the thread's TCB stays until the thread is joined (mreuse). Any thread. */
void splitpoison(M *mp)
{
	uintptr *w = __atomic_load_n(&mp->splitword, __ATOMIC_ACQUIRE);

	if (w && !__atomic_load_n(&mp->exiting, __ATOMIC_ACQUIRE))
		__atomic_store_n(w, STACK_PREEMPT, __ATOMIC_RELAXED);
}

/* sysmon's request to gp, running on mp: yield at the next split check,
 * or at once where asynchronous preemption finds a safe point. */
void preemptg(M *mp, G *gp)
{
	gp->preempt = true;
	gp->stackguard = STACK_PREEMPT;
	splitpoison(mp);	/* tcb mode: what the checks read */
	preemptm(mp);
}

static void preemptone(P *p)
{
	M *mp = p->m;
	G *gp;

	if (sq_settings.nopreempt || !mp || (gp = mp->curg) == NULL || gp->isg0)
		return;
	preemptg(mp, gp);
}

/* A P in the same system call at two ticks in a row is taken back if work
 * waits for it. With unwaited (sysmon's rule) it is taken anyway when no M
 * spins and no P is idle (nobody would run work that comes) or once the
 * call has gone on for 10 ms; without (sq_harness_tick) it is left. */
static bool syscalloverdue(P *p, Sysmontick *pd, int64_t now, bool unwaited)
{
	uint32_t t = atomic_load32(&p->syscalltick);

	if (pd->syscalltick != t) {
		pd->syscalltick = t;
		pd->syscallwhen = now;
		return false;
	}
	if (haswork(p))
		return true;
	return unwaited &&
	       (atomic_load32(&sched.nmspinning) + atomic_load32(&sched.npidle) == 0 ||
		pd->syscallwhen + FORCE_PREEMPT_NS <= now);
}

/* One tick: take back the Ps of overdue system calls, ask Gs that have run
 * for 10 ms to yield. Returns how many Ps it took back. */
static int retake(int64_t now, bool unwaited)
{
	int32_t i, n = 0;
	P *p;
	Sysmontick *pd;
	uint32_t t;

	for (i = 0; i < sq_nprocs; i++) {
		p = &allp[i];
		pd = &pdesc[i];
		switch (atomic_load32(&p->status)) {
		case Psyscall:
			if (syscalloverdue(p, pd, now, unwaited) && retakep(p, true))
				n++;
			break;
		case Prunning:
			t = atomic_load32(&p->schedtick);
			if (pd->schedtick != t) {
				pd->schedtick = t;
				pd->schedwhen = now;
				break;
			}
			if (pd->schedwhen + FORCE_PREEMPT_NS <= now)
				preemptone(p);
			break;
		}
	}
	return n;
}

/* How long sysmon may sleep: at most max, and not past the next timer. */
static int64_t sysmon_until(int64_t max, int64_t now)
{
	int64_t next = timer_next();

	return next - now < max ? (next > now ? next - now : 0) : max;
}

/* Harness builds: sysmon held (sq_harness_sysmon_hold). Both words change
 * under sched.lock; sysmonheld is also the holder's futex word. */
static uint32_t sysmonhold;	/* a harness wants sysmon parked */
static uint32_t sysmonheld;	/* sysmon is parked for it, and stays while sysmonhold */
static Note sysmonholdnote;

/* Sleep while every P is idle: there is nothing to retake or preempt until
 * someone takes a P or enters a system call, and they wake it (sysmonwait),
 * or the next timer is due. First it looks for a deadlock: a foreign
 * thread's exit, say, is no event the scheduler would see otherwise.
 * Not while a harness holds it: a hold wakes it from here to park in
 * sysmon_held instead, where nothing the program does wakes it. Returns
 * whether it slept. */
static bool sysmon_idle(void)
{
	bool slept = false;
	int64_t ns;

	if (atomic_load32(&sched.npidle) != (uint32_t)sq_nprocs)
		return false;
	lock(&sched.lock);
	if (atomic_load32(&sched.npidle) == (uint32_t)sq_nprocs &&
	    !(SQ_HARNESS && sysmonhold)) {
		/* Nothing runs: is anything left that can? (checkdead) */
		checkdead();
		ns = sysmon_until(1000LL * 1000 * 1000, os_nanotime());
		atomic_store32(&sched.sysmonwait, 1);
		unlock(&sched.lock);
		if (ns > 0)
			notetsleep(&sched.sysmonnote, ns);
		lock(&sched.lock);
		atomic_store32(&sched.sysmonwait, 0);
		noteclear(&sched.sysmonnote);
		slept = true;
	}
	unlock(&sched.lock);
	return slept;
}

/* Park while a harness holds sysmon. sysmonheld goes up under the lock
 * that saw sysmonhold up, and down only under the lock that saw it down:
 * so a holder that sets sysmonhold and then sees sysmonheld knows sysmon
 * is parked here, not on its way out to a tick. Returns whether it parked. */
static bool sysmon_held(void)
{
	if (!atomic_load32(&sysmonhold))
		return false;
	lock(&sched.lock);
	while (sysmonhold) {
		atomic_store32(&sysmonheld, 1);
		unlock(&sched.lock);
		os_futexwakeup(&sysmonheld, 1 << 30);
		notesleep(&sysmonholdnote);
		lock(&sched.lock);
		noteclear(&sysmonholdnote);	/* sysmonhold is looked at again after */
	}
	atomic_store32(&sysmonheld, 0);
	unlock(&sched.lock);
	return true;
}

static void *sysmon(void *arg)
{
	int64_t delay = SYSMON_MIN_US;
	int idle = 0;
	bool slept;

	(void)arg;
	for (;;) {
		os_usleep(sysmon_until(delay * 1000, os_nanotime()) / 1000);
		/* The hold is looked at after the idle sleep, which a hold
		 * ends: sysmon parks before it ticks again. */
		slept = sysmon_idle();
		if (SQ_HARNESS && sysmon_held())
			slept = true;
		/* Back off while there is nothing to do: after 50 quiet ticks
		 * the pace halves, down to one tick in 10 ms. A long sleep, or
		 * a P taken back from a system call (there is work about), puts
		 * it back at 20 us, as Go's sysmon does. */
		if (slept) {
			idle = 0;
			delay = SYSMON_MIN_US;
		}
		timer_run(os_nanotime());
		if (retake(os_nanotime(), true) > 0) {
			idle = 0;
			delay = SYSMON_MIN_US;
		} else if (++idle > 50 && delay < SYSMON_MAX_US) {
			delay *= 2;
		}
	}
	return NULL;
}

void sysmon_start(void)
{
	pthread_t t;
	pthread_attr_t attr;
	sigset_t all, old;

	pdesc = calloc((size_t)sq_nprocs, sizeof *pdesc);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* sysmon never handles signals: the runtime's go to Ms. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&t, &attr, sysmon, NULL) != 0)
		throw(F_NEWM);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
}

/* ---- the scheduler, driven by a harness (harness builds) -------------------
 * What a deterministic harness needs from the scheduler, done by the code
 * that does it for the runtime: quiet is the scheduler's own idea of idle,
 * a retake is sysmon's (retakep), a tick is sysmon's tick, and a held
 * sysmon is parked by sysmon itself. In normal builds each call returns
 * -ENOSYS, and the hold costs sysmon nothing (SQ_HARNESS is a constant). */

int sq_harness_quiet(int busy)
{
	int32_t i;

	if (!SQ_HARNESS)
		return -ENOSYS;
	if (atomic_load32(&sched.npidle) != (uint32_t)sq_nprocs ||
	    atomic_load32(&sched.nmspinning) != 0 ||
	    __atomic_load_n(&sched.runqsize, __ATOMIC_ACQUIRE) != 0)
		return 0;
	for (i = 0; i < sq_nprocs; i++)
		if (!runqempty(&allp[i]))
			return 0;
	/* An M counts as idle once stopm has queued it (mput), or stoplockedm
	 * counted it parked for its locked G, with the lock still held; it is
	 * only still (no more runtime code running, no more coverage counted)
	 * once it has dropped the lock to go to sleep. */
	return __atomic_load_n(&sched.nmidle, __ATOMIC_ACQUIRE) +
	       __atomic_load_n(&sched.nmidlelocked, __ATOMIC_ACQUIRE) + busy ==
	       __atomic_load_n(&sched.mcount, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&sched.lock.key, __ATOMIC_ACQUIRE) == 0;
}

int sq_harness_nthreads(void)
{
	if (!SQ_HARNESS)
		return -ENOSYS;
	return os_nthreads();
}

/* A P in Psyscall here belongs to a foreign thread back in C after its
 * callback, or to a G in a long call. Without work it goes straight to the
 * idle list: handoffp's spinning M would find nothing and park again, the
 * same state later, at a time the machine chose. */
int sq_harness_retake(void)
{
	int32_t i;
	int n = 0;

	if (!SQ_HARNESS)
		return -ENOSYS;
	for (i = 0; i < sq_nprocs; i++)
		if (atomic_load32(&allp[i].status) == Psyscall && retakep(&allp[i], false))
			n++;
	return n;
}

/* From C that sq_ccall runs: g is g0, curg the G in its window, and oldp
 * the P it left in Psyscall. */
int sq_harness_retake_mine(void)
{
	G *gp = getg();
	M *mp = gp ? gp->m : NULL;

	if (!SQ_HARNESS)
		return -ENOSYS;
	if (!mp || gp != mp->g0 || !mp->curg || !mp->oldp ||
	    atomic_load32(&mp->curg->status) != Gsyscall)
		return -EINVAL;
	return retakep(mp->oldp, false);
}

int sq_harness_sysmon_hold(void)
{
	if (!SQ_HARNESS)
		return -ENOSYS;
	if (!atomic_load32(&started))
		return -EINVAL;		/* no sysmon yet */
	if (atomic_load32(&sysmonhold) && atomic_load32(&sysmonheld))
		return 0;
	/* Up under the lock, where sysmon_idle looks before it sleeps: either
	 * it sees the hold, or it is asleep and we wake it. */
	lock(&sched.lock);
	atomic_store32(&sysmonhold, 1);
	if (atomic_load32(&sched.sysmonwait)) {
		atomic_store32(&sched.sysmonwait, 0);
		notewakeup(&sched.sysmonnote);
	}
	unlock(&sched.lock);
	while (!atomic_load32(&sysmonheld))
		os_futexsleep(&sysmonheld, 0, -1);
	return 0;
}

int sq_harness_sysmon_release(void)
{
	if (!SQ_HARNESS)
		return -ENOSYS;
	lock(&sched.lock);
	atomic_store32(&sysmonhold, 0);
	unlock(&sched.lock);
	notewakeup(&sysmonholdnote);
	return 0;
}

/* sysmon's tick, on the caller's thread: pdesc is the caller's while
 * sysmon is held. Unlike sysmon it leaves a P that no work waits for:
 * retaken, it would go to a spinning M that finds nothing. */
int sq_harness_tick(void)
{
	if (!SQ_HARNESS)
		return -ENOSYS;
	if (!atomic_load32(&sysmonhold) || !atomic_load32(&sysmonheld))
		return -EBUSY;
	return retake(os_nanotime(), false);
}

/* Every FAIRNESS-th schedule looks at the global queue first (schedtick):
 * a count carried over from the runs before would change this one's. */
int sq_harness_reset_ticks(void)
{
	int32_t i;

	if (!SQ_HARNESS)
		return -ENOSYS;
	if (atomic_load32(&sched.npidle) != (uint32_t)sq_nprocs)
		return -EBUSY;
	for (i = 0; i < sq_nprocs; i++)
		atomic_store32(&allp[i].schedtick, 0);
	return 0;
}

/* ---- start-up ------------------------------------------------------------ */

int64_t nanotime(void)
{
	return os_nanotime();
}

/* Everything but M0. Idempotent; the first caller does the work. */
void schedinit(void)
{
	int32_t i;

	lock(&startlock);
	if (started) {
		unlock(&startlock);
		return;
	}
	settings_init();
	os_init();
	pthread_key_create(&mkey, mkey_exit);
	sq_nprocs = sq_settings.maxprocs ? sq_settings.maxprocs : os_ncpu();
	fault_init();
	allp = calloc((size_t)sq_nprocs, sizeof *allp);
	for (i = sq_nprocs - 1; i >= 0; i--) {
		allp[i].id = i;
		allp[i].status = Pidle;
		lock(&sched.lock);
		pidleput(&allp[i]);
		unlock(&sched.lock);
	}
	preempt_init();
	signal_init();
	callback_init();
	sysmon_start();
	atomic_store32(&started, 1);
	unlock(&startlock);
}

int sq_init(void)
{
	schedinit();
	return 0;
}

int sq_maxprocs(void)
{
	return sq_nprocs;
}

int64_t sq_mid(void)
{
	G *gp = getg();

	return gp && gp->m ? gp->m->id : -1;
}

uint64_t sq_goid(void)
{
	G *gp = getg();

	return gp && gp->m && gp == gp->m->curg ? gp->goid : 0;
}

/* M0 is the main thread; its g0 is the thread's own stack. The handlers
 * are already installed, so g and the signal stack go in with every signal
 * blocked; then the thread's own mask comes back. */
static void m0init(void)
{
	M *mp = &m0;
	G *g0 = calloc(1, sizeof *g0);
	uintptr lo, hi, sp = arch_getsp();
	sigset_t all, old;

	g0->isg0 = true;
	g0->status = Gdead;
	g0->m = mp;
	mp->g0 = g0;
	if (os_thread_stack(&lo, &hi) < 0 || sp < lo || sp >= hi) {
		lo = sp - (64 << 10);
		hi = sp + 1024;
	}
	g0_setstack(g0, lo, hi);
	g0->sched.sp = (sp - 1024) & ~(uintptr)(ARCH_STACK_ALIGN - 1);
	lock(&stackownlock);
	mcommoninit(mp);
	unlock(&stackownlock);
	mp->procid = os_gettid();
	mp->splitword = split_wordaddr();	/* as mstart's */
	pthread_setspecific(mkey, mp);
	sigfillset(&all);
	os_sigprocmask(SIG_SETMASK, &all, &old);
	setg(g0);
	minit(mp);
	os_sigprocmask(SIG_SETMASK, &old, NULL);
}

_Noreturn void sq_main(int (*fn)(void *), void *arg)
{
	if (__atomic_load_n(&started, __ATOMIC_ACQUIRE) || getg())
		throw(F_INIT_TWICE);
	schedinit();
	m0init();
	lock(&sched.lock);
	acquirep(pidleget());
	unlock(&sched.lock);
	maing = newproc(fn, arg, 0);
	runqput(m0.p, maing);
	sched.mainstarted = true;
	schedule();
}

void sq_stats_get(sq_stats *st)
{
	G *gp;
	M *mp;

	memset(st, 0, sizeof *st);
	for (gp = __atomic_load_n(&allg, __ATOMIC_ACQUIRE); gp; gp = gp->alllink)
		if (gp->status != Gdead && gp->status != Gidle && !gparkedinc(gp))
			st->gcount++;
	for (mp = __atomic_load_n(&allm, __ATOMIC_ACQUIRE); mp; mp = mp->alllink) {
		if (mp->isextra)
			st->extram_total++;
		else
			st->mcount++;
		st->nprof += (int64_t)mp->nprof;
		st->npreempt += (int64_t)mp->npreempt;
		st->nasyncpreempt += (int64_t)mp->nasyncpreempt;
	}
	st->nprofext = (int64_t)sig_nprofext();
	st->gfree = sched.ngfree;
	st->extram = extram_count();
	st->stacks_inuse = stack_inuse();
}
