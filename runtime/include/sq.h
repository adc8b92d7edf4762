/*
 * sq.h: the public API of the stackquake runtime.
 *
 * An M:N green-thread runtime: goroutine-like Gs run on OS threads (Ms) that
 * hold processor tokens (Ps). Every G has its own non-moving stack, reserved
 * up front and committed by the kernel on demand, with a guard page below it.
 *
 * Two ways to start:
 *   sq_main(fn, arg)  the calling thread becomes M0 and runs fn as the main G;
 *                     the process exits with fn's return value.
 *   sq_init()         start the runtime in the background; the calling thread
 *                     stays a foreign C thread that enters with sq_callback.
 *
 * Functions marked [G] must be called from a G (the main G, a spawned G, or
 * the function a callback runs). Errors inside the runtime are -errno values.
 */
#ifndef SQ_H
#define SQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Start the runtime, run fn(arg) as the main G on the calling thread, and
 * exit the process with its return value. Never returns. Environment:
 * SQ_MAXPROCS (number of Ps, default: online CPUs), SQ_STACKSIZE (bytes of a
 * G stack, default 256 KiB), SQ_DEBUG (see docs/runtime.md). */
_Noreturn void sq_main(int (*fn)(void *), void *arg);

/* Start the runtime without a main G: Ps, sysmon and the extra-M list. The
 * calling thread stays foreign. Idempotent. Returns 0. */
int sq_init(void);

/* Create a G running fn(arg) and make it runnable. [G] or foreign thread
 * inside a callback. The G's return value is discarded. */
void sq_spawn(int (*fn)(void *), void *arg);

/* The same with a stack of size bytes (rounded up to pages; 0: the
 * default, SQ_STACKSIZE) instead of the default. 0, or -EINVAL for a size
 * below 64 KiB or above 1 TiB. [G] */
int sq_spawn_stack(int (*fn)(void *), void *arg, size_t size);

/* Put the current G at the back of its P's run queue and run another. [G] */
void sq_yield(void);

/* Number of Ps. Set once, from SQ_MAXPROCS or the CPU count. */
int sq_maxprocs(void);

/* The current G's id, 0 when not on a G. */
uint64_t sq_goid(void);

/* Bytes of stack the current G may still use below its sp before its split
 * checks report an overflow (the declared limit: its stack's low end plus
 * the guard reserved for nosplit chains). 0 when not on a G. [G] */
size_t sq_stack_left(void);

/* The id of the current thread's M, -1 on a thread with none (a foreign
 * thread not attached). Any thread. */
int64_t sq_mid(void);

/* Wire the calling G to its M, as Go's runtime.LockOSThread: until as
 * many sq_unlockosthread calls as sq_lockosthread ones, the G runs only
 * on this M and the M runs no other G. A G that ends while locked takes
 * its thread with it: the M exits instead of going back to the pool (on
 * the main thread the M is parked for good instead). A callback's G is
 * locked to its foreign thread for the callback's duration whatever it
 * calls; a count it leaves behind ends with the callback. [G] */
void sq_lockosthread(void);
void sq_unlockosthread(void);

/* Cleanups for sq_goexit, like pthread_cleanup_push/pop: a record on the
 * caller's stack, pushed and popped in nested order. sq_defer_pop(d, run)
 * removes the innermost record, which must be d, and runs it if run is
 * nonzero. [G] */
typedef struct sq_defer {
	void (*fn)(void *);
	void *arg;
	struct sq_defer *next;
} sq_defer;
void sq_defer_push(sq_defer *d, void (*fn)(void *), void *arg);
void sq_defer_pop(sq_defer *d, int run);

/* End the calling G from any depth, as Go's runtime.Goexit: its pushed
 * cleanups run, innermost first, then the G exits (its thread too, if it
 * is locked). From the main G the program goes on without it, and ends
 * with a fatal error once no other G is left. Inside a callback it is a
 * fatal error: the callback's G stands for the foreign thread's own call,
 * whose C frames the runtime cannot end (Go: "runtime.Goexit called in a
 * thread that was not created by the Go runtime"). [G] */
_Noreturn void sq_goexit(void);

/* Park the calling G for at least ns nanoseconds; its M runs other Gs
 * meanwhile. ns <= 0 is sq_yield. [G] */
