/*
 * interp.h: the fuzz interpreter, shared between its halves.
 *
 * interp_g.c is the goroutine side: code that runs on G stacks, compiled
 * with the runtime's split checks like any code meant to run on Gs (the
 * preemption requests of the program land at those checks). interp_c.c is
 * the C side: the foreign-thread pool, the top level, the C that outcalls
 * run on g0 or on switched stacks. It has no split checks: it runs on
 * stacks the runtime does not know (C_SIDE). oracle.c holds what must not
 * feed the fuzzer's coverage (waits, /proc parsing, the crash path). What
 * the interpreter needs of the scheduler (quiet, retake, tick, sysmon held,
 * its own M's invariants) is the runtime's harness API (sq_harness.h).
 *
 * One execution: fz_exec decodes the input, runs the top level op by op,
 * and after every step brings the runtime to a quiet point and checks it
 * (sq_check); at the end the runtime must be back in its quiescent,
 * canonical state: no goroutine alive, every stack accounted for, every
 * extra M back, no site armed, every pool thread bound on its own stack.
 */
#ifndef FZ_INTERP_H
#define FZ_INTERP_H

#include <stdint.h>
#include <stdio.h>

#include "ops.h"
#include "sq.h"

#define C_SIDE __attribute__((no_instrument_function, no_split_stack))

/* What callbacks and outcalls of node i return: a wrong value means the
 * runtime came back to the wrong frame. */
enum { FZ_RET_MAGIC = 0x5a000000 };

enum { FZ_MAXSETTLE = FZ_MAXOPS + 40 };

/* A goroutine blocked in `sysblock settle` (interp_g.c): the fuzzer's
 * thread wakes it (word = 1) once the rest of the runtime has run out of
 * work, in the order they blocked. */
typedef struct fz_settler {
	uint32_t word;
	int32_t ready;		/* registered */
	int32_t runtime_m;	/* blocked on a runtime M (not a foreign thread's) */
	int32_t back;		/* woken and out of the call, P in hand */
} fz_settler;

/* A goroutine in a `tight` loop (interp_g.c): no call, so only an
 * asynchronous preemption interrupts it. Just before the loop the G asks
 * for its own preemption through a timer on its thread and has the
 * runtime set the loop's halt word when it honours one (fz_tight_arm);
 * the G, back in its loop, sees the word, checks its registers one last
 * time and ends. If the halt word is still clear 1 ms after the loop said
 * it is ready, the fuzzer's thread asks (sq_harness_preempt_g: by
 * goroutine, not by M, since the G may move to another M before its loop
 * starts), again every millisecond (a request finds no running G while
 * the G is between Ms). Where async preemption is off the fuzzer's thread
 * sets the word itself. */
typedef struct fz_tight {
	uint32_t ready;		/* spinning, registers loaded */
	int32_t active;		/* counted in ntight */
	volatile uint32_t *halt;	/* the loop's halt word */
	uint64_t goid;
	int64_t asked;		/* fuzzer's thread: first seen ready, then last asked (fz_now); 0: not seen */
} fz_tight;

/* The current execution. */
typedef struct fz_state {
	const fz_prog *p;
	uint32_t npick;		/* scheduling choices made so far */
	sq_wg *live;		/* every goroutine the program spawned */
	int32_t nlive;
	int32_t nwg;		/* wait groups handed out (spawnw) */
	int32_t ngsteps;	/* G operations run (for messages) */
	int32_t nsettle;	/* settlers registered */
	int32_t settlehead;	/* settlers woken */
	int32_t retaking;	/* `retake` operations waiting for quiet */
	int32_t retaking_m;	/* of those, on runtime Ms */
	uint32_t nretake;	/* `retake` operations begun (their order) */
	uint64_t retake_done;	/* bit k: the k-th has gone on */
	fz_settler settle[FZ_MAXSETTLE];
	uint32_t ntight;	/* tight loops not seen halted yet */
	fz_tight tight[FZ_MAXOPS];	/* by node */
} fz_state;

extern fz_state fz_cur;

/* A `tight` loop's G: ask for its own preemption (the timer's id, or -1);
 * and, once the loop has ended, take it out of ntight, once (oracle.c). */
int fz_tight_arm(fz_tight *t);
void fz_tight_done(fz_tight *t);

/* Bound (default) or unbound (SQ_CALLBACK_BIND=0) callbacks: the target. */
extern int fz_bound;

/* Once per process, before the first execution: environment, runtime,
 * thread pool, warm-up. Idempotent. bound: 0 for the unbound target;
 * onecore: every thread on one CPU (fz_one_cpu), 0 for sq_race. */
void fz_init(int bound, int onecore);
/* Put the calling thread, and the threads it makes from now on, on one
 * CPU: FZ_CPU=K if set (FZ_CPU=any: leave the affinity alone), the one
 * CPU it is already limited to (AFL++ binds its targets), else a CPU no
 * other fuzz process has claimed (a lock file per CPU), else the one it
 * runs on. Returns the CPU, or -1 if left alone. */
int fz_one_cpu(void);
/* What fz_init's fz_one_cpu chose (-1: every CPU allowed). */
extern int fz_cpu;
/* Run one input (mode: FZ_ILLEGAL, FZ_ASYNC, ops.h). Returns only if the
 * execution found nothing. */
