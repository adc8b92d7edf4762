/*
 * preempt.c: asynchronous preemption.
 *
 * sysmon asks a G that has run for 10 ms to yield (proc.c, preemptone): it
 * poisons the G's guard, so the G yields at its next split check, and
 * signals its M (SIGURG). A G in a loop that calls no checked function
 * never reaches a check; so when the signal lands, the handler looks at
 * what it interrupted, and if that is a safe point it makes the G resume
 * in sq_asyncpreempt (the arch's: it saves the whole register state on the
 * G's stack, calls asyncpreempt2 below, which reschedules the G, and puts
 * everything back when the G runs again, maybe on another thread).
 *
 * A safe point, as in Go (isAsyncSafePoint), is all of:
 *   - the runtime asked: sysmon's request for this M is what arrived (a
 *     stray SIGURG only poisons the guard; in harness builds a G may ask
 *     for itself through a timer, sq_harness_preempt_after);
 *   - the thread was running the M's current G (not g0, not gsignal), in
 *     Grunning, outside any syscall window (throwsplit), with no runtime
 *     lock held (m->locks), holding a running P, not inside C run by
 *     sq_ccall, not dying;
 *   - the pc is in the program's own code: inside the executable's text,
 *     outside the runtime's (its own section, sq_rt_text). Not libc or
 *     any other library (their code keeps per-thread state, a lock or a
 *     thread's malloc cache, across instructions: resumed on another thread
 *     it would use the wrong one), not the runtime (which holds its
 *     invariants across instructions, not at them);
 *   - the G's stack has room for the routine's frame above its guard.
 * Anything else leaves the request to the next split check.
 *
 * Where it is off: ports whose arch layer cannot save the state
 * (arch_asyncpreempt_probe returns 0: aarch64, riscv64 for now); static
 * executables (libc is inside the executable's text, indistinguishable
 * from the program's: musl and cross builds); ASan builds (its allocator's
 * per-thread caches are in the executable); SQ_DEBUG=asyncpreempt=off.
 * SQ_DEBUG=preempt=off stops sysmon's requests, not the mechanism: a
 * harness may still ask (sq_harness_preempt).
 *
 * Code that runs on Gs must not keep a thread's addresses (a __thread
 * variable's, errno's) across instructions that could be preempted: with
 * asynchronous preemption that is every instruction of the program's own
 * code. The runtime's getg() reads the thread pointer afresh every time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <ucontext.h>

#include "runtime.h"
#include "os.h"
#include "sq_harness.h"

/* The runtime's code: every runtime source goes in section sq_rt_text
 * (runtime.h), and the linker names its bounds. Weak: a compiler that
 * ignored the section leaves them 0, and asynchronous preemption off. */
extern const char __start_sq_rt_text[] __attribute__((weak));
extern const char __stop_sq_rt_text[] __attribute__((weak));

static struct {
	bool on;
	uintptr exec_lo, exec_hi;	/* the executable's code */
	uintptr rt_lo, rt_hi;		/* the runtime's, inside it */
	uintptr frame;			/* bytes the routine needs below sp */
} async;

/* Once, at start-up, before signals: decide whether asynchronous
 * preemption is possible here, and learn the code ranges. */
void preempt_init(void)
{
	uintptr lo, hi;

	async.frame = arch_asyncpreempt_probe();
	if (async.frame == 0 || SQ_ASAN || sq_settings.noasyncpreempt)
		return;
	if (os_exec_text(&lo, &hi) < 0)
		return;
	async.rt_lo = (uintptr)__start_sq_rt_text;
	async.rt_hi = (uintptr)__stop_sq_rt_text;
	if (async.rt_lo == 0 || async.rt_lo < lo || async.rt_hi > hi)
		return;
	async.exec_lo = lo;
	async.exec_hi = hi;
	async.on = true;
}

/* Whether pc is in the program's own code. */
NOSPLIT static bool programcode(uintptr pc)
{
	return pc >= async.exec_lo && pc < async.exec_hi && !(pc >= async.rt_lo && pc < async.rt_hi);
}

/* In the signal handler (gsignal), for the G the signal interrupted, after
 * the runtime's own request arrived: if the G is at a safe point (file
 * comment), divert it into the preemption routine and return true. */
NOSPLIT bool preempt_async(G *gp, void *uc)
{
	M *mp = gp->m;
	P *p = mp->p;
	uintptr pc = ARCH_UC_PC(uc), sp = ARCH_UC_SP(uc);

	if (!async.on || mp->locks || !p || p->status != Prunning || gp->status != Grunning ||
	    gp->throwsplit || mp->incgo || mp->throwing || mp->exiting)
		return false;
	if (!programcode(pc))
		return false;
	if (sp >= gp->stack.hi || sp < gp->stack.lo + STACK_GUARD + async.frame)
		return false;
	FAULT(ASYNCPREEMPT_INJECT);
	gp->asyncpc = pc;
	arch_asyncpreempt_inject(uc);
	return true;
}

