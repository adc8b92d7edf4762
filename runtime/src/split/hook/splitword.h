/*
 * splitword.h, hook mode: the split check is a call to an entry hook
 * (-finstrument-function-entry-bare, hook.c) that reads g->stackguard
 * itself. There is no per-thread guard word to keep in step with g, so
 * everything here is empty, and the compiler drops the loads that feed it.
 */
#ifndef SQ_SPLITWORD_H
#define SQ_SPLITWORD_H

#include <stdint.h>

/* The mode's name, for dumps and the bench. */
#define SPLIT_MODE "hook"

/* Set the calling thread's guard word: nothing to set. Any stack. */
__attribute__((no_instrument_function, no_split_stack, always_inline))
static inline void split_setword(uintptr_t v)
{
	(void)v;
}

/* Where another thread may poison this thread's word: nowhere; the hook
 * reads the G's own guard, which sysmon poisons directly. */
__attribute__((no_instrument_function, no_split_stack, always_inline))
static inline uintptr_t *split_wordaddr(void)
{
	return 0;
}

#endif
