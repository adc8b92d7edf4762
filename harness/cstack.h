/*
 * cstack.h: stacks a foreign C thread can run on, and ways to get there.
 *
 * Kinds: the thread's own pthread stack; ucontext (glibc's swapcontext,
 * which also makes a sigprocmask call on every switch); Boost.Context's
 * jump_fcontext (registers only). Memory comes from malloc or from mmap;
 * under stackcheck (SC_MAPSTACK=1 in the environment) every stack is mmap'd
 * MAP_STACK, since OpenBSD kills any syscall made with sp elsewhere, and
 * the scenario must not be the one breaking that rule.
 *
 * Where the memory lies (place): anywhere malloc or mmap put it, or mapped
 * on purpose above or below the stack of the thread that first runs on
 * it. A runtime that re-derives a foreign thread's stack bounds wrongly
 * fails one way when the new stack is below the old bounds (its split check
 * fires) and another when it is above (a bounds check, or nothing): the
 * side is the scenario's choice, from the seed, not the address layout's,
 * so a finding replays with the same message.
 *
 * All of it is plain C of the foreign thread (C_SIDE: no split checks):
 * it runs on stacks the runtime knows nothing about.
 */
#ifndef SQ_CSTACK_H
#define SQ_CSTACK_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "fcontext.h"

#define C_SIDE __attribute__((no_instrument_function, no_split_stack))

/* AddressSanitizer must be told of every stack switch (fiber annotations,
 * as in the runtime: runtime.h). cs_run keeps its caller's fake stack; the
 * body's stack records the stack it came from and, once the body is done,
 * is left for good (its fake stack freed) back to it. No-ops without ASan. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CS_ASAN 1
#endif
#endif
#if !defined(CS_ASAN) && defined(__SANITIZE_ADDRESS__)
#define CS_ASAN 1
#endif
#ifndef CS_ASAN
#define CS_ASAN 0
#endif
#if CS_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

/* musl declares getcontext/makecontext/swapcontext but implements none:
 * there the ucontext kind is switched to with fcontext, like the boost kind
 * (its own stacks still; what it loses is glibc's sigprocmask per switch).
 * cs_note says so once per program. */
#ifdef __GLIBC__
#define CS_HAVE_UCONTEXT 1
#else
#define CS_HAVE_UCONTEXT 0
#endif

enum { CS_PTHREAD, CS_UCONTEXT, CS_BOOST, CS_NKINDS, CS_SIZE = 1 << 20 };
enum { CS_ANYWHERE, CS_ABOVE, CS_BELOW };

static const char *const cs_kindname[CS_NKINDS] = { "pthread", "ucontext", "boost" };

typedef struct cstack {
	int kind;
	int mapped;		/* mmap'd (1) or malloc'd (0) */
	int place;		/* CS_ANYWHERE, CS_ABOVE, CS_BELOW (mapped) */
	char *mem;
	void (*body)(void *);	/* what to run on it */
	void *arg;
	ucontext_t uc, back;
	fcontext_t back_fc;
#if CS_ASAN
	void *asan_fake;	/* the fake stack of cs_run's caller */
	const void *asan_lo;	/* the stack cs_run was called on */
	size_t asan_size;
#endif
} cstack;

/* cs_run, before it switches to s's stack; after it is back. */
C_SIDE __attribute__((always_inline)) static inline void cs_asan_go(cstack *s)
{
#if CS_ASAN
	__sanitizer_start_switch_fiber(&s->asan_fake, s->mem, CS_SIZE);
#endif
}

C_SIDE __attribute__((always_inline)) static inline void cs_asan_back(cstack *s)
{
#if CS_ASAN
	__sanitizer_finish_switch_fiber(s->asan_fake, NULL, NULL);
#endif
}

/* First thing on s's stack; last thing there, its frames abandoned. */
C_SIDE __attribute__((always_inline)) static inline void cs_asan_enter(cstack *s)
{
#if CS_ASAN
	__sanitizer_finish_switch_fiber(NULL, &s->asan_lo, &s->asan_size);
#endif
}

C_SIDE __attribute__((always_inline)) static inline void cs_asan_leave(cstack *s)
{
#if CS_ASAN
	__sanitizer_start_switch_fiber(NULL, s->asan_lo, s->asan_size);
#endif
}

