/*
 * sq_harness.h: the runtime's harness interface. Present in every build;
 * in normal builds (without SQ_HARNESS) the fault sites do not exist, arming
 * returns -ENOSYS and sq_check only checks what it can cheaply.
 *
 * A fault site is a named point in a critical window (needm.after_setg,
 * entersyscall.poisoned, ...: `sq_fault_sites` lists them). Arming a site
 * attaches an action that runs there on its Nth hit, or on every hit from
 * the Nth on:
 *   split        call a function that has a split check
 *   yield        yield the G (only where the current g is a running G;
 *                elsewhere it spins instead)
 *   spin         busy-wait about 100 us, widening the window
 *   signal       send signal SIG to the current thread (tgkill)
 *   systemstack  call systemstack with an empty function
 * Specs are "site:action[:N][:every][:SIG]"; SQ_FAULT in the environment
 * holds a comma-separated list armed at start-up.
 */
#ifndef SQ_HARNESS_H
#define SQ_HARNESS_H

#include <stdint.h>

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
/* The build's regression variant, "none" for the fixed runtime. */
const char *sq_variant(void);

/* Check the runtime's invariants now; print every violation as
 * "invariant: ..." on stderr and return how many there were. With
 * quiescent != 0 the caller promises no other G, M or callback is active,
 * and leaks count: Gs that did not exit, stacks not freed, extra Ms not on
 * the list. */
int sq_check(int quiescent);

/* Turn sq_check violations into the fatal "invariant violated". */
void sq_check_or_throw(int quiescent);

#ifdef __cplusplus
}
#endif
#endif
