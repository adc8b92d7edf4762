/*
 * sqgo.h: the C half of the Go target's bridge (harness/go), shared by the
 * Go package's cgo preamble, its C helper (sqgo.c) and harness/target_go.c.
 *
 * The Go package exports one function per target call (sqgo.go); the C
 * helper is the way back out: Go calls sqgo_call to run a scenario's C
 * function, so a target call made from that function is Go -> C -> Go.
 */
#ifndef SQ_SQGO_H
#define SQ_SQGO_H

#include <stdint.h>

typedef int (*sqgo_fn)(void *);

/* Run fn(arg) as Go code's work: called only from Go, through cgo. Counts
 * the calling thread as inside the runtime while fn runs. */
int sqgo_call(sqgo_fn fn, void *arg);
/* How many sqgo_call frames the calling thread is inside (0: the thread is
 * foreign or between calls). Any stack, async-signal-safe. */
int sqgo_depth(void);

#endif
