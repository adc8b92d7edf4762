/*
 * regloop.h for riscv64: a loop that keeps a known value in every register
 * a program can hold state in, and checks them all now and then
 * (regloop.S), for sc_preempt. This port has no asynchronous preemption;
 * the loop still checks that nothing that interrupts it changes them.
 *
 * Table layout (uint64_t words, want[] and got[] alike):
 *   0-23     a1-a7, t1-t6, s1-s11 (a0 points at the table, t0 counts)
 *   24       fcsr's rounding mode
 *   25-56    f0-f31
 */
#ifndef SC_REGLOOP_H
#define SC_REGLOOP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum {
	SC_W_GPR = 0, SC_NGPR = 24,
	SC_W_CTRL = 24,
	SC_W_F = 25, SC_NF = 32,
	SC_REGWORDS = 58,
};

typedef struct sc_regs {
	uint64_t want[SC_REGWORDS];
	uint64_t got[SC_REGWORDS];
	uint64_t left;		/* iterations still to run */
	uint64_t check;		/* iterations between checks */
	uint64_t features;	/* none on this port */
	volatile uint32_t halt;	/* set it: the loop checks once more and returns */
	uint32_t pad0;
	uint64_t savectl;	/* the caller's fcsr */
	uint64_t inner;		/* the inner counter; 1 once *stop was seen */
	volatile uint32_t *live;	/* set to 1 once the registers hold their values (or NULL) */
} sc_regs;

_Static_assert(offsetof(sc_regs, got) == 464, "got");
_Static_assert(offsetof(sc_regs, left) == 928, "left");
_Static_assert(offsetof(sc_regs, check) == 936, "check");
_Static_assert(offsetof(sc_regs, halt) == 952, "halt");
_Static_assert(offsetof(sc_regs, savectl) == 960, "savectl");
_Static_assert(offsetof(sc_regs, inner) == 968, "inner");
_Static_assert(offsetof(sc_regs, live) == 976, "live");

/* Run r->left iterations (or until r->halt is set, which the spin looks at
 * every iteration), checking every register every r->check iterations and
 * once more at the end. 0, or 1 + the index of the first word of the table
 * that differed. */
uint64_t sc_regloop(sc_regs *r);

static inline uint64_t sc_regmix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	return x;
}

static inline void sc_regs_init(sc_regs *r, uint64_t seed, uint64_t check)
{
	memset(r, 0, sizeof *r);
	r->check = check;
	for (int i = 0; i < SC_NGPR; i++)
		r->want[SC_W_GPR + i] = sc_regmix(seed * 131 + (uint64_t)i);
	r->want[SC_W_CTRL] = 0x20;	/* round toward zero */
	for (int i = 0; i < SC_NF; i++)
		r->want[SC_W_F + i] = sc_regmix(seed * 977 + (uint64_t)i + 1000);
	memcpy(r->got, r->want, sizeof r->got);
}

static inline const char *sc_regname(uint64_t word, char *buf, size_t n)
{
	static const char *const gpr[SC_NGPR] = { "a1", "a2", "a3", "a4", "a5", "a6", "a7", "t1", "t2", "t3", "t4", "t5", "t6", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11" };

	if (word < SC_W_CTRL)
		snprintf(buf, n, "%s", gpr[word]);
	else if (word == SC_W_CTRL)
		snprintf(buf, n, "fcsr.frm");
	else
		snprintf(buf, n, "f%d", (int)(word - SC_W_F));
	return buf;
}

#endif
