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

// ---- disassembly (capstone) and dynamic linking ----

const unsigned archjumpslot = R_X86_64_JUMP_SLOT;
const unsigned archglobdat = R_X86_64_GLOB_DAT;

// archcsopen opens capstone for x86-64 in AT&T syntax, the syntax of
// objdump and of the GNU assembler; operand details name branch targets.
int archcsopen(csh *h)
{
	if (cs_open(CS_ARCH_X86, CS_MODE_64, h) != CS_ERR_OK)
		return -1;
	cs_option(*h, CS_OPT_SYNTAX, CS_OPT_SYNTAX_ATT);
	cs_option(*h, CS_OPT_DETAIL, CS_OPT_ON);
	return 0;
}

// archtarget returns the target of a direct jump or call, else 0.
uintptr_t archtarget(csh h, const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	if (!cs_insn_group(h, in, CS_GRP_JUMP) && !cs_insn_group(h, in, CS_GRP_CALL))
		return 0;
	if (x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
		return 0;
	return (uintptr_t)x->operands[0].imm;
}

// archdataref returns the address a rip-relative operand refers to, else 0.
uintptr_t archdataref(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	for (int i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_MEM && x->operands[i].mem.base == X86_REG_RIP)
			return in->address + in->size + x->operands[i].mem.disp;
	return 0;
}

// archgotslot returns the GOT slot a PLT stub (its first n instructions)
// jumps through: jmp *slot(%rip), after an endbr64 or a bnd prefix; else 0.
uintptr_t archgotslot(csh h, const cs_insn *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cs_insn_group(h, &in[i], CS_GRP_JUMP))
			return archdataref(&in[i]);
	return 0;
}