void sq_sleep(int64_t ns);

/* Run fn(arg) on the calling foreign C thread as runtime code: attach the
 * thread (needm) if it is not already bound to an M, run fn on a G that is
 * locked to this thread, and come back. By default the M stays bound to the
 * thread until the thread exits; SQ_CALLBACK_BIND=0 detaches after every
 * call. Also legal from C code run by sq_ccall (a callback inside an
 * outcall). Not from a signal handler: attaching takes locks, as Go's
 * needm does (Go does not support calls into Go from a C signal handler
 * either). Returns fn's return value. */
int sq_callback(int (*fn)(void *), void *arg);

/* 1 if a foreign thread keeps its M between callbacks (the default), 0 if
 * every callback attaches and detaches (SQ_CALLBACK_BIND=0). */
int sq_callback_binds(void);

/* Run the C function fn(arg) on the M's system stack (g0) inside a syscall
 * window: fn may block, make system calls, switch stacks and call back in
 * with sq_callback. [G] Returns fn's return value. */
int sq_ccall(int (*fn)(void *), void *arg);

/* Make raw system call nr on the G's stack, bracketed by entersyscall /
 * exitsyscall. Returns the kernel's result: >= 0, or -errno. [G] */
long sq_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

/* The same, for calls expected to block: the P is handed off at once
 * (entersyscallblock). [G] */
long sq_syscall_block(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

/* A channel of uintptr_t values. cap 0 is unbuffered (send waits for a
 * receiver). Send on a closed channel returns -EPIPE; receive on a closed and
 * drained channel returns -EPIPE, else 0 with the value in *v. [G] */
typedef struct sq_chan sq_chan;
sq_chan *sq_chan_new(size_t cap);
int sq_chan_send(sq_chan *c, uintptr_t v);
int sq_chan_recv(sq_chan *c, uintptr_t *v);
void sq_chan_close(sq_chan *c);
void sq_chan_free(sq_chan *c);

/* A mutex for Gs: a G that waits for it is parked, not its M. Unlocked
 * mutexes are handed to waiters in the order they came (no barging). Any G
 * may unlock it; unlocking an unlocked mutex is a fatal error. trylock
 * returns 1 when it took the mutex, 0 otherwise. [G] */
typedef struct sq_mutex sq_mutex;
sq_mutex *sq_mutex_new(void);
void sq_mutex_lock(sq_mutex *mu);
int sq_mutex_trylock(sq_mutex *mu);
void sq_mutex_unlock(sq_mutex *mu);
void sq_mutex_free(sq_mutex *mu);

/* A wait group: add n, done, wait until the count is zero. [G] for wait. */
typedef struct sq_wg sq_wg;
sq_wg *sq_wg_new(void);
void sq_wg_add(sq_wg *w, int n);
void sq_wg_done(sq_wg *w);
void sq_wg_wait(sq_wg *w);
void sq_wg_free(sq_wg *w);

/* Deliver SIGPROF every 1/hz seconds of process CPU time; each M counts the
 * samples that land on it (sq_stats.nprof), and samples on threads running
 * code the runtime did not start (threads that never called in, bound
 * threads between callbacks) count as external (sq_stats.nprofext). 0
 * stops it. While it is off, SIGPROF goes to the handler the program had
 * before the runtime, if any. 0 or -errno. */
int sq_setprofile(int hz);

/* Signals that arrived on a thread with no g and were forwarded. */
uint64_t sq_badsignals(void);

/* Counters for tests and benchmarks. */
typedef struct sq_stats {
	int64_t gcount;		/* Gs not dead, less bound threads' callback Gs between callbacks */
	int64_t gfree;		/* dead Gs kept for reuse */
	int64_t mcount;		/* Ms created */
	int64_t extram;		/* extra Ms on the list, free */
	int64_t extram_total;	/* extra Ms created */
	int64_t stacks_inuse;	/* stacks handed out and not freed */
	int64_t nprof;		/* SIGPROF samples over all Ms */
	int64_t npreempt;	/* preemption requests honoured */
	int64_t nasyncpreempt;	/* of which asynchronously, by signal */
	int64_t nprofext;	/* SIGPROF samples in code the runtime did not start */
} sq_stats;
void sq_stats_get(sq_stats *st);

#ifdef __cplusplus
}
#endif
#endif
