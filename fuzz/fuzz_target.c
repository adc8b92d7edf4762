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
 *   sq_refuse   sq_ops plus the illegal operations a correct runtime must
 *               refuse with a named fatal error (fz_refusal): a program
 *               holding one runs in a child process of this same binary,
 *               and anything but that fatal error (or a clean end, when
 *               the operation was never reached) is a finding (oracle.c)
 *
 * The runtime starts on the first input, not in LLVMFuzzerInitialize: its
 * signal handlers must go in after libFuzzer's, so that the fatal-error
 * path can hand SIGABRT back to libFuzzer (oracle.c), and under AFL++ no
 * thread may exist before the fork server forks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "interp.h"

#ifndef FZ_UNBOUND
#define FZ_UNBOUND 0
#endif
#ifndef FZ_ASYNC_TARGET
#define FZ_ASYNC_TARGET 0
#endif
#ifndef FZ_REFUSE_TARGET
#define FZ_REFUSE_TARGET 0
#endif

#if FZ_REFUSE_TARGET
/* The child side of sq_refuse: this binary started by fz_refuse_run, the
 * program on fd 3. It runs before main, so before any fuzzer or driver
 * starts: only the runtime and the interpreter. */
__attribute__((constructor)) static void refuse_child(void)
{
	static uint8_t buf[1 << 16];
	size_t n = 0;
	ssize_t r;

	if (!getenv("FZ_REFUSE_CHILD"))
		return;
	unsetenv("FZ_REFUSE_CHILD");
	while (n < sizeof buf && (r = read(3, buf + n, sizeof buf - n)) > 0)
		n += (size_t)r;
	close(3);
	fz_init(1, 1);
	fz_exec(buf, n, FZ_REFUSE);
	fz_refuse_verdict();
	_exit(0);
}
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (FZ_REFUSE_TARGET && fz_refuse_run(data, size))
		return 0;
	fz_init(!FZ_UNBOUND, !FZ_ASYNC_TARGET);
	fz_exec(data, size, FZ_ASYNC_TARGET ? FZ_ASYNC : 0);
	return 0;
}
