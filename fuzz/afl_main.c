/*
 * afl_main.c: the AFL++ persistent-mode driver for LLVMFuzzerTestOneInput.
 *
 * The fork server starts at __AFL_INIT, before any thread exists (threads
 * do not survive fork): the runtime, the thread pool and the warm-up come
 * after it, once per forked child, and serve the next FZ_AFL_LOOP inputs.
 * Test cases arrive in shared memory.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__AFL_FUZZ_INIT();

enum { FZ_AFL_LOOP = 20000 };

int main(int argc, char **argv)
{
	unsigned char *buf;

	LLVMFuzzerInitialize(&argc, &argv);
#ifdef __AFL_HAVE_MANUAL_CONTROL
	__AFL_INIT();
#endif
	buf = __AFL_FUZZ_TESTCASE_BUF;
	/* One empty input first: the target's one-time start-up happens here,
	 * and the first __AFL_LOOP clears the coverage it left, so that it is
	 * not counted as the first real input's. */
	LLVMFuzzerTestOneInput(buf, 0);
	while (__AFL_LOOP(FZ_AFL_LOOP)) {
		int len = __AFL_FUZZ_TESTCASE_LEN;

		LLVMFuzzerTestOneInput(buf, (size_t)len);
	}
	_exit(0);
}