/* SC_MAPSTACK=1: every C stack is mapped MAP_STACK (for stackcheck runs).
 * Read once, at the first allocation; anything but 0 or 1 is a usage error. */
C_SIDE static inline int cs_mapstack(void)
{
	static int on = -1;

	if (on < 0) {
		const char *ms = getenv("SC_MAPSTACK");

		if (ms && *ms && strcmp(ms, "0") && strcmp(ms, "1")) {
			fprintf(stderr, "SC_MAPSTACK=%s: want 0 or 1\n", ms);
			exit(64);
		}
		on = ms && *ms == '1';
	}
	return on;
}

/* CS_SIZE bytes mapped wholly above or below the calling thread's stack:
 * hints further and further away until the kernel takes one on the wanted
 * side. NULL if none is free (the caller then takes memory anywhere). */
C_SIDE static inline char *cs_placed(int place)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0), hint;

	for (int i = 0; i < 10; i++) {
		uintptr_t d = (uintptr_t)16 << (20 + i);	/* 16 MiB .. 8 GiB */
		char *p;

		if (place == CS_BELOW && sp < d + CS_SIZE)
			break;
		hint = (place == CS_ABOVE ? sp + d : sp - d - CS_SIZE) & ~(uintptr_t)0xfffff;
		p = mmap((void *)hint, CS_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (p == MAP_FAILED)
			break;
		if (place == CS_ABOVE ? (uintptr_t)p > sp : (uintptr_t)p + CS_SIZE < sp)
			return p;
		munmap(p, CS_SIZE);
	}
	return NULL;
}

C_SIDE static inline char *cs_alloc(cstack *s)
{
	char *p;

	if (s->place != CS_ANYWHERE) {
		if ((p = cs_placed(s->place)) != NULL) {
			s->mapped = 1;
			return p;
		}
		fprintf(stderr, "[sc] NOTE place: no room %s this thread's stack; taken anywhere\n",
			s->place == CS_ABOVE ? "above" : "below");
	}
	if (cs_mapstack() || s->mapped) {
		p = mmap(NULL, CS_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		s->mapped = 1;
		return p == MAP_FAILED ? NULL : p;
	}
	return malloc(CS_SIZE);
}

C_SIDE static inline void cs_uc_entry(unsigned hi, unsigned lo)
{
	cstack *s = (cstack *)(((uintptr_t)hi << 32) | lo);

	cs_asan_enter(s);
	s->body(s->arg);
	cs_asan_leave(s);
	swapcontext(&s->uc, &s->back);
}

C_SIDE static inline void cs_fc_entry(transfer_t t)
{
	cstack *s = t.data;

	cs_asan_enter(s);
	s->back_fc = t.fctx;
	s->body(s->arg);
	cs_asan_leave(s);
	jump_fcontext(s->back_fc, NULL);
}

/* Run body(arg) once on a fresh stack of the given kind and come back. */
C_SIDE static inline int cs_run(cstack *s, void (*body)(void *), void *arg)
{
	uintptr_t p = (uintptr_t)s;

	s->body = body;
	s->arg = arg;
	if (s->kind == CS_PTHREAD) {
		body(arg);
		return 0;
	}
	if (!s->mem && !(s->mem = cs_alloc(s)))
		return -1;
	if (s->kind == CS_UCONTEXT && !CS_HAVE_UCONTEXT) {
		static int noted;
		if (!__atomic_exchange_n(&noted, 1, __ATOMIC_RELAXED))
			fprintf(stderr, "[sc] NOTE ucontext: this libc has none; ucontext stacks switch with fcontext\n");
	} else if (CS_HAVE_UCONTEXT && s->kind == CS_UCONTEXT) {
		getcontext(&s->uc);
		s->uc.uc_stack.ss_sp = s->mem;
		s->uc.uc_stack.ss_size = CS_SIZE;
		s->uc.uc_link = NULL;
		makecontext(&s->uc, (void (*)(void))cs_uc_entry, 2,
			(unsigned)(p >> 32), (unsigned)p);
		cs_asan_go(s);
		swapcontext(&s->back, &s->uc);
		cs_asan_back(s);
		return 0;
	}
	cs_asan_go(s);
	jump_fcontext(make_fcontext(s->mem + CS_SIZE, CS_SIZE, cs_fc_entry), s);
	cs_asan_back(s);
	return 0;
}

#endif
