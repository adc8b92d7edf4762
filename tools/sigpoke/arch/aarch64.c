// aarch64 Linux: the breakpoint instruction and the registers sigpoke needs.
//
// Compiled by the cross compiler, not run: qemu-user cannot ptrace its
// guest, and this machine has no aarch64 hardware. See docs/sigpoke.md.
//
// BRK #0 (0xd4200000, stored little-endian) is one fixed-size instruction,
// so it fits over any instruction. Unlike int3 it traps *before* executing:
// the kernel reports SIGTRAP with si_code TRAP_BRKPT and pc at the BRK, so
// nothing needs rewinding. PTRACE_GETREGS does not exist on arm64; the
// general registers come as struct user_pt_regs through PTRACE_GETREGSET
// with NT_PRSTATUS. The kernel flushes the instruction cache for
// /proc/PID/mem writes to executable pages, so breakpoints need no more.

#include <elf.h>
#include <errno.h>
#include <asm/ptrace.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#include "../sigpoke.h"

const uint8_t archbrk[] = { 0x00, 0x00, 0x20, 0xd4 };
const size_t archbrklen = sizeof archbrk;
const int archelf = EM_AARCH64;

static int getregs(pid_t tid, struct user_pt_regs *regs)
{
	struct iovec iov = { regs, sizeof *regs };

	if (ptrace(PTRACE_GETREGSET, tid, NT_PRSTATUS, &iov) < 0)
		return -errno;
	return 0;
}

int archregs(pid_t tid, uintptr_t *pc, uintptr_t *sp)
{
	struct user_pt_regs regs;
	int err = getregs(tid, &regs);

	if (err < 0)
		return err;
	*pc = regs.pc;
	*sp = regs.sp;
	return 0;
}

int archsetpc(pid_t tid, uintptr_t pc)
{
	struct user_pt_regs regs;
	struct iovec iov = { &regs, sizeof regs };
	int err = getregs(tid, &regs);

	if (err < 0)
		return err;
	regs.pc = pc;
	if (ptrace(PTRACE_SETREGSET, tid, NT_PRSTATUS, &iov) < 0)
		return -errno;
	return 0;
}

// archbpaddr: 1 and the breakpoint's address if this SIGTRAP is a BRK.
int archbpaddr(const siginfo_t *si, uintptr_t pc, uintptr_t *addr)
{
	if (si->si_code != TRAP_BRKPT)
		return 0;
	*addr = pc;
	return 1;
}

// ---- disassembly (capstone) and dynamic linking ----
//
// Written for the port, not run (see above). A PLT stub is
//   adrp x16, PAGE; ldr x17, [x16, #OFF]; add x16, x16, #OFF; br x17
// and its GOT slot is PAGE + OFF. adrp and literal loads are the only
// pc-relative data references; adrp alone gives a page, not a symbol, so
// none is annotated.

const unsigned archjumpslot = R_AARCH64_JUMP_SLOT;
const unsigned archglobdat = R_AARCH64_GLOB_DAT;

int archcsopen(csh *h)
{
	if (cs_open(CS_ARCH_ARM64, CS_MODE_ARM, h) != CS_ERR_OK)
		return -1;
	cs_option(*h, CS_OPT_DETAIL, CS_OPT_ON);
	return 0;
}

uintptr_t archtarget(csh h, const cs_insn *in)
{
	const cs_arm64 *a = &in->detail->arm64;

	if (!cs_insn_group(h, in, CS_GRP_JUMP) && !cs_insn_group(h, in, CS_GRP_CALL))
		return 0;
	if (a->op_count < 1 || a->operands[a->op_count - 1].type != ARM64_OP_IMM)
		return 0;
	return (uintptr_t)a->operands[a->op_count - 1].imm;
}

uintptr_t archdataref(const cs_insn *in)
{
	(void)in;
	return 0;
}

uintptr_t archgotslot(csh h, const cs_insn *in, size_t n)
{
	(void)h;
	if (n < 2 || in[0].id != ARM64_INS_ADRP || in[1].id != ARM64_INS_LDR)
		return 0;
	const cs_arm64 *adrp = &in[0].detail->arm64, *ldr = &in[1].detail->arm64;
	if (adrp->op_count != 2 || ldr->op_count != 2 || ldr->operands[1].type != ARM64_OP_MEM)
		return 0;
	return (uintptr_t)adrp->operands[1].imm + (uintptr_t)ldr->operands[1].mem.disp;
}
