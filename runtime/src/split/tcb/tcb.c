/*
 * tcb.c: the C half of a failed split check in tcb mode (x86-64 glibc, see
 * splitword.h). __morestack (morestack.S) saves the function's argument
 * registers and calls split_miss with the lowest address the function's
 * frame needs; when split_miss returns, the function runs its body.
 *
 * The thread's guard word is a cache of g->stackguard. It can be stale in
 * three ways, each costing this one slow call:
 *   - no g: glibc handed this thread the TCB of a thread that died attached
 *     (a callback that ended in pthread_exit), word and all;
 *   - sysmon poisoned the word of a runtime M (preemptone) just after the M
 *     had switched to another G, g0 or gsignal;
 *   - the prologue was rewritten by a linker that adjusts split-stack code
 *     for segmented stacks (gold refuses to link; lld turns the compare into
 *     `stc`, so every call lands here). Link with GNU ld (mk/split.mk).
 * So g->stackguard decides: the word is brought back in line with it, and
 * only a check that fails against the G's own guard goes to morestack.
 */
#include "runtime.h"

NOSPLIT void split_miss(uintptr sp)
{
	G *gp = getg();
	uintptr guard;

	if (UNLIKELY(gp == NULL)) {
		split_setword(0);
		return;
	}
	guard = gp->stackguard;
	if (split_getword() != guard)
		split_setword(guard);
	if (sp > guard)
		return;
	morestack(gp, sp);
}
