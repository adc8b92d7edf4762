/*
 * sq_harness.h: the runtime's harness interface. Present in every build;
 * in normal builds (without SQ_HARNESS) the fault sites do not exist, arming
 * returns -ENOSYS and sq_check only checks what it can cheaply; every
 * sq_harness_* call but sq_harness_build returns -ENOSYS and does nothing.
 *
 * The contract it serves (variants, fatal errors, fault sites, actions and
 * the rules for arming them) is sq_contract.h, included here: one table
 * each, with lookups by id (sq_site_name, sq_arm_verdict, ...).
 *
 * A fault site is a named point in a critical window (SQ_SITES). Arming a
 * site attaches an action (SQ_ACTIONS) that runs there on its Nth hit, or
 * on every hit from the Nth on. Specs are "site:action[:N][:every][:SIG]";
 * SQ_FAULT in the environment holds a comma-separated list armed at
 * start-up.
 */
#ifndef SQ_HARNESS_H
#define SQ_HARNESS_H

#include <stdint.h>

#include "sq_contract.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Arm one site from a spec. 0, or -EINVAL with a message on stderr. */
int sq_fault_arm(const char *spec);
void sq_fault_disarm_all(void);
/* Times the site was reached, and times its action ran. -1: no such site. */
int64_t sq_fault_hits(const char *site);
int64_t sq_fault_fired(const char *site);
/* The i-th site's name, NULL past the end. */
const char *sq_fault_site(int i);
/* 1 in harness builds, 0 otherwise. */
int sq_harness_build(void);
/* The build's regression variant (SQ_VARIANTS), "fixed" for the fixed runtime. */
const char *sq_variant(void);

/* Check the runtime's invariants now; print every violation as
 * "invariant: ..." on stderr and return how many there were. With
 * quiescent != 0 the caller promises no other G, M or callback is active,
 * and leaks count: Gs that did not exit, stacks not freed, extra Ms not on
 * the list. */
int sq_check(int quiescent);

/* Turn sq_check violations into the fatal error F_INVARIANT. */
void sq_check_or_throw(int quiescent);

/* Every stack the runtime has handed out and not freed, as [lo, hi) with
 * its kind ("g", "g0", "gsignal"); returns how many there are (may exceed
 * max: only max are stored). Harness builds and normal builds alike. */
typedef struct sq_stackinfo {
	uintptr_t lo;
	uintptr_t hi;
	const char *kind;
} sq_stackinfo;
int sq_stacks(sq_stackinfo *out, int max);

/* 1 when this process preempts Gs asynchronously (x86-64, a dynamically
 * linked executable, no ASan, SQ_DEBUG without asyncpreempt=off), 0 when
 * preemption waits for split checks. */
int sq_harness_asyncpreempt(void);

/* How many preemptions M mid has honoured so far (asynchronous ones and
 * ones at a split check), counted before anything this call does; with
 * ask, it also asks the G running there to yield, as sysmon asks one that
 * has run 10 ms, whatever SQ_DEBUG=preempt says: at once if it is at a
 * safe point, else at its next split check. A harness asks once and waits
 * for the count to grow. -ESRCH if there is no such M. Harness builds; any
 * thread. */
int64_t sq_harness_preempt(int64_t mid, int ask);

/* The same for goroutine goid (sq_goid): the preemptions it has honoured
 * on whichever Ms it ran, and with ask, the request to the M running it
 * now (none if it is not running). Use this one when the G may move
 * between learning its M and being asked. -ESRCH if no live G has that
 * id. Harness builds; any thread. */
int64_t sq_harness_preempt_g(uint64_t goid, int ask);

/* Have the runtime store 1 (release) to *word when goroutine goid next
 * honours a preemption, once; NULL cancels. A G spinning on *word until
 * it is preempted then ends its spin as soon as it runs again, without
 * the asking thread waking to see the count move. 0, or -ESRCH if no live
 * G has that id. A new goroutine starts with none. Harness builds; any
 * thread. */
int sq_harness_preempt_notify(uint64_t goid, uint32_t *word);

/* From a goroutine: sysmon's request for the calling G's preemption, sent
 * ns from now by a one-shot kernel timer to the calling thread (SIGURG,
 * which the runtime takes as sysmon's tgkill), so that a G about to spin
 * in a loop with no call is asked without another thread needing the CPU.
 * If the G has moved to another M by then, that request finds whatever
 * runs there, as a late one of sysmon's would. A timer id for
 * sq_harness_preempt_after_done (which disarms and frees it; any thread),
 * or -errno (-EINVAL off a goroutine). Harness builds. */
int sq_harness_preempt_after(int64_t ns);
int sq_harness_preempt_after_done(int id);

/* The calling G's sq_lockosthread nesting (0: not locked by the
 * program), as Go's runtime.LockOSCounts for its tests. -1 off a G. */
int sq_harness_lockcount(void);

/* Deterministic scheduling (harness builds, SQ_MAXPROCS=1): from now on
 * the scheduler offers every runnable G to pick(ctx, n), which returns the
 * index (0..n-1) of the one to run; the rest keep their order. NULL turns
 * it off. Combine with SQ_DEBUG=preempt=off so that sysmon's timed
 * preemption does not add choices of its own. */
