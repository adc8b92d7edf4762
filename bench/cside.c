/*
 * cside.c: the C code a G calls out to with sq_ccall.
 *
 * Compiled without the split-check flag, like any C library a program links:
 * it runs on the M's g0 stack inside a syscall window and knows nothing of
 * the runtime. Empty, so the benchmark times the runtime's round trip only.
 */

__attribute__((noinline)) int bench_cempty(void *arg)
{
	(void)arg;
	return 0;
}
