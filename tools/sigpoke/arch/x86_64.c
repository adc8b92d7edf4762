// x86-64 Linux: the breakpoint instruction and the registers sigpoke needs.
//
// int3 (0xcc) is one byte, so it fits over any instruction. It traps after
// executing: the kernel reports SIGTRAP with si_code SI_KERNEL and rip one
// past the int3, i.e. at A+1 for a breakpoint at A. sigpoke rewinds rip to
// A before anything else, so the thread stands exactly before A.
// A single step (PTRACE_SINGLESTEP) ends with SIGTRAP too, si_code
// TRAP_TRACE (or TRAP_BRKPT on some kernels): never taken for a breakpoint
// because trace.c knows which threads are stepping.

#include <errno.h>
#include <elf.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#include "../sigpoke.h"

const uint8_t archbrk[] = { 0xcc };
const size_t archbrklen = sizeof archbrk;
const int archelf = EM_X86_64;

int archregs(pid_t tid, uintptr_t *pc, uintptr_t *sp)
{
	struct user_regs_struct regs;

	if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0)
		return -errno;
	*pc = regs.rip;
	*sp = regs.rsp;
	return 0;
}

int archsetpc(pid_t tid, uintptr_t pc)
{
	if (ptrace(PTRACE_POKEUSER, tid, offsetof(struct user, regs.rip), pc) < 0)
		return -errno;
	return 0;
}

// archbpaddr: 1 and the breakpoint's address if this SIGTRAP is an int3.
int archbpaddr(const siginfo_t *si, uintptr_t pc, uintptr_t *addr)
{
	if (si->si_code != SI_KERNEL)
		return 0;
	*addr = pc - archbrklen;
	return 1;
}