void sq_harness_picker(int (*pick)(void *ctx, int n), void *ctx);

/* Break one internal rule on purpose so that the runtime's own check for
 * it fires (harness builds only; -ENOSYS otherwise, -EINVAL for an unknown
 * name). Used by the tests that produce every fatal error:
 *   gstatus         the running G's status is overwritten, then it yields
 *   mcall-g0        mcall from g0
 *   mcall-return    an mcall continuation that returns
 *   stackfree       free a stack the allocator never handed out
 *   schedlock       yield while holding a runtime lock
 *   pstate          acquire a P the M already holds
 *   newm            the next thread creation fails
 *   syscall-bounds  the G's recorded stack no longer contains its sp,
 *                   then it enters a syscall
 *   dump-fault      a throw whose dump faults (a waiting G's reason points
 *                   nowhere): the fault must end the process, not hang
 *   window-throwsplit  from C run by sq_ccall: the G in the window loses
 *                   throwsplit; nothing throws, sq_check_self reports it */
int sq_harness_misuse(const char *what);

/* The invariants of the calling thread's own M: safe while other Ms run,
 * and from a signal handler. from_g: the caller is the running G itself
 * (its M's curg, with a P, no runtime locks, its own or a poisoned guard,
 * no throwsplit); else C on g0 must run inside g0's bounds. Either way, a
 * G of this M in a syscall window must have throwsplit, a poisoned guard,
 * and its entry sp saved inside its stack. Returns how many violations
 * there are and describes the first in why (len bytes; why may be NULL).
 * Every build, like sq_check. */
int sq_check_self(int from_g, char *why, int len);

/* ---- the scheduler, driven by a harness --------------------------------------
 * What a deterministic harness (the fuzz interpreter) needs to step the
 * scheduler from one known state to the next, done by the scheduler's own
 * code (proc.c). Harness builds only. */

/* Quiet: every P idle, nothing runnable, no M spinning, every M the runtime
 * started parked but `busy` of them (the caller's own, if it is one; Ms
 * blocked in calls the caller will release), and the scheduler's lock
 * free. Foreign threads' extra Ms are not counted. 1 if quiet, 0 if not:
 * a snapshot read without locks, for polling. Any thread. */
int sq_harness_quiet(int busy);

/* Take back every P left in Psyscall (a foreign thread back in C after a
 * callback leaves its P there), as sysmon's next ticks would: to an M if
 * work waits for it, else straight to the idle list (no spinning M that
 * finds nothing). Returns how many it took. Any thread. */
int sq_harness_retake(void);

/* The same for the caller's own P, from C run by sq_ccall (on g0, its G
 * in the window): the call has outlasted sysmon's patience. 1 if taken, 0
 * if it was gone already, -EINVAL outside such C. */
int sq_harness_retake_mine(void);

/* Hold sysmon: once this returns, sysmon is parked and stays parked until
 * released. It does not tick (no retake, no preemption) and nothing the
 * program does wakes it. Blocks the calling thread until sysmon has
 * finished the tick it may be in (at most one tick, 10 ms). Idempotent.
 * 0, or -EINVAL before the runtime has started. */
int sq_harness_sysmon_hold(void);
/* Let sysmon tick again, from its quickest pace. 0. */
int sq_harness_sysmon_release(void);

/* One tick of sysmon on the calling thread, while sysmon is held (-EBUSY
 * otherwise): a P seen in the same system call at two ticks in a row is
 * taken back if work waits for it, a G that has run 10 ms is asked to
 * yield (unless SQ_DEBUG=preempt=off). Unlike sysmon, a P no work waits
 * for is left in its call. Returns how many Ps it took. */
int sq_harness_tick(void);

/* Start each P's schedtick over (every 64th schedule looks at the global
 * queue first), so that a run's schedule does not depend on the runs
 * before it. At a quiet point: -EBUSY if a P is not idle. */
int sq_harness_reset_ticks(void);

/* What the calling thread is to the runtime. */
enum {
	SQ_ATTACHED_NONE,	/* no g: a foreign thread not attached, sysmon */
	SQ_ATTACHED_EXTRA,	/* a foreign thread on an extra M */
	SQ_ATTACHED_M,		/* an M the runtime started (sq_harness_quiet counts it) */
};
int sq_harness_attached(void);

/* The process's thread count as the deadlock check reads it (an sq_main
 * program declares a deadlock only when no thread but its own Ms and
 * sysmon is left to call in): > 0, or -errno where the OS cannot say
 * (qemu-user's /proc/self/stat), and then no deadlock is ever declared. */
int sq_harness_nthreads(void);

/* Print the M and G dump a fatal error prints, on stderr. 0. */
int sq_harness_dump(void);

/* Give SIGABRT back to the handler the program had before the runtime
 * (SIG_DFL if none), as a fatal error does under SQ_CRASH=abort, so that a
 * harness's own findings die the same way (a fuzzer's crash handler sees
 * them). Async-signal-safe and nosplit: any thread, any stack. 0. */
int sq_harness_restore_sigabrt(void);

#ifdef __cplusplus
}
#endif
#endif
