/*
 * fuzz_target.c: the fuzz target, written once as LLVMFuzzerTestOneInput
 * and linked three ways (fuzz/fuzz.mk): with libFuzzer (clang
 * -fsanitize=fuzzer, and an ASan/UBSan flavour), with the AFL++ persistent
 * driver (afl_main.c), and with the standalone replay driver
 * (replay_main.c).
 *
 * Three targets are built from it (fuzz/fuzz.mk, FZ_TFLAGS_<target>):
 *   sq_ops      callbacks bound to their thread (the runtime's default);
 *               deterministic: one step at a time, schedules from the input
 *   sq_unbound  the same with SQ_CALLBACK_BIND=0: every callback attaches
 *               and detaches (the mode is fixed when the runtime starts)
 *   sq_race     bound, with `go`: steps that run concurrently, signals that
 *               land wherever a busy thread is. Real races; its runs are
 *               not reproducible one by one, so its stability is lower
 *
 * The runtime starts on the first input, not in LLVMFuzzerInitialize: its
 * signal handlers must go in after libFuzzer's, so that the fatal-error
 * path can hand SIGABRT back to libFuzzer (oracle.c), and under AFL++ no
 * thread may exist before the fork server forks.
 */
#include <stddef.h>
#include <stdint.h>

#include "interp.h"

#ifndef FZ_UNBOUND
#define FZ_UNBOUND 0
#endif
#ifndef FZ_ASYNC_TARGET
#define FZ_ASYNC_TARGET 0
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_init(!FZ_UNBOUND);
	fz_exec(data, size, FZ_ASYNC_TARGET ? FZ_ASYNC : 0);
	return 0;
}
