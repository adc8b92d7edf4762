/*
 * regloop.h for x86-64: a loop that keeps a known value in every register
 * a program can hold state in, and checks them all now and then
 * (regloop.S), for sc_preempt.
 *
 * Register classes held across the loop: 14 general registers (all but
 * rsp and rdi, which points at the table), DF in rflags, mxcsr's control
 * bits and the x87 control word (both non-default), the eight x87 stack
 * registers, and the vector registers as wide as the CPU has them (xmm0-15;
 * ymm0-15 with AVX; zmm0-31 and the opmask registers k1-7 with AVX-512).
 * The loop has no call and no split check: only a signal can preempt it.
 *
 * Table layout (uint64_t words, want[] and got[] alike):
 *   0-13     rax rbx rcx rdx rsi rbp r8 r9 r10 r11 r12 r13 r14 r15
 *   14       rflags & DF (0x400)
 *   15       (mxcsr & 0xffc0) | x87 control word << 32
 *   16-271   32 vector registers, 8 words each (as many as the width uses)
 *   272-279  k0-k7, 16 bits each (k1-k7 loaded)
 *   280-295  st0-st7, 80 bits each in two words
 */
#ifndef SC_REGLOOP_H
#define SC_REGLOOP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum {
	SC_W_GPR = 0, SC_NGPR = 14,
	SC_W_FLAGS = 14,
	SC_W_CTRL = 15,
	SC_W_VEC = 16, SC_NVEC = 32,
	SC_W_K = 272,
	SC_W_X87 = 280,
	SC_REGWORDS = 296,
};

enum { SC_HAVE_AVX = 1, SC_HAVE_AVX512 = 2 };

typedef struct sc_regs {
	uint64_t want[SC_REGWORDS];
	uint64_t got[SC_REGWORDS];
	uint64_t left;		/* iterations still to run */
	uint64_t check;		/* iterations between checks */
	uint64_t features;	/* SC_HAVE_* */
	volatile uint32_t halt;	/* set it: the loop checks once more and returns */
	uint32_t pad0;
	uint64_t savectl;	/* the caller's mxcsr and x87 control word */
	uint64_t inner;		/* the inner counter; 1 once *stop was seen */
	volatile uint32_t *live;	/* set to 1 once the registers hold their values (or NULL) */
	uint64_t pad;
	uint8_t fx[512] __attribute__((aligned(16)));	/* fxsave scratch */
} sc_regs;

/* Offsets regloop.S uses (it repeats them as numbers). */
_Static_assert(offsetof(sc_regs, got) == 2368, "got");
_Static_assert(offsetof(sc_regs, left) == 4736, "left");
_Static_assert(offsetof(sc_regs, check) == 4744, "check");
_Static_assert(offsetof(sc_regs, features) == 4752, "features");
_Static_assert(offsetof(sc_regs, halt) == 4760, "halt");
_Static_assert(offsetof(sc_regs, savectl) == 4768, "savectl");
_Static_assert(offsetof(sc_regs, inner) == 4776, "inner");
_Static_assert(offsetof(sc_regs, live) == 4784, "live");
_Static_assert(offsetof(sc_regs, fx) == 4800, "fx");

/* Run r->left iterations (or until r->halt is set, which the spin looks at
 * every iteration), checking every register every r->check iterations and
 * once more at the end. 0, or 1 + the index of the first word of the table
 * that differed. */
uint64_t sc_regloop(sc_regs *r);

/* How wide the vector registers are that the loop will fill. */
static inline uint64_t sc_regfeatures(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		return SC_HAVE_AVX | SC_HAVE_AVX512;
	return __builtin_cpu_supports("avx") ? SC_HAVE_AVX : 0;
}

static inline uint64_t sc_regmix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	return x;
}

/* A table of values derived from seed, distinct per register and lane. */
static inline void sc_regs_init(sc_regs *r, uint64_t seed, uint64_t check)
{
	memset(r, 0, sizeof *r);
	r->features = sc_regfeatures();
	r->check = check;
	for (int i = 0; i < SC_NGPR; i++)
		r->want[SC_W_GPR + i] = sc_regmix(seed * 131 + (uint64_t)i);
	r->want[SC_W_FLAGS] = 0x400;				/* DF set */
	r->want[SC_W_CTRL] = 0x7fc0 | ((uint64_t)0x0f7f << 32);	/* RZ+DAZ; x87 RZ */
	for (int v = 0; v < SC_NVEC; v++) {
		int words = r->features & SC_HAVE_AVX512 ? 8 : v >= 16 ? 0 : r->features & SC_HAVE_AVX ? 4 : 2;

		for (int w = 0; w < words; w++)
			r->want[SC_W_VEC + 8 * v + w] = sc_regmix(seed * 977 + (uint64_t)(v * 8 + w) + 1000);
	}
	if (r->features & SC_HAVE_AVX512)
		for (int k = 1; k < 8; k++)
			r->want[SC_W_K + k] = sc_regmix(seed + (uint64_t)k) & 0xffff;
	for (int i = 0; i < 8; i++) {
		long double x = (long double)(int64_t)(sc_regmix(seed * 7 + (uint64_t)i) >> 12) / 3.0L;

		memcpy(&r->want[SC_W_X87 + 2 * i], &x, 10);
	}
	memcpy(r->got, r->want, sizeof r->got);
}

/* The register a table word belongs to, for people. */
static inline const char *sc_regname(uint64_t word, char *buf, size_t n)
{
	static const char *const gpr[SC_NGPR] = {
		"rax", "rbx", "rcx", "rdx", "rsi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
	};

	if (word < SC_W_FLAGS)
		snprintf(buf, n, "%s", gpr[word]);
	else if (word == SC_W_FLAGS)
		snprintf(buf, n, "rflags.DF");
	else if (word == SC_W_CTRL)
		snprintf(buf, n, "mxcsr/x87 control word");
	else if (word < SC_W_K)
		snprintf(buf, n, "%s%d word %d", (word - SC_W_VEC) % 8 >= 4 ? "zmm" : (word - SC_W_VEC) % 8 >= 2 ?
			"ymm" : "xmm", (int)((word - SC_W_VEC) / 8), (int)((word - SC_W_VEC) % 8));
	else if (word < SC_W_X87)
		snprintf(buf, n, "k%d", (int)(word - SC_W_K));
	else
		snprintf(buf, n, "st%d", (int)((word - SC_W_X87) / 2));
	return buf;
}

#endif
