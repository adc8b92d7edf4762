/*
 * os.h: the runtime's OS interface, implemented once per OS in os/<os>.c.
 *
 * Every function returns 0 or a result on success and -errno on failure,
 * unless it says otherwise. "any stack" means it may run on a G, g0 or
 * gsignal stack; "signal-safe" means it may run in a signal handler.
 * None of them allocates from malloc unless it says so.
 */
#ifndef SQ_OS_H
#define SQ_OS_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>

struct M;

/* General memory: read-write, committed on first touch. Any stack. */
int os_mem_reserve(size_t size, void **out);
void os_mem_release(void *p, size_t size);
/* Make [p, p+size) inaccessible: a guard page. Where the OS can, without
 * splitting the mapping (Linux >= 6.13: a guard region), so that a chunk of
 * stacks with a guard under each stays one mapping; else with mprotect.
 * Any stack. */
int os_mem_guard(void *p, size_t size);
/* n guard pages, one at base + i * stride for each i < n, as os_mem_guard
 * makes them, in as few system calls as the OS allows (Linux: one
 * process_madvise for up to 64). Any stack. */
int os_mem_guards(void *base, size_t stride, int32_t n);

/* The stack hook pair. os_stack_alloc turns general memory into stack memory
 * (on Linux: remapped in place with MAP_STACK, which OpenBSD requires of any
 * memory that sp points into at a syscall or trap); os_stack_free turns it
 * back into general memory. Contents are discarded both ways. Any stack. */
int os_stack_alloc(void *p, size_t size);
int os_stack_free(void *p, size_t size);

/* Futexes: sleep while *addr == val, at most ns (<0: forever). Signal-safe. */
void os_futexsleep(uint32_t *addr, uint32_t val, int64_t ns);
void os_futexwakeup(uint32_t *addr, int cnt);

/* Once, at start-up: whatever the OS layer needs set up. */
void os_init(void);
/* The calling thread's kernel id. Signal-safe. */
int32_t os_gettid(void);
int os_tgkill(int32_t tid, int sig);
/* A one-shot timer that sends sig to thread tid of this process ns from
 * now (si_code SI_TIMER): its id, or -errno. os_timer_delete disarms it and
 * frees it; any thread. */
int os_timer_tid(int32_t tid, int sig, int64_t ns);
int os_timer_delete(int id);
int64_t os_nanotime(void);
void os_usleep(int64_t us);
int os_ncpu(void);
long os_write(int fd, const void *buf, size_t n);
_Noreturn void os_exit(int code);

/* Start a thread running fn(mp) on the given stack (from stackalloc). The
 * stack is the new M's g0. The thread is joinable: an M whose thread has
 * ended is reused once os_threadgone says so. May allocate (pthread). */
int os_newthread(struct M *mp, void *(*fn)(void *), uintptr_t lo, uintptr_t hi);
/* Whether the thread of an M that ended (its start function returned) is
 * gone, stack and all; reaps it if so. Never blocks. */
int os_threadgone(struct M *mp);

/* Bounds of the calling thread's own stack, as the threads library knows
 * them. 0 on success. May allocate (pthread_getattr_np). */
int os_thread_stack(uintptr_t *lo, uintptr_t *hi);

/* Install or disable (lo == 0) the calling thread's signal stack; the old one
 * is stored in *old when non-NULL. Signal-safe. */
int os_sigaltstack(uintptr_t lo, uintptr_t hi, stack_t *old);
/* sigaltstack(2) as it is: install st unless NULL, old one to *old unless
 * NULL. Signal-safe. */
int os_sigaltstack_raw(const stack_t *st, stack_t *old);

/* How many threads the process has now, or -errno when the OS cannot say.
 * Any stack, no allocation; not signal-safe (a file read). */
int os_nthreads(void);

/* The bounds of the main executable's code, if the C library and every
 * other library are outside it (a dynamically linked executable): the
 * code there is the program's own or the runtime's. -ENOSYS for a static
 * executable (libc inside). Once, at start-up; may allocate. */
int os_exec_text(uintptr_t *lo, uintptr_t *hi);
int os_sigprocmask(int how, const sigset_t *set, sigset_t *old);
int os_sigaction(int sig, const struct sigaction *sa, struct sigaction *old);

#endif
