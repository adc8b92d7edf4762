/*
 * splitword.h, tcb mode (x86-64 glibc): the split check is clang's
 * -fsplit-stack prologue, inline in every checked function:
 *
 *     cmp  %fs:0x70,%rsp           (frames of 256 bytes or more:
 *     jbe  1f                       lea -frame(%rsp),%r11; cmp %fs:0x70,%r11)
 *     ... body ...
 *  1: mov  $frame,%r10; mov $args,%r11
 *     call __morestack; ret; jmp body
 *
 * %fs:0x70 is tcbhead_t.__private_ss, the word glibc reserves in every
 * thread's TCB for split stacks. The runtime keeps it equal to the current
 * g's stackguard (setg writes both, and so does every change to the running
 * G's guard), and 0 on threads that have no g: no sp is below 0, so code
 * built with the runtime's flags never trips on a thread the runtime does
 * not know. __morestack (morestack.S) is the runtime's, not libgcc's.
 *
 * The word is a per-thread cache of g->stackguard, and g->stackguard stays
 * the truth: a failed check first compares the two (split_miss in tcb.c),
 * so a stale or spuriously poisoned word costs one slow call, never a
 * wrong verdict.
 */
#ifndef SQ_SPLITWORD_H
#define SQ_SPLITWORD_H

#include <stdint.h>

#if !defined(__x86_64__) || !defined(__GLIBC__)
#error "split/tcb: the TCB split-stack word is glibc's, on x86-64 (use SQ_SPLIT=hook)"
#endif

#define SPLIT_MODE "tcb"

enum { SPLIT_TCB_OFF = 0x70 };	/* offsetof(tcbhead_t, __private_ss) */

/* Set the calling thread's guard word. Any stack, signal-safe. */
__attribute__((no_instrument_function, no_split_stack, always_inline))
static inline void split_setword(uintptr_t v)
{
	__asm__ volatile("movq %0, %%fs:0x70" : : "r"(v) : "memory");
}

/* The calling thread's guard word. Any stack, signal-safe. */
__attribute__((no_instrument_function, no_split_stack, always_inline))
static inline uintptr_t split_getword(void)
{
	uintptr_t v;

	__asm__ volatile("movq %%fs:0x70, %0" : "=r"(v));
	return v;
}

/* The word's address, for another thread to poison it (sysmon preempting a
 * runtime M: the thread and its TCB live as long as the process). */
__attribute__((no_instrument_function, no_split_stack, always_inline))
static inline uintptr_t *split_wordaddr(void)
{
	uintptr_t tp;

	__asm__ volatile("movq %%fs:0, %0" : "=r"(tp));
	return (uintptr_t *)(tp + SPLIT_TCB_OFF);
}

#endif
