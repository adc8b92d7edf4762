// sctest.h: shared helpers for the stackcheck test programs.
//
// Each program runs one scenario, selected by its first argument, and says
// what it does on stderr as "[sctest] EVENT key=value" lines that the pytest
// driver reads (stack bounds, thread ids). The scenarios are all legal on
// Linux: run natively, every one exits 0. Under stackcheck the ones that break
// OpenBSD's MAP_STACK rule are killed before they print "[sctest] DONE".
//
// Exit codes: 0 done, SC_USAGE bad arguments, SC_SETUP a setup call failed.

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

enum {
	SC_USAGE = 64,
	SC_SETUP = 70,
};

// Arch helpers (tests/arch/<arch>.S).
void sc_call_on_stack(void *top, void (*fn)(void *), void *arg);
long sc_clone_raw(unsigned long flags, void *child_stack, volatile int *done);

static inline void sc_event(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n = snprintf(buf, sizeof buf, "[sctest] ");

	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	if (write(2, buf, n) < 0)
		_exit(SC_SETUP);
}

static inline void sc_usage(const char *prog, const char *modes)
{
	fprintf(stderr, "usage: %s %s\n", prog, modes);
	exit(SC_USAGE);
}

static inline void sc_fail(const char *what)
{
	fprintf(stderr, "[sctest] SETUP-FAILED %s: %s\n", what, strerror(errno));
	exit(SC_SETUP);
}

// sc_mode returns argv[1] if it is one of the NULL-terminated modes.
static inline const char *sc_mode(int argc, char **argv, const char *const *modes)
{
	char list[256] = "";

	for (int i = 0; modes[i] != NULL; i++) {
		if (argc >= 2 && strcmp(argv[1], modes[i]) == 0)
			return modes[i];
		strcat(list, i ? "|" : "");
		strcat(list, modes[i]);
	}
	sc_usage(argv[0], list);
	return NULL;
}

static inline void *sc_map(size_t len, int flags)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);

	if (p == MAP_FAILED)
		sc_fail("mmap");
	return p;
}

// sc_stack_event prints the bounds of a stack the scenario is about to use.
static inline void sc_stack_event(const char *name, void *lo, size_t len)
{
	sc_event("STACK name=%s lo=%p hi=%p", name, lo, (char *)lo + len);
}

// The syscall every scenario makes from the stack under test.
static inline void sc_getpid(void *arg)
{
	(void)arg;
	syscall(SYS_getpid);
}

// sc_top is where a switched-to stack starts: a little below the end, since
// glibc's syscall() reads its seventh argument from the caller's frame and
// the page above a stack may be unmapped.
static inline void *sc_top(void *lo, size_t len)
{
	return (void *)(((uintptr_t)lo + len - 64) & ~(uintptr_t)15);
}