void fz_exec(const uint8_t *data, size_t size, int mode);
/* Arm a node's fault-site spec, disarm all: every OP_ARM and OP_DISARM
 * (they keep sq_refuse's account of illegal arms). */
void fz_arm(const fz_node *nd);
void fz_disarm(void);
/* sq_refuse's child, after the execution: fail ("refusal") if an illegal
 * operation ran and the runtime went on. */
void fz_refuse_verdict(void);
/* sq_refuse: if the input decodes (FZ_REFUSE) to a program with an illegal
 * operation, run it in a child process of this binary and judge how it
 * ended (fz_fail on a finding); return 1. Return 0 for a legal program,
 * which the caller runs itself. */
int fz_refuse_run(const uint8_t *data, size_t size);
/* Print the decoded program (replay --print, triage). */
void fz_print_input(const uint8_t *data, size_t size, int mode, FILE *f);

/* ---- interp_g.c: goroutine side ---- */
/* Run a G body (CTX_G) on the current G. */
void fz_run_g(int16_t first);
/* sq_callback entries: run the body in node i's body; join all live Gs. */
int fz_cb_entry(void *nodeidx);
int fz_join_entry(void *unused);
int fz_nop_entry(void *unused);
/* Warm-up: exercise every allocation path the programs can reach. */
int fz_warm_entry(void *arg);
void fz_g_reset(void);
void fz_g_alloc(void);

/* ---- interp_c.c: C side ---- */
/* Run a C body (CTX_C or CTX_CNOCB) on the current stack. */
void fz_run_c(int16_t first);
int fz_ccall_entry(void *nodeidx);
void fz_raise(int sig);

/* ---- oracle.c: findings, waits, MAP_STACK, the crash path ---- */
struct cstack;
void fz_cs_prepare(struct cstack *s);
/* A finding: print "fuzz: <cls>: <msg>", then die the way a fatal error
 * does in fuzz builds (SIGABRT to the fuzzer's handler). Never returns. */
_Noreturn void fz_fail(const char *cls, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Every stack the runtime handed out is MAP_STACK (checked once per stack,
 * through /proc/self/smaps, where this kernel shows it). 0 or violations. */
int fz_check_mapstack(void);
void fz_mapstack_init(void);
/* Around every execution (fz_exec): leaks of what the process holds,
 * across executions (outside.h's probe; FZ_LEAK sets how often). */
void fz_leak_before(void);
void fz_leak_after(const uint8_t *data, size_t size, int mode);
/* Around every callback (interp_c.c's callin): the calling thread's signal
 * mask and signal stack, compared once the outermost returns (outside.h). */
void fz_callin_begin(void);
void fz_callin_end(void);
/* Spin, then sleep, until *addr != old (or ns elapse: returns -1). */
int fz_wait_change(uint32_t *addr, uint32_t old, int64_t ns);
void fz_wake(uint32_t *addr);
/* Tell the fuzzer's thread to look again (a pool thread finished a
 * command, a settler blocked): it waits on fz_attn. */
void fz_attention(void);
/* Wait until *done == *seq (a pool thread finished its commands). tick()
 * runs whenever the slice it returned last elapses (0: no slice; FZ_POLL:
 * as soon as the threads sharing the CPU have had it): settle wake-ups,
 * sysmon's ticks during concurrent steps. 0, or -1 if ns elapse. */
enum { FZ_POLL = -1 };
int fz_await(uint32_t *done, uint32_t *seq, int64_t (*tick)(void), int64_t ns);
/* The fuzzer's side of `sysblock settle`: wake the first blocked settler if
 * the runtime has settled. Returns whether settlers are still waiting. */
int fz_settle_tick(void);
/* Ask, watch and release the tight loops (fz_tight); 1 while one spins. */
int fz_tight_tick(void);
/* Wait until *count reaches want (counted up with fz_attention). */
int fz_await_count(uint32_t *count, uint32_t want, int64_t ns);
void fz_settle_block(uint32_t *word);
int64_t fz_now(void);
/* Busy for ns (no coverage: the loop counts time). */
void fz_busy(int64_t ns);
/* Steps the interpreters have taken (every node they visit): the watchdog
 * calls an execution hung when this stops moving, not when it is slow. */
extern uint32_t fz_steps;

__attribute__((no_instrument_function, no_split_stack))
static inline void fz_step(void)
{
	__atomic_add_fetch(&fz_steps, 1, __ATOMIC_RELAXED);
}

/* Per-execution watchdog (FZ_WATCHDOG seconds, default 5): no step for that long. */
void fz_watchdog_start(void);
void fz_watchdog_arm(void);
void fz_watchdog_disarm(void);
/* Wait until the runtime is idle: every P idle, every M parked. */
void fz_wait_idle(const char *after);
/* The `retake` operation, from C run by an outcall: sysmon takes the
 * caller's P now, then the caller waits (at most ns, no finding if it does
 * not happen) until whatever the P went on to run has parked or blocked in
 * a settle wait. */
void fz_retake(int64_t ns);

#endif
