/*
 * mapstack-probe.c: OpenBSD's MAP_STACK rule, checked against the real
 * kernel (ci/matrix.yml, openbsd job; amd64). tools/stackcheck enforces the
 * same rule on Linux: at every system call, sp must lie in memory mapped
 * MAP_STACK. Two children each make one system call with sp moved into an
 * mmap'd region: with MAP_STACK it must return normally, without it the
 * kernel must kill the child with SIGSEGV.
 *
 * ON PAPER: written for the OpenBSD runner, not run on OpenBSD here (the
 * development machine is Linux, where both children exit 0, since Linux
 * has no such rule). On Linux, under tools/stackcheck, which enforces the
 * rule, it passes as it should on OpenBSD:
 *   build/tools/stackcheck -- ./mapstack-probe
 *
 * Exit status: 0 the kernel behaves as stackcheck assumes, 1 it does not.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "mapstack-probe.c: amd64 only"
#endif

enum { SIZE = 64 << 10 };

static void syscall_here(void)
{
	getpid();
}

/* Call fn with sp at top (16-aligned), then come back. */
static void on_stack(char *top, void (*fn)(void))
{
	__asm__ volatile(
		"movq %%rsp, %%rbx\n\t"		/* rbx is callee-saved: our way back */
		"movq %0, %%rsp\n\t"		/* onto the probe region */
		"callq *%1\n\t"			/* fn with a normal frame */
		"movq %%rbx, %%rsp"		/* back on our own stack */
		: : "r"(top), "r"(fn)
		: "rbx", "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
}

/* Fork a child that makes a system call on a fresh region; its wait status. */
static int probe(int flags)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		char *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON | flags, -1, 0);
		if (p == MAP_FAILED)
			_exit(3);
		on_stack(p + SIZE, syscall_here);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

int main(void)
{
	int with = probe(MAP_STACK), without = probe(0);
	int ok_with = WIFEXITED(with) && WEXITSTATUS(with) == 0;
	int ok_without = WIFSIGNALED(without) && WTERMSIG(without) == SIGSEGV;

	printf("mapstack-probe: syscall with sp in MAP_STACK memory: %s\n",
		ok_with ? "returned (as expected)" : "FAILED");
	printf("mapstack-probe: syscall with sp in other memory: %s\n",
		ok_without ? "killed by SIGSEGV (as expected)" : "NOT KILLED");
	return ok_with && ok_without ? 0 : 1;
}
