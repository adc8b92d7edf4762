// sc_mremap: a MAP_STACK region changed by mremap, munmap and MAP_FIXED
// before a syscall is made on it.
//
//   move          moved by mremap(MREMAP_FIXED) to a new address: the flag
//                 moves with it, clean on the new location
//   grow          grown by mremap(MREMAP_MAYMOVE) to 4x: the new tail extends
//                 the MAP_STACK mapping, clean at its top
//   old           moved away, then a plain mapping placed at the old address:
//                 killed there
//   refill        munmap'd, then a plain MAP_FIXED mapping at the same
//                 address: killed
//   split-top     the upper half replaced by a plain MAP_FIXED mapping: killed
//                 on the top half
//   split-bottom  the same, run on the lower half, which keeps MAP_STACK: clean

#include "sctest.h"

enum { SIZE = 64 * 1024 };

static void runon(const char *name, char *lo, size_t len)
{
	sc_stack_event(name, lo, len);
	sc_call_on_stack(sc_top(lo, len), sc_getpid, NULL);
}

static void *fixed(void *at, size_t len)
{
	void *p = mmap(at, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	if (p == MAP_FAILED)
		sc_fail("mmap MAP_FIXED");
	return p;
}

static char *moveaway(char *a)
{
	char *b = mmap(NULL, SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (b == MAP_FAILED)
		sc_fail("mmap reserve");
	b = mremap(a, SIZE, SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, b);
	if (b == MAP_FAILED)
		sc_fail("mremap");
	return b;
}

int main(int argc, char **argv)
{
	static const char *const modes[] = {
		"move", "grow", "old", "refill", "split-top", "split-bottom", NULL,
	};
	const char *mode = sc_mode(argc, argv, modes);
	char *a = sc_map(SIZE, MAP_STACK), *b;

	if (strcmp(mode, "move") == 0) {
		runon("moved", moveaway(a), SIZE);
	} else if (strcmp(mode, "grow") == 0) {
		b = mremap(a, SIZE, 4 * SIZE, MREMAP_MAYMOVE);
		if (b == MAP_FAILED)
			sc_fail("mremap");
		runon("grown", b, 4 * SIZE);
	} else if (strcmp(mode, "old") == 0) {
		moveaway(a);
		runon("old", fixed(a, SIZE), SIZE);
	} else if (strcmp(mode, "refill") == 0) {
		if (munmap(a, SIZE) < 0)
			sc_fail("munmap");
		runon("refilled", fixed(a, SIZE), SIZE);
	} else if (strcmp(mode, "split-top") == 0) {
		fixed(a + SIZE / 2, SIZE / 2);
		runon("top-half", a + SIZE / 2, SIZE / 2);
	} else {
		fixed(a + SIZE / 2, SIZE / 2);
		runon("bottom-half", a, SIZE / 2);
	}
	sc_event("DONE");
	return 0;
}
