/*
 * sq_harness.h: the runtime's harness interface. Present in every build;
 * in normal builds (without SQ_HARNESS) the fault sites do not exist, arming
 * returns -ENOSYS and sq_check only checks what it can cheaply.
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
 * linked executable, no ASan, SQ_DEBUG without preempt=off or
 * asyncpreempt=off), 0 when preemption waits for split checks. */
int sq_harness_asyncpreempt(void);

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
 *                   nowhere): the fault must end the process, not hang */
int sq_harness_misuse(const char *what);

#ifdef __cplusplus
}
#endif
#endif
