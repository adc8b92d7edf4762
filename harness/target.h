/*
 * target.h: what a scenario may ask of the runtime under test.
 *
 * Scenarios talk to the runtime only through these calls, so the same
 * programs can later drive other runtimes that C threads call into (Go via
 * cgo, the JVM via JNI, CPython's C API) with a target_<name>.c of their
 * own. target_sq.c implements them over stackquake's runtime. Calls a
 * target cannot provide return -ENOSYS; scenarios then report "skipped".
 */
#ifndef SQ_TARGET_H
#define SQ_TARGET_H

#include <stdint.h>

typedef int (*sqt_fn)(void *);

const char *sqt_name(void);
const char *sqt_variant(void);
/* The runtime's own version string (for a real runtime: its release). */
const char *sqt_version(void);

/* How the target's runtime says it is dying: the oracle's table for this
 * target. A fatal error is a line "<prefix><message>" on stderr. key: the
 * contract's id where the meaning is the same (SQ_FATALS in sq_contract.h:
 * "MORESTACK_G0"), the target's own otherwise; class: one of the contract's
 * fatal classes (refusal, crash, invariant, resource). Scenarios declare
 * what they expect by key (sc_expect_fatal), whatever the target. */
typedef struct sqt_fatal {
	const char *key;
	const char *prefix;
	const char *message;
	const char *cls;
} sqt_fatal;
/* The rows; *n gets how many. */
const sqt_fatal *sqt_fatals(int *n);

/* Run fn as the target's main routine on a runtime thread; never returns
 * (the process exits with fn's result). */
_Noreturn void sqt_main(sqt_fn fn, void *arg);
/* Start the runtime; the caller stays a foreign thread. */
int sqt_init(void);

/* From a foreign C thread: run fn inside the runtime, come back. */
int sqt_callback(sqt_fn fn, void *arg);
/* Whether a foreign thread stays attached between callbacks (1), or the
 * runtime detaches it after each one (0). */
int sqt_callback_binds(void);
/* Whether the runtime declares a deadlock (Go's "all goroutines are asleep
 * - deadlock!") once every G of an sqt_main program is blocked for good and
 * no thread it does not own is left: 1, or 0 where it never does (Go's
 * c-archive runtime: a callback may always come; ours where the OS cannot
 * count the process's threads). */
int sqt_declares_deadlock(void);
/* From runtime code: run the C function fn outside the runtime. */
int sqt_outcall(sqt_fn fn, void *arg);

void sqt_spawn(sqt_fn fn, void *arg);
void sqt_yield(void);
/* Park the calling runtime code for at least ns nanoseconds: a timer makes
 * it runnable again, and its thread runs other work meanwhile. 0, or
 * -ENOSYS where the target has no timers. */
int sqt_sleep(int64_t ns);
/* Wire the calling runtime code's G to its thread, as Go's
 * runtime.LockOSThread: until as many unlocks as locks, it runs only on
 * this thread and the thread runs nothing else. A G that ends while locked
 * takes its thread with it. 0, or -ENOSYS. Not inside a callback from a
 * foreign thread (its G is the thread's own call). */
int sqt_lockosthread(void);
int sqt_unlockosthread(void);
/* End the calling G from any depth, as Go's runtime.Goexit: never
 * returns, or returns -ENOSYS where the target cannot. Only on a G that
 * sqt_spawn or sqt_main started, never inside a callback. */
int sqt_goexit(void);
/* A system call made from runtime code, inside the runtime's syscall window. */
long sqt_syscall(long nr, long a1, long a2, long a3);
long sqt_syscall_block(long nr, long a1, long a2, long a3);

/* Blocking primitives for runtime code. */
typedef struct sqt_wg sqt_wg;
sqt_wg *sqt_wg_new(void);
void sqt_wg_add(sqt_wg *w, int n);
void sqt_wg_done(sqt_wg *w);
void sqt_wg_wait(sqt_wg *w);
typedef struct sqt_chan sqt_chan;
sqt_chan *sqt_chan_new(int cap);
int sqt_chan_send(sqt_chan *c, uintptr_t v);
int sqt_chan_recv(sqt_chan *c, uintptr_t *v);

/* Fault sites and invariants; -ENOSYS where the target has none. */
int sqt_arm(const char *spec);
int64_t sqt_hits(const char *site);
const char *sqt_site(int i);
int sqt_check(int quiescent);
/* Wait (at most about a second) until no G but the caller is alive, so a
 * quiescent check counts real leaks and not Gs on their way out. Returns
 * the number of Gs still alive besides the caller. */
int sqt_quiesce(void);
void sqt_profile(int hz);
/* How many times the runtime has preempted a G asynchronously (by signal,
 * at an arbitrary instruction) so far; -ENOSYS if it does not, or cannot
 * say (a scenario then cannot wait for preemption to happen). */
long sqt_async_preempts(void);
/* Bytes the current G may still use before the target reports a stack
 * overflow (its declared limit); -ENOSYS where C run by the target does not
 * use the runtime's G stacks. */
long sqt_stack_left(void);

#endif
