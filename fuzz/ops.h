/*
 * ops.h: fuzz programs — what a fuzz input means.
 *
 * A fuzz input is a small program of scenario operations. decode.c turns
 * any byte string into a program that is legal for the fixed runtime, so
 * that every fatal error, crash, hang or invariant violation the
 * interpreter (interp_*.c) meets is a finding. The same file assembles and
 * prints the text form used for seeds and triage (docs/fuzz.md).
 *
 * Contexts. An operation runs in one of four contexts, and each context has
 * its own opcode table (an opcode byte is taken modulo the table's length,
 * so every byte means something and a mutated byte stays legal):
 *   TOP    the interpreter's own sequence: foreign threads T0..T3 of the pool
 *          call in, switch stacks, are signalled, exit (detach) ...
 *   G      code on a goroutine: a callback's G or a spawned one
 *   C      C code run by sq_ccall (an outcall) on the M's g0, inside a
 *          syscall window: it may call back, block, switch stacks
 *   CNOCB  C code on a stack the outcall switched to: it may not call back
 *          (the runtime's frames are up the other stack: SQ_F_CALLBACK_SP),
 *          nor call anything with a split check
 * A G body is a spawned G's own, or a callback's (call, go, callback): only
 * a spawned G may end itself (goexit); in a callback's G that is the
 * refusal SQ_F_GOEXIT_CALLBACK.
 * Operations with a body (call, go, spawn, spawnw, outcall, callback,
 * cswitch) are followed by the body's operations and an `end` (or the end
 * of the input). Nesting stops at FZ_MAXDEPTH: deeper bodies are parsed
 * and dropped.
 *
 * Grammar. decode.c holds it once: a row per operation (its name, its
 * arguments' kinds and ranges, the context of its body) and a list per
 * context of the operations its opcode bytes name, in byte order. The
 * decoder, the printer and the assembler all read those tables, so an
 * argument's range is written in one place. An opcode's meaning is its
 * index in its context's list: lists only grow at the end, or every saved
 * input changes meaning.
 *
 * Layout: byte 0 holds the number of schedule change points d (low 3
 * bits); then d pairs (pick index, choice); then the operations, each an
 * opcode byte and its argument bytes (missing bytes at the end read as 0).
 *
 * Schedule: the interpreter runs the runtime with one P and answers every
 * scheduling choice (sq_harness_picker). By default it takes the runtime's
 * own order (index 0, the front of the run queues); at pick number `at` it
 * takes candidate `choice % n` instead. d change points on a default
 * schedule is PCT's depth bound (see docs/fuzz.md for why positions and
 * not priorities).
 */
#ifndef FZ_OPS_H
#define FZ_OPS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum {
	FZ_MAXOPS   = 96,	/* operations kept from one input */
	FZ_MAXDEPTH = 4,	/* nested bodies */
	FZ_MAXG     = 24,	/* goroutines one program may create */
	FZ_NTHREADS = 4,	/* foreign threads in the pool */
	FZ_MAXCP    = 7,	/* schedule change points */
	FZ_MAXARMS  = 24,	/* arm operations kept */
	FZ_SPECLEN  = 64,
};

enum fz_ctx { CTX_TOP, CTX_G, CTX_C, CTX_CNOCB, CTX_N };

enum fz_op {
	OP_NOP, OP_END,
	/* TOP */
	OP_CALL, OP_GO, OP_WAIT, OP_SWITCH, OP_SIGNAL, OP_DETACH,
	/* G */
	OP_SPAWN, OP_YIELD, OP_SYSCALL, OP_SYSBLOCK, OP_OUTCALL, OP_PREEMPT,
	OP_XFER, OP_PINGPONG, OP_SPAWNW, OP_WAITW, OP_RECURSE, OP_CHECK,
	/* C, CNOCB */
	OP_CALLBACK, OP_CSWITCH, OP_SLEEP, OP_RETAKE,
	/* several contexts */
	OP_ARM, OP_DISARM, OP_RAISE,
	/* G, later */
	OP_LOCK, OP_UNLOCK, OP_GOEXIT, OP_TIGHT,
	OP_N
};

/* Stack kinds a foreign thread or an outcall can run on (harness/cstack.h). */
enum { K_PTHREAD, K_UC_MALLOC, K_UC_MMAP, K_BOOST_MALLOC, K_BOOST_MMAP, K_N };

/* Signals, by index into fz_sigs: the four the runtime and the interpreter
 * handle. S_CHECK (SIGUSR2) is the interpreter's "check here" signal,
 * only ever raised synchronously (decode.c). */
enum { S_URG, S_PROF, S_USR1, S_CHECK, S_N };

typedef struct fz_node {
	uint8_t op;
	uint8_t a, b;		/* arguments, already reduced to their ranges */
	uint8_t illegal;	/* only with FZ_ILLEGAL or FZ_REFUSE: kept illegal */
	int8_t fatal;		/* an illegal node's owed fatal error (SQ_F_*), or SQ_F_NONE */
	int8_t ctx;		/* the context the node runs in */
	int16_t body;		/* first node of the body, -1 if none */
	int16_t next;		/* next node in the same body, -1 at the end */
	int16_t arm;		/* OP_ARM: index into prog.spec */
} fz_node;

typedef struct fz_prog {
	int nnode;
	fz_node node[FZ_MAXOPS];
	int16_t top;			/* first TOP node, -1 if none */
	int ncp;
	struct { uint8_t at, choice; } cp[FZ_MAXCP];
	int narm;
	char spec[FZ_MAXARMS][FZ_SPECLEN];	/* "site:action:N[:every][:SIG]" */
	int ngs;			/* goroutines the program creates at most */
	int illegal;			/* some node is illegal on purpose */
} fz_prog;

/* Decoding modes. FZ_ILLEGAL keeps the few operations a correct runtime
 * refuses with a fatal error as written (for the replay of expected-fatal
 * reproducers); without it they are made legal. FZ_ASYNC keeps `go` (steps
 * that run concurrently with the rest: real races, not reproducible run to
 * run); without it `go` is a `call`. FZ_REFUSE keeps the illegal operations
 * a correct runtime must refuse with a named fatal error (fz_refusal), for
 * the sq_refuse target, and makes the rest legal as usual. */
enum { FZ_ILLEGAL = 1, FZ_ASYNC = 2, FZ_REFUSE = 4 };

/* The fatal error a correct runtime answers an illegal node with (an arm
 * or an xswitch kept by FZ_ILLEGAL or FZ_REFUSE), as the contract words it
 * (sq_fatal_message); NULL for a legal node or a livelocking arm. */
const char *fz_refusal(const fz_prog *p, const fz_node *nd);

/* Decode any bytes into a program. */
void fz_decode(const uint8_t *data, size_t size, fz_prog *p, int mode);

/* Print the program in the text form fz_asm reads. */
void fz_print(const fz_prog *p, FILE *f);

/* Assemble the text form into bytes. Returns the length, or -1 with a
 * message in err. */
long fz_asm(const char *text, uint8_t *out, size_t max, char *err, size_t errlen);

/* Names, for printing and for the interpreter's messages. */
const char *fz_opname(int op);
const char *fz_kindname(int k);
extern const char *const fz_signames[S_N];
extern const int fz_sigs[S_N];

#endif
