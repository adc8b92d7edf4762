
/* ---- stacks a foreign thread calls in from (harness/cstack.h) ------------
 * The thread's own pthread stack; glibc's ucontext (swapcontext); Boost.
 * Context's fcontext. Memory from malloc or mmap (always MAP_STACK when
 * the finding ran under stackcheck), or mapped above or below the calling
 * thread's stack, as the finding's run placed it. */
#include <sys/mman.h>
#include <ucontext.h>

typedef void *fcontext_t;
typedef struct { fcontext_t fctx; void *data; } transfer_t;
transfer_t jump_fcontext(fcontext_t const to, void *vp);	/* libboost_context */
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));

enum { CS_PTHREAD, CS_UCONTEXT, CS_BOOST, CS_NKINDS, CS_SIZE = 1 << 20 };
enum { CS_ANYWHERE, CS_ABOVE, CS_BELOW };
static const int all_map_stack = @MAPSTACK@;	/* the finding ran under stackcheck */

typedef struct cstack {
	int kind;
	int mapped;
	int place;
	char *mem;
	void (*body)(void *);
	void *arg;
	ucontext_t uc, back;
	fcontext_t back_fc;
} cstack;

C_SIDE static char *cs_placed(int place)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0), hint;

	for (int i = 0; i < 10; i++) {
		uintptr_t d = (uintptr_t)16 << (20 + i);
		char *p;

		if (place == CS_BELOW && sp < d + CS_SIZE)
			break;
		hint = (place == CS_ABOVE ? sp + d : sp - d - CS_SIZE) & ~(uintptr_t)0xfffff;
		p = mmap((void *)hint, CS_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (p == MAP_FAILED)
			break;
		if (place == CS_ABOVE ? (uintptr_t)p > sp : (uintptr_t)p + CS_SIZE < sp)
			return p;
		munmap(p, CS_SIZE);
	}
	return NULL;
}

C_SIDE static char *cs_alloc(cstack *s)
{
	char *p;

	if (s->place != CS_ANYWHERE && (p = cs_placed(s->place)) != NULL) {
		s->mapped = 1;
		return p;
	}
	if (all_map_stack || s->mapped) {
		p = mmap(NULL, CS_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		s->mapped = 1;
		return p == MAP_FAILED ? NULL : p;
	}
	return malloc(CS_SIZE);
}

C_SIDE static void cs_uc_entry(unsigned hi, unsigned lo)
{
	cstack *s = (cstack *)(((uintptr_t)hi << 32) | lo);

	s->body(s->arg);
	swapcontext(&s->uc, &s->back);
}

C_SIDE static void cs_fc_entry(transfer_t t)
{
	cstack *s = t.data;

	s->back_fc = t.fctx;
	s->body(s->arg);
	jump_fcontext(s->back_fc, NULL);
}

/* Run body(arg) once on s's stack and come back. */
C_SIDE static int cs_run(cstack *s, void (*body)(void *), void *arg)
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
	if (s->kind == CS_UCONTEXT) {
		getcontext(&s->uc);
		s->uc.uc_stack.ss_sp = s->mem;
		s->uc.uc_stack.ss_size = CS_SIZE;
		s->uc.uc_link = NULL;
		makecontext(&s->uc, (void (*)(void))cs_uc_entry, 2, (unsigned)(p >> 32), (unsigned)p);
		swapcontext(&s->back, &s->uc);
		return 0;
	}
	jump_fcontext(make_fcontext(s->mem + CS_SIZE, CS_SIZE, cs_fc_entry), s);
	return 0;
}
