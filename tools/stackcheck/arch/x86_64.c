// x86-64 Linux: reading a stopped tracee's syscall and registers.
//
// At a syscall stop SP is the user RSP of the syscall instruction, which does
// not push anything: SP points at the last value the thread pushed, i.e.
// inside its stack, and equals the top only if nothing was pushed yet (the
// first instruction of a clone child). PC is the address after the syscall
// instruction.
//
// PTRACE_GET_SYSCALL_INFO (Linux 5.3) gives number, arguments, SP and PC in
// one call and tells entry from exit; without it PTRACE_GETREGS gives the
// same registers (orig_rax is the number, rax the result or -ENOSYS at entry)
// and the caller tells entry from exit by toggling.
//
// Syscall numbers and names come from the kernel's asm/unistd_64.h through
// the generated sysnames.h. A 64-bit process can still make 32-bit calls
// with int $0x80; they use the i386 table, so they are marked compat and
// only checked, never interpreted.

#include <errno.h>
#include <linux/audit.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#include "../stackcheck.h"

static const char *const sysnames[] = {
#include "sysnames.h"
};

static int fromsysinfo(pid_t tid, struct sysregs *r)
{
	struct __ptrace_syscall_info si;
	int i;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof si, &si) < 0)
		return -errno;
	r->sp = si.stack_pointer;
	r->pc = si.instruction_pointer;
	r->compat = si.arch != AUDIT_ARCH_X86_64;
	switch (si.op) {
	case PTRACE_SYSCALL_INFO_ENTRY:
	case PTRACE_SYSCALL_INFO_SECCOMP:
		// The seccomp variant starts with the same nr and args.
		r->op = si.op == PTRACE_SYSCALL_INFO_ENTRY ? SYS_ENTRY : SYS_SECCOMP;
		r->nr = (long)si.entry.nr;
		for (i = 0; i < 6; i++)
			r->a[i] = si.entry.args[i];
		break;
	case PTRACE_SYSCALL_INFO_EXIT:
		r->op = SYS_EXIT;
		r->rval = si.exit.rval;
		break;
	default:
		r->op = SYS_UNKNOWN;
		break;
	}
	return 0;
}

static int fromregs(pid_t tid, struct sysregs *r)
{
	struct user_regs_struct regs;

	if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0)
		return -errno;
	r->op = SYS_UNKNOWN;
	r->nr = (long)regs.orig_rax;
	r->a[0] = regs.rdi;
	r->a[1] = regs.rsi;
	r->a[2] = regs.rdx;
	r->a[3] = regs.r10;
	r->a[4] = regs.r8;
	r->a[5] = regs.r9;
	r->sp = regs.rsp;
	r->pc = regs.rip;
	r->rval = (long)regs.rax;
	r->compat = 0;
	return 0;
}

// archsys reads the syscall t is stopped in. With sysinfo it asks the kernel;
// a kernel that does not know the request answers -EIO.
int archsys(pid_t tid, int sysinfo, struct sysregs *r)
{
	return sysinfo ? fromsysinfo(tid, r) : fromregs(tid, r);
}

int archsp(pid_t tid, uintptr_t *sp, uintptr_t *pc)
{
	struct user_regs_struct regs;

	if (ptrace(PTRACE_GETREGS, tid, 0, &regs) < 0)
		return -errno;
	*sp = regs.rsp;
	*pc = regs.rip;
	return 0;
}

// archskip makes the kernel skip the syscall t is entering: number -1 is no
// call at all, and it returns -ENOSYS.
int archskip(pid_t tid)
{
	if (ptrace(PTRACE_POKEUSER, tid, offsetof(struct user, regs.orig_rax), -1L) < 0)
		return -errno;
	return 0;
}

const char *archsysname(long nr)
{
	if (nr < 0 || (unsigned long)nr >= sizeof sysnames / sizeof sysnames[0])
		return NULL;
	return sysnames[nr];
}
