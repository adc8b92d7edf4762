/*
 * fcontext.h: the C-callable half of Boost.Context's fcontext API, as
 * libboost_context exports it (and as tools/cross/fcontext/<arch>.S
 * provides it where Boost is not installed). A context is a pointer into
 * its stack; jump_fcontext saves the caller's and resumes another one,
 * handing over data; make_fcontext prepares a fresh one that starts in fn.
 */
#ifndef SQ_FCONTEXT_H
#define SQ_FCONTEXT_H

#include <stddef.h>

typedef void *fcontext_t;
typedef struct {
	fcontext_t fctx;
	void *data;
} transfer_t;

transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));

#endif
