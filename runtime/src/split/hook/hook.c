/*
 * hook.c: the split check where there is no TCB word for it (musl, aarch64,
 * riscv64; see mk/split.mk). Every function compiled with the runtime's
 * flags calls this hook on entry (clang's -finstrument-function-entry-bare,
 * inserted after inlining). It compares sp with the current g's
 * stackguard, which is itself the truth, so sysmon's poison is seen at the
 * next call. g is NULL on threads the runtime does not know: no check.
 *
 * Cost: a call, a TLS load, a load of g->stackguard and a compare.
 */
#include "runtime.h"

NOSPLIT void __cyg_profile_func_enter_bare(void)
{
	G *gp = getg();
	uintptr sp;

	if (UNLIKELY(gp == NULL))
		return;
	sp = arch_getsp();
	if (LIKELY(sp >= gp->stackguard))
		return;
	morestack(gp, sp);
}
