/*
 * sqgo.c: the C helper the Go side calls to run a scenario's function.
 *
 * On gc this runs on the M's g0 (the thread's own stack, for Ms that Go
 * made, or the foreign thread's for a callback), inside cgocall's syscall
 * window; on gccgo it runs on the goroutine's own stack. Either way the
 * function is "runtime code" to the scenario: any target call it makes
 * re-enters Go through an exported function (cgocallback).
 */
#include "sqgo.h"

static __thread int depth __attribute__((tls_model("initial-exec")));

int sqgo_call(sqgo_fn fn, void *arg)
{
	int r;

	depth++;
	r = fn(arg);
	depth--;
	return r;
}

int sqgo_depth(void)
{
	return depth;
}
