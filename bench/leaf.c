/*
 * leaf.c: the leaf function of the split-check benchmark.
 *
 * bench.mk compiles this one source twice, so the two leaves differ only in
 * the flag under test: as bench_leaf_split with the runtime's split-check
 * flag (its entry calls __cyg_profile_func_enter_bare, which compares sp
 * with the current G's stackguard) and as bench_leaf_nosplit without it.
 * Kept out of line (its own translation unit, noinline, no LTO), so every
 * iteration of the caller's loop is a real call.
 */
#ifndef LEAF
#error "compile with -DLEAF=<function name>"
#endif

__attribute__((noinline)) long LEAF(long x)
{
	return x + 1;
}