/* Called by sq_asyncpreempt on the G's stack, with every register of the
 * interrupted code saved below: yield the G like a preempted one. NOSPLIT:
 * the G's guard is poisoned (that was the request), and a check here would
 * be a second, cooperative preemption on top of this one. */
NOSPLIT void asyncpreempt2(void)
{
	G *gp = getg();

	FAULT(ASYNCPREEMPT_SAVED);
	gp->m->nasyncpreempt++;
	mcall(gopreempt_m);
	FAULT(ASYNCPREEMPT_RESUME);
	gp->asyncpc = 0;
}

int sq_harness_asyncpreempt(void)
{
	return async.on;
}

/* The live G with id goid, or NULL. allg only grows; a G reused for a new
 * goroutine has a new goid. */
static G *liveg(uint64_t goid)
{
	G *gp;

	if (goid == 0)
		return NULL;
	for (gp = __atomic_load_n(&allg, __ATOMIC_ACQUIRE); gp; gp = gp->alllink)
		if (__atomic_load_n(&gp->goid, __ATOMIC_ACQUIRE) == goid &&
		    atomic_load32(&gp->status) != Gdead)
			return gp;
	return NULL;
}

/* The fuzz interpreter's sysmon: sysmon's request for whatever G runs on
 * M mid, when it asks (proc.c's preemptone does the same for a G that has
 * run 10 ms). Any thread. */
int64_t sq_harness_preempt(int64_t mid, int ask)
{
	M *mp;
	G *gp;
	int64_t n;

	if (!SQ_HARNESS)
		return -ENOSYS;
	for (mp = __atomic_load_n(&allm, __ATOMIC_ACQUIRE); mp; mp = mp->alllink)
		if (mp->id == mid && !mp->exiting)
			break;
	if (!mp)
		return -ESRCH;
	n = (int64_t)__atomic_load_n(&mp->npreempt, __ATOMIC_ACQUIRE);
	gp = __atomic_load_n(&mp->curg, __ATOMIC_ACQUIRE);
	if (ask && gp && atomic_load32(&gp->status) == Grunning)
		preemptg(mp, gp);
	return n;
}

/* The same, by G: a G can move to another M between learning its M and
 * being asked (the fuzz interpreter's `tight` did: it learned M2, was
 * preempted before its loop and went on on M3, and M2's count never
 * grew). */
int64_t sq_harness_preempt_g(uint64_t goid, int ask)
{
	G *gp;
	M *mp;
	int64_t n;

	if (!SQ_HARNESS)
		return -ENOSYS;
	if (!(gp = liveg(goid)))
		return -ESRCH;
	n = (int64_t)__atomic_load_n(&gp->npreempt, __ATOMIC_ACQUIRE);
	mp = __atomic_load_n(&gp->m, __ATOMIC_ACQUIRE);
	if (ask && mp && __atomic_load_n(&mp->curg, __ATOMIC_ACQUIRE) == gp &&
	    atomic_load32(&gp->status) == Grunning)
		preemptg(mp, gp);
	return n;
}

/* A word the runtime sets when a G honours its next preemption, for a
 * harness whose G spins until then: it need not wake to see the count
 * move, and the G goes on as soon as it runs again. */
int sq_harness_preempt_notify(uint64_t goid, uint32_t *word)
{
	G *gp;

	if (!SQ_HARNESS)
		return -ENOSYS;
	if (!(gp = liveg(goid)))
		return -ESRCH;
	__atomic_store_n(&gp->pnotify, word, __ATOMIC_RELEASE);
	return 0;
}

/* sysmon's request for the calling G, sent by a kernel timer to its own
 * thread ns from now instead of by another thread: a G about to spin in
 * a loop with no call is asked without anyone else needing its CPU. The
 * request is this M's, as preemptm makes it; the signal handler takes a
 * SIGURG from a timer as it takes sysmon's tgkill (signal.c). */
int sq_harness_preempt_after(int64_t ns)
{
	G *gp = getg();
	M *mp;
	int id;

	if (!SQ_HARNESS)
		return -ENOSYS;
	if (!gp || !(mp = gp->m) || gp != mp->curg || mp->procid <= 0 || !sq_signals_ready)
		return -EINVAL;
	__atomic_store_n(&mp->preemptreq, 1, __ATOMIC_RELEASE);
	id = os_timer_tid(mp->procid, SIGURG, ns);
	if (id < 0)
		__atomic_store_n(&mp->preemptreq, 0, __ATOMIC_RELEASE);
	return id;
}

int sq_harness_preempt_after_done(int id)
{
	if (!SQ_HARNESS)
		return -ENOSYS;
	return os_timer_delete(id);
}
