/*
 * ucontext.c: getcontext / makecontext / swapcontext for test programs on
 * musl, which declares them but does not implement them. A stand-in, built
 * on the Boost-ABI switch in fcontext/<arch>.S, for exactly the pattern
 * runtime/tests/rt_callback.c and harness/cstack.h use until they are
 * adapted (docs/arch.md):
 *
 *   getcontext(&co); co.uc_stack = {...}; makecontext(&co, fn, 0-2 ints);
 *   swapcontext(&self, &co);   ...   swapcontext(&co, &self);
 *
 * Not supported (abort): resuming a context that only getcontext filled in,
 * setcontext, a coroutine function returning (uc_link). No signal mask is
 * saved or restored: like Boost.Context, unlike glibc.
 *
 * The switch state lives in uc_mcontext, which nothing else reads here.
 * Plain C: no split checks (the caller's frames are foreign C too).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

typedef void *fcontext_t;
typedef struct {
	fcontext_t fctx;
	void *data;
} transfer_t;
transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));

typedef struct Shim {
	fcontext_t fctx;	/* where a swap into this context goes */
	void (*fn)();		/* makecontext's function and its arguments */
	int argc;
	int argv[2];
	int fresh;		/* made, never entered */
} Shim;

_Static_assert(sizeof(Shim) <= sizeof(mcontext_t), "Shim fits in uc_mcontext");

static inline Shim *shim(ucontext_t *uc)
{
	return (Shim *)&uc->uc_mcontext;
}

static __thread ucontext_t *starting;

/* Whoever jumps passes its own ucontext: record where it can be resumed. */
static void arrived(transfer_t t)
{
	shim((ucontext_t *)t.data)->fctx = t.fctx;
}

static void start(transfer_t t)
{
	ucontext_t *me = starting;

	arrived(t);
	switch (shim(me)->argc) {
	case 0: ((void (*)(void))shim(me)->fn)(); break;
	case 1: ((void (*)(int))shim(me)->fn)(shim(me)->argv[0]); break;
	case 2: ((void (*)(int, int))shim(me)->fn)(shim(me)->argv[0], shim(me)->argv[1]); break;
	}
	abort();		/* uc_link is not supported */
}

int getcontext(ucontext_t *uc)
{
	memset(shim(uc), 0, sizeof(Shim));
	return 0;
}

void makecontext(ucontext_t *uc, void (*fn)(), int argc, ...)
{
	va_list ap;

	if (argc < 0 || argc > 2)
		abort();	/* more than the stand-in's users need */
	shim(uc)->fn = fn;
	shim(uc)->argc = argc;
	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		shim(uc)->argv[i] = va_arg(ap, int);
	va_end(ap);
	shim(uc)->fresh = 1;
}

int swapcontext(ucontext_t *from, const ucontext_t *cto)
{
	ucontext_t *to = (ucontext_t *)cto;
	fcontext_t target = shim(to)->fctx;

	if (shim(to)->fresh) {
		shim(to)->fresh = 0;
		target = make_fcontext((char *)to->uc_stack.ss_sp + to->uc_stack.ss_size,
			to->uc_stack.ss_size, start);
		starting = to;
	}
	if (!target)
		abort();	/* only getcontext filled it in */
	arrived(jump_fcontext(target, from));
	return 0;
}

int setcontext(const ucontext_t *uc)
{
	abort();
}
