/*
 * regloop.h for aarch64: a loop that keeps a known value in every register
 * a program can hold state in, and checks them all now and then
 * (regloop.S), for sc_preempt. This port has no asynchronous preemption;
 * the loop still checks that nothing that interrupts it changes them.
 *
 * Table layout (uint64_t words, want[] and got[] alike):
 *   0-25     x1-x8, x10-x17, x19-x28 (x0 points at the table, x9 counts)
 *   26       fpcr's rounding mode, FZ and DN bits
 *   27-90    v0-v31, two words each
 */
#ifndef SC_REGLOOP_H
#define SC_REGLOOP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum {
	SC_W_GPR = 0, SC_NGPR = 26,
	SC_W_CTRL = 26,
	SC_W_VEC = 27, SC_NVEC = 32,
	SC_REGWORDS = 92,
};

typedef struct sc_regs {
	uint64_t want[SC_REGWORDS];
	uint64_t got[SC_REGWORDS];
	uint64_t left;		/* iterations still to run */
	uint64_t check;		/* iterations between checks */
	uint64_t features;	/* none on this port */
	volatile uint32_t halt;	/* set it: the loop checks once more and returns */
	uint32_t pad0;
	uint64_t savectl;	/* the caller's fpcr */
	uint64_t inner;		/* the inner counter; 1 once *stop was seen */
	volatile uint32_t *live;	/* set to 1 once the registers hold their values (or NULL) */
} sc_regs;

_Static_assert(offsetof(sc_regs, got) == 736, "got");
_Static_assert(offsetof(sc_regs, left) == 1472, "left");
_Static_assert(offsetof(sc_regs, check) == 1480, "check");
_Static_assert(offsetof(sc_regs, halt) == 1496, "halt");
_Static_assert(offsetof(sc_regs, savectl) == 1504, "savectl");
_Static_assert(offsetof(sc_regs, inner) == 1512, "inner");
_Static_assert(offsetof(sc_regs, live) == 1520, "live");

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
	r->want[SC_W_CTRL] = 0x03c00000;	/* round toward zero, FZ, DN */
	for (int w = 0; w < 2 * SC_NVEC; w++)
		r->want[SC_W_VEC + w] = sc_regmix(seed * 977 + (uint64_t)w + 1000);
	memcpy(r->got, r->want, sizeof r->got);
}

static inline const char *sc_regname(uint64_t word, char *buf, size_t n)
{
	static const char *const gpr[SC_NGPR] = { "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28" };

	if (word < SC_W_CTRL)
		snprintf(buf, n, "%s", gpr[word]);
	else if (word == SC_W_CTRL)
		snprintf(buf, n, "fpcr");
	else
		snprintf(buf, n, "v%d word %d", (int)((word - SC_W_VEC) / 2), (int)((word - SC_W_VEC) % 2));
	return buf;
}

#endif
