/*
 * decode.c: bytes -> fuzz program, and the program's text form.
 *
 * The grammar is written once, here: opdefs[] says what each operation
 * is (its name, its arguments' kinds and ranges, its body's context) and
 * ctxops[] which operations each context's opcode bytes name. Decoding,
 * printing and assembling are walks over those tables, so the assembler
 * emits exactly the bytes the decoder reads back.
 *
 * The decoder is total: every byte string is a program, and (unless the
 * replay asks for illegal operations on purpose) a legal one for the fixed
 * runtime. Legality is kept by construction, per context (ops.h):
 *   - an opcode byte picks from its context's table only, so callbacks are
 *     never made from a goroutine, and C that switched stacks inside an
 *     outcall never calls back;
 *   - an arm is judged by the runtime's contract (sq_arm_verdict): one a
 *     correct runtime refuses with a fatal error, or one that livelocks by
 *     construction, becomes `spin` at the same site;
 *   - signals are the four the runtime and the interpreter handle. S_CHECK
 *     (SIGUSR2) is the interpreter's "check here" signal and is only ever
 *     raised synchronously, at a known point: by the thread itself (raise,
 *     an armed site), never sent to another thread, never raised from
 *     inside the signal handler;
 *   - sizes are bounded: FZ_MAXOPS nodes, FZ_MAXDEPTH nested bodies,
 *     FZ_MAXG goroutines, FZ_MAXARMS arms, recursion of at most 32
 *     half-KiB frames.
 * Runs on the fuzzer's thread, before anything of the program runs.
 */
#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "sq_contract.h"

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- the grammar ------------------------------------------------------------ */

static const char *const kindnames[K_N] = {
	"pthread", "ucontext", "ucontext-mmap", "boost", "boost-mmap",
};
const char *const fz_signames[S_N] = { "SIGURG", "SIGPROF", "SIGUSR1", "SIGUSR2" };
const int fz_sigs[S_N] = { SIGURG, SIGPROF, SIGUSR1, SIGUSR2 };

/* Durations are chosen for determinism (docs/fuzz.md): inside a syscall
 * window (syscall, and C run by an outcall) nothing lasts long enough for
 * sysmon to see the P in Psyscall at two ticks (its tick is 20 us), and a
 * blocking call is either instant or long against everything else. */
static const char *const syscallnames[] = {
	"getpid", "sched_yield", "nanosleep0", "nanosleep5us", "clock_gettime", "badwrite",
};
static const char *const sysblocknames[] = {
	"getpid", "nanosleep200us", "ppoll200us", "nanosleep1ms", "settle",
};
static const char *const sleepnames[] = { "yield", "2us", "8us", "getpid" };

/* How an argument is encoded: the bytes it takes, how the decoder reduces
 * them to a value, how that prints and how the assembler reads it. */
enum {
	ARG_THREAD,	/* T0..T(n-1): byte % n */
	ARG_NAME,	/* names[byte % n]: the first n of the list */
	ARG_BLOCK,	/* names[byte % (n-1)]; deterministic targets: the last */
	ARG_NUM,	/* lo + byte % n */
	ARG_CSWITCH,	/* names[(byte & 0x7f) % n]; FZ_XBIT: an xswitch */
	ARG_ARM,	/* 4 bytes: site, action, count - lo, every | signal << 1 */
};

typedef struct fz_arg {
	uint8_t kind, n, lo;
	const char *const *names;
	const char *what;	/* for the assembler's messages */
} fz_arg;

/* An xswitch is a cswitch in XSWITCH_CTX (C run by an outcall, on g0)
 * whose byte has FZ_XBIT, kept (illegal) by FZ_ILLEGAL or FZ_REFUSE: its
 * body is C again, code on the switched stack that may call back, which a
 * correct runtime refuses (SQ_F_CALLBACK_SP). Decoded legal, or in
 * another context, the bit means nothing. */
enum { FZ_XBIT = 0x80, XSWITCH_CTX = CTX_C };

static const fz_arg a_thread = { ARG_THREAD, FZ_NTHREADS, 0, NULL, "a thread" };
static const fz_arg a_kind = { ARG_NAME, K_N, 0, kindnames, "a stack kind" };
/* Never S_CHECK: another thread's check signal would land anywhere. */
static const fz_arg a_tsig = { ARG_NAME, S_CHECK, 0, fz_signames, "a signal for a thread" };
static const fz_arg a_sig = { ARG_NAME, S_N, 0, fz_signames, "a signal" };
static const fz_arg a_syscall = { ARG_NAME, NELEM(syscallnames), 0, syscallnames, "a syscall" };
/* Timed and instant blocking calls race what runs while they block (who
 * gets the P back first): race targets only. The deterministic targets
 * block until the runtime has settled, the list's last. */
static const fz_arg a_block = { ARG_BLOCK, NELEM(sysblocknames), 0, sysblocknames,
				"a blocking call" };
static const fz_arg a_sleep = { ARG_NAME, NELEM(sleepnames), 0, sleepnames, "a sleep" };
static const fz_arg a_buffered = { ARG_NUM, 2, 0, NULL, "a channel buffer size" };
static const fz_arg a_rounds = { ARG_NUM, 8, 1, NULL, "a number of rounds" };
static const fz_arg a_frames = { ARG_NUM, 32, 1, NULL, "a number of frames" };
static const fz_arg a_cswitch = { ARG_CSWITCH, K_N, 0, kindnames, "a stack kind" };
static const fz_arg a_arm = { ARG_ARM, 8, 1, NULL, "a count" };

enum {
	FZ_NEWG = 1,	/* makes a goroutine: counts against FZ_MAXG */
	FZ_SPLITS = 2,	/* has split checks on the C side: never on an xswitch's stack */
};

/* body: the context of the operation's body; CTX_TOP, which is never a
 * body, for none. sync: what it is in the deterministic targets (no
 * FZ_ASYNC); OP_NOP for itself. illname: the name of its illegal form,
 * whose text is its own; other illegal nodes print a comment. */
typedef struct fz_opdef {
	const char *name, *illname;
	const fz_arg *arg[2];
	uint8_t body, sync, flags;
} fz_opdef;

static const fz_opdef opdefs[OP_N] = {
	[OP_NOP] = { .name = "nop" },
	[OP_END] = { .name = "end" },
	[OP_CALL] = { .name = "call", .arg = { &a_thread }, .body = CTX_G },
	/* Concurrent with the rest: real races, not reproducible run to run. */
	[OP_GO] = { .name = "go", .arg = { &a_thread }, .body = CTX_G, .sync = OP_CALL },
	[OP_WAIT] = { .name = "wait", .arg = { &a_thread } },
	[OP_SWITCH] = { .name = "switch", .arg = { &a_thread, &a_kind } },
	[OP_SIGNAL] = { .name = "signal", .arg = { &a_thread, &a_tsig } },
	[OP_DETACH] = { .name = "detach", .arg = { &a_thread } },
	[OP_SPAWN] = { .name = "spawn", .body = CTX_G, .flags = FZ_NEWG },
	[OP_YIELD] = { .name = "yield" },
	[OP_SYSCALL] = { .name = "syscall", .arg = { &a_syscall } },
	[OP_SYSBLOCK] = { .name = "sysblock", .arg = { &a_block } },
	[OP_OUTCALL] = { .name = "outcall", .body = CTX_C },
	[OP_PREEMPT] = { .name = "preempt" },
	[OP_XFER] = { .name = "xfer", .arg = { &a_buffered }, .flags = FZ_NEWG },
	[OP_PINGPONG] = { .name = "pingpong", .arg = { &a_rounds }, .flags = FZ_NEWG },
	[OP_SPAWNW] = { .name = "spawnw", .body = CTX_G, .flags = FZ_NEWG },
	[OP_WAITW] = { .name = "waitw" },
	[OP_RECURSE] = { .name = "recurse", .arg = { &a_frames } },
	[OP_CHECK] = { .name = "check" },
	[OP_CALLBACK] = { .name = "callback", .body = CTX_G },
	[OP_CSWITCH] = { .name = "cswitch", .illname = "xswitch", .arg = { &a_cswitch },
			 .body = CTX_CNOCB },
	[OP_SLEEP] = { .name = "sleep", .arg = { &a_sleep } },
	[OP_RETAKE] = { .name = "retake", .flags = FZ_SPLITS },
	[OP_ARM] = { .name = "arm", .arg = { &a_arm }, .flags = FZ_SPLITS },
	[OP_DISARM] = { .name = "disarm", .flags = FZ_SPLITS },
	[OP_RAISE] = { .name = "raise", .arg = { &a_sig } },
	[OP_LOCK] = { .name = "lock" },
	[OP_UNLOCK] = { .name = "unlock" },
	[OP_GOEXIT] = { .name = "goexit" },
	/* A loop with no call, every register class full (regloop.h), until
	 * the G has been preempted: asynchronously, where the runtime can. */
	[OP_TIGHT] = { .name = "tight" },
};

/* Each context's opcode bytes, in byte order: append only. A body's `end`
 * is byte 0; the top level has none (it ends with the input). */
static const uint8_t tab_top[] = {
	OP_CALL, OP_GO, OP_WAIT, OP_SWITCH, OP_ARM, OP_DISARM, OP_SIGNAL, OP_DETACH, OP_NOP,
};
static const uint8_t tab_g[] = {
	OP_END, OP_SPAWN, OP_YIELD, OP_SYSCALL, OP_SYSBLOCK, OP_OUTCALL, OP_PREEMPT, OP_RAISE,
	OP_XFER, OP_PINGPONG, OP_SPAWNW, OP_WAITW, OP_RECURSE, OP_ARM, OP_DISARM, OP_CHECK,
	OP_LOCK, OP_UNLOCK, OP_GOEXIT, OP_TIGHT,
};
static const uint8_t tab_c[] = {
	OP_END, OP_CALLBACK, OP_CSWITCH, OP_SLEEP, OP_RAISE, OP_ARM, OP_DISARM, OP_RETAKE,
};
static const uint8_t tab_cnocb[] = {
	OP_END, OP_CSWITCH, OP_SLEEP, OP_RAISE,
};

static const struct { const uint8_t *ops; int n; const char *what; } ctxops[CTX_N] = {
	[CTX_TOP]   = { tab_top, sizeof tab_top, "the top level" },
	[CTX_G]     = { tab_g, sizeof tab_g, "a goroutine" },
	[CTX_C]     = { tab_c, sizeof tab_c, "C run by an outcall" },
	[CTX_CNOCB] = { tab_cnocb, sizeof tab_cnocb, "C on a stack an outcall switched to" },
};

const char *fz_opname(int op)
{
	return op >= 0 && op < OP_N && opdefs[op].name ? opdefs[op].name : "?";
}

const char *fz_kindname(int k)
{
	return k >= 0 && k < K_N ? kindnames[k] : "?";
}

static int argwidth(const fz_arg *g)
{
	return !g ? 0 : g->kind == ARG_ARM ? 4 : 1;
}

/* The context of the body of op, written as an xswitch or not. */
static int bodyctx(int op, int xswitch)
{
	return xswitch ? XSWITCH_CTX : opdefs[op].body;
}

const char *fz_refusal(const fz_prog *p, const fz_node *nd)
{
	return nd->illegal ? sq_fatal_message(nd->fatal) : NULL;
}

/* ---- decoding ------------------------------------------------------------- */

typedef struct Dec {
	const uint8_t *d;
	size_t n, pos;
	fz_prog *p;
	int allow_illegal;
	int async;
	int full;
	int refuse;
	int inxswitch;	/* in the C of an xswitch: sp is off g0 */
	int inspawn;	/* in a spawned G's own body (not a callback's) */
} Dec;

static uint8_t next(Dec *s)
{
	return s->pos < s->n ? s->d[s->pos++] : 0;
}

_Static_assert(SQ_F_N <= INT8_MAX, "fz_node.fatal holds an SQ_F_ id");

static void keep_illegal(Dec *s, fz_node *nd, int fatal)
{
	nd->illegal = 1;
	nd->fatal = (int8_t)fatal;
	s->p->illegal = 1;
}

/* Append s at `at`, up to end. */
static char *put(char *at, const char *end, const char *s)
{
	while (*s && at < end)
		*at++ = *s++;
	return at;
}

/* Write "site:action:N[:every][:SIG]", the spec sq_fault_arm reads, cut at
 * FZ_SPECLEN. By hand: with snprintf, arms took more of the decoder's time
 * than all the rest (and decoding runs once per execution). */
static void spec_arm(char *spec, int site, int act, int n, int every, const char *sig)
{
	char *at = spec, *end = spec + FZ_SPECLEN - 1, num[12];
	int k = sizeof num;

	num[--k] = 0;
	do
		num[--k] = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	num[--k] = ':';
	at = put(at, end, sq_site_name(site));
	at = put(at, end, ":");
	at = put(at, end, sq_action_name(act));
	at = put(at, end, num + k);
	if (every)
		at = put(at, end, ":every");
	if (sig) {
		at = put(at, end, ":");
		at = put(at, end, sig);
	}
	*at = 0;
}

/* An arm's four bytes: site, action, count - 1, every | signal << 1.
 * Returns its index in p->spec, -1 to drop it (FZ_MAXARMS reached). */
static int decode_arm(Dec *s, const uint8_t *b, fz_node *nd)
{
	fz_prog *p = s->p;
	int site = b[0] % SQ_SITE_N, act = b[1] % SQ_ACT_N, n = a_arm.lo + b[2] % a_arm.n;
	int every = b[3] & 1, sig = (b[3] >> 1) & 3, fatal, v;
	int insig = sq_site_context(site) == SQ_CTX_GSIGNAL;

	if (p->narm >= FZ_MAXARMS)
		return -1;
	/* NOOP (an ordinary call where it is made) is kept: legal, and cheap. */
	v = sq_arm_verdict(site, act, every, &fatal);
	if (v == SQ_VERDICT_REFUSED || v == SQ_VERDICT_LIVELOCK) {
		if (s->allow_illegal || (s->refuse && v == SQ_VERDICT_REFUSED))
			keep_illegal(s, nd, fatal);
		else
			act = SQ_ACT_SPIN;
	}
	/* spin (and yield, which spins wherever no G is running, i.e. at every
	 * reachable site) only widens a window, which matters when something
	 * runs concurrently: the race target. In the deterministic ones it
	 * would cost 100 us a hit and change nothing: a check there instead. */
	if ((act == SQ_ACT_SPIN || act == SQ_ACT_YIELD) && !s->async) {
		act = SQ_ACT_SIGNAL;
		sig = S_CHECK;
		every = 0;
	}
	/* The check signal is synchronous by design: inside the handler it
	 * would land wherever another signal interrupted the thread. */
	if (act == SQ_ACT_SIGNAL && sig == S_CHECK && insig)
		sig = S_USR1;
	spec_arm(p->spec[p->narm], site, act, n, every,
		act == SQ_ACT_SIGNAL ? fz_signames[sig] : NULL);
	return p->narm++;
}

/* One argument's value from its bytes b into *v. Returns 0 to drop the
 * node. */
static int decode_arg(Dec *s, int ctx, const fz_arg *g, const uint8_t *b, fz_node *nd, uint8_t *v)
{
	switch (g->kind) {
	case ARG_THREAD: case ARG_NAME:
		*v = (uint8_t)(b[0] % g->n);
		break;
	case ARG_BLOCK:
		*v = (uint8_t)(s->async ? b[0] % (g->n - 1) : g->n - 1);
		break;
	case ARG_NUM:
		*v = (uint8_t)(g->lo + b[0] % g->n);
		break;
	case ARG_CSWITCH:
		*v = (uint8_t)((b[0] & ~FZ_XBIT) % g->n);
		if (ctx == XSWITCH_CTX && (b[0] & FZ_XBIT) && (s->allow_illegal || s->refuse))
			keep_illegal(s, nd, SQ_F_CALLBACK_SP);
		break;
	case ARG_ARM:
		return (nd->arm = (int16_t)decode_arm(s, b, nd)) >= 0;
	}
	return 1;
}

/* Fill nd's arguments from the argument bytes b. Returns 0 if the node is
 * to be dropped (a limit was reached). */
static int decode_op(Dec *s, int ctx, const uint8_t *b, fz_node *nd)
{
	const fz_opdef *d = &opdefs[nd->op];
	fz_prog *p = s->p;

	/* The C of an xswitch runs off g0's bounds: only the callback (whose
	 * refusal is the point) may enter the runtime, nothing with a split
	 * check (that would end in SQ_F_MORESTACK_G0 before the callback). */
	if (s->inxswitch && (d->flags & FZ_SPLITS))
		return 0;
	/* A callback's G stands for its thread's call: it may not end itself. */
	if (nd->op == OP_GOEXIT && !s->inspawn) {
		if (!s->allow_illegal && !s->refuse)
			return 0;
		keep_illegal(s, nd, SQ_F_GOEXIT_CALLBACK);
	}
	if (d->arg[0] && !decode_arg(s, ctx, d->arg[0], b, nd, &nd->a))
		return 0;
	if (d->arg[1] && !decode_arg(s, ctx, d->arg[1], b + argwidth(d->arg[0]), nd, &nd->b))
		return 0;
	if (d->flags & FZ_NEWG) {
		if (p->ngs >= FZ_MAXG)
			return 0;
		p->ngs++;
	}
	return 1;
}

/* The next node of a body in context ctx into nd, its argument bytes read
 * whether it is kept or not. Returns 1 to keep it. */
static int decode_node(Dec *s, int ctx, int keep, fz_node *nd)
{
	int op = ctxops[ctx].ops[next(s) % ctxops[ctx].n];
	uint8_t b[4] = { 0 };
	int k;

	if (!s->async && opdefs[op].sync)
		op = opdefs[op].sync;
	k = argwidth(opdefs[op].arg[0]) + argwidth(opdefs[op].arg[1]);
	for (int i = 0; i < k; i++)
		b[i] = next(s);
	memset(nd, 0, sizeof *nd);
	nd->op = (uint8_t)op;
	nd->ctx = (int8_t)ctx;
	nd->body = nd->next = nd->arm = -1;
	nd->fatal = SQ_F_NONE;
	return keep && op != OP_NOP && op != OP_END && decode_op(s, ctx, b, nd);
}

/* Parse one body in context ctx until its end. keep = 0: parse and drop. */
static int16_t body(Dec *s, int ctx, int depth, int keep)
{
	fz_prog *p = s->p;
	int16_t first = -1, last = -1;

	while (s->pos < s->n && !s->full) {
		fz_node nd;
		int ok = decode_node(s, ctx, keep, &nd), xswitch, child, idx = -1;

		if (nd.op == OP_END)
			break;
		/* Only kept nodes are xswitches: a dropped one's body is parsed
		 * as the cswitch's, on the CNOCB table. */
		xswitch = nd.op == OP_CSWITCH && nd.illegal;
		child = bodyctx(nd.op, xswitch);
		if (ok && p->nnode >= FZ_MAXOPS) {
			s->full = 1;
			ok = 0;
		}
		if (ok) {
			idx = p->nnode++;
			p->node[idx] = nd;
			if (last < 0)
				first = (int16_t)idx;
			else
				p->node[last].next = (int16_t)idx;
			last = (int16_t)idx;
		}
		if (child != CTX_TOP) {
			int saved = s->inxswitch, savedspawn = s->inspawn;
			int16_t bd;

			if (xswitch)
				s->inxswitch = 1;
			else if (nd.op == OP_CALLBACK)
				s->inxswitch = 0;	/* back on a G, then g0 */
			/* A new G's body, or a callback's (the G of a call, or the
			 * outcall's own G again). */
			s->inspawn = nd.op == OP_SPAWN || nd.op == OP_SPAWNW;
			bd = body(s, child, depth + 1, ok && depth + 1 <= FZ_MAXDEPTH);
			s->inxswitch = saved;
			s->inspawn = savedspawn;
			if (idx >= 0)
				p->node[idx].body = bd;
		}
	}
	return first;
}

void fz_decode(const uint8_t *data, size_t size, fz_prog *p, int mode)
{
	Dec s = { .d = data, .n = size, .p = p, .allow_illegal = !!(mode & FZ_ILLEGAL),
		  .async = !!(mode & FZ_ASYNC), .refuse = !!(mode & FZ_REFUSE) };

	memset(p, 0, sizeof *p);
	p->top = -1;
	if (size == 0)
		return;
	p->ncp = next(&s) & 7;		/* low 3 bits (ops.h) */
	for (int i = 0; i < p->ncp; i++) {
		p->cp[i].at = next(&s);
		p->cp[i].choice = next(&s);
	}
	/* The top level has no `end`: one body, to the end of the input. */
	p->top = body(&s, CTX_TOP, 0, 1);
}

/* ---- printing ------------------------------------------------------------- */

static void print_arg(const fz_prog *p, const fz_node *nd, const fz_arg *g, int v, FILE *f)
{
	switch (g->kind) {
	case ARG_THREAD:
		fprintf(f, " T%d", v);
		break;
	case ARG_NAME: case ARG_BLOCK: case ARG_CSWITCH:
		fprintf(f, " %s", g->names[v]);
		break;
	case ARG_NUM:
		fprintf(f, " %d", v);
		break;
	case ARG_ARM:
		/* site:action:N[:every][:SIG] -> site action N [every] [SIG] */
		fputc(' ', f);
		for (const char *c = p->spec[nd->arm]; *c; c++)
			fputc(*c == ':' ? ' ' : *c, f);
		break;
	}
}

static void printbody(const fz_prog *p, int16_t i, int depth, FILE *f)
{
	for (; i >= 0; i = p->node[i].next) {
		const fz_node *nd = &p->node[i];
		const fz_opdef *d = &opdefs[nd->op];
		int ill = nd->illegal, alias = ill && d->illname;

		fprintf(f, "%*s%s", 2 * depth, "", alias ? d->illname : d->name);
		if (d->arg[0])
			print_arg(p, nd, d->arg[0], nd->a, f);
		if (d->arg[1])
			print_arg(p, nd, d->arg[1], nd->b, f);
		if (ill && !alias)
			fprintf(f, "   # illegal");
		if (bodyctx(nd->op, alias) != CTX_TOP) {
			fprintf(f, " {\n");
			printbody(p, nd->body, depth + 1, f);
			fprintf(f, "%*s}", 2 * depth, "");
		}
		fprintf(f, "\n");
	}
}

void fz_print(const fz_prog *p, FILE *f)
{
	if (p->ncp) {
		fprintf(f, "sched");
		for (int i = 0; i < p->ncp; i++)
			fprintf(f, " %d:%d", p->cp[i].at, p->cp[i].choice);
		fprintf(f, "\n");
	}
	printbody(p, p->top, 0, f);
}

/* ---- assembling ------------------------------------------------------------ */

typedef struct Asm {
	const char *s;
	uint8_t *out;
	size_t max, len;
	char *err;
	size_t errlen;
	int line;
	char tok[96];
	int failed;
} Asm;

static int fail(Asm *a, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (a->failed)
		return -1;
	a->failed = 1;
	n = snprintf(a->err, a->errlen, "line %d: ", a->line);
	va_start(ap, fmt);
	vsnprintf(a->err + n, a->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* The next token: a word, "{" or "}"; "" at the end. Newlines and ';'
 * separate like spaces; '#' starts a comment. */
static const char *tok(Asm *a)
{
	size_t n = 0;

	for (;;) {
		while (*a->s && (isspace((unsigned char)*a->s) || *a->s == ';')) {
			if (*a->s == '\n')
				a->line++;
			a->s++;
		}
		if (*a->s != '#')
			break;
		while (*a->s && *a->s != '\n')
			a->s++;
	}
	if (*a->s == '{' || *a->s == '}') {
		a->tok[0] = *a->s++;
		a->tok[1] = 0;
		return a->tok;
	}
	while (*a->s && !isspace((unsigned char)*a->s) && *a->s != ';' && *a->s != '{' &&
	       *a->s != '}' && *a->s != '#' && n + 1 < sizeof a->tok)
		a->tok[n++] = *a->s++;
	a->tok[n] = 0;
	return a->tok;
}

static const char *peek(Asm *a)
{
	const char *save = a->s;
	int line = a->line;
	static char buf[96];

	snprintf(buf, sizeof buf, "%s", tok(a));
	a->s = save;
	a->line = line;
	return buf;
}

static void emit(Asm *a, int v)
{
	if (a->len >= a->max) {
		fail(a, "program too long");
		return;
	}
	a->out[a->len++] = (uint8_t)v;
}

static int lookup(const char *w, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (names[i] && !strcmp(w, names[i]))
			return i;
	return -1;
}

/* A token as a message quotes it. */
static const char *got(const char *w)
{
	static char buf[100];

	if (!*w)
		return "nothing";
	snprintf(buf, sizeof buf, "'%s'", w);
	return buf;
}

/* A decimal number from lo to hi; the message names op and what it wants. */
static int number(Asm *a, const char *op, const char *what, const char *w, long lo, long hi)
{
	char *end;
	long v = strtol(w, &end, 10);

	if (!*w || *end || v < lo || v > hi)
		return fail(a, "%s wants %s from %ld to %ld, got %s", op, what, lo, hi, got(w));
	return (int)v;
}

/* One of the first n names; the message lists them. */
static int named(Asm *a, const char *op, const char *what, const char *w,
		 const char *const *names, int n)
{
	char list[512];
	size_t k = 0;
	int i = lookup(w, names, n);

	if (i >= 0)
		return i;
	list[0] = 0;
	for (int j = 0; j < n && k < sizeof list; j++)
		k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", j ? ", " : "", names[j]);
	return fail(a, "%s wants %s (%s), got %s", op, what, list, got(w));
}

/* site action [N] [every] [SIG]: the four bytes decode_arm reads. */
static void asm_arm(Asm *a, const char *op, const fz_arg *g)
{
	const char *sites[SQ_SITE_N], *acts[SQ_ACT_N], *w;
	int site, act, n = g->lo, every = 0, sig = 0;

	for (int i = 0; i < SQ_SITE_N; i++)
		sites[i] = sq_site_name(i);
	for (int i = 0; i < SQ_ACT_N; i++)
		acts[i] = sq_action_name(i);
	site = named(a, op, "a fault site", tok(a), sites, SQ_SITE_N);
	act = named(a, op, "an action", tok(a), acts, SQ_ACT_N);
	for (;;) {
		w = peek(a);
		if (isdigit((unsigned char)w[0]) || w[0] == '-')
			n = number(a, op, g->what, tok(a), g->lo, g->lo + g->n - 1);
		else if (!strcmp(w, "every"))
			every = (tok(a), 1);
		else if (lookup(w, fz_signames, S_N) >= 0)
			sig = lookup(tok(a), fz_signames, S_N);
		else
			break;
	}
	emit(a, site);
	emit(a, act);
	emit(a, n - g->lo);
	emit(a, every | sig << 1);
}

/* One argument of op; xswitch: op was written as its illegal form. */
static void asm_arg(Asm *a, const char *op, const fz_arg *g, int xswitch)
{
	const char *w;

	if (g->kind == ARG_ARM) {
		asm_arm(a, op, g);
		return;
	}
	w = tok(a);
	switch (g->kind) {
	case ARG_THREAD:
		if ((w[0] == 'T' || w[0] == 't') && w[1] >= '0' && w[1] < '0' + g->n && !w[2])
			emit(a, w[1] - '0');
		else
			fail(a, "%s wants %s T0..T%d, got %s", op, g->what, g->n - 1, got(w));
		break;
	case ARG_NAME: case ARG_BLOCK:
		emit(a, named(a, op, g->what, w, g->names, g->n));
		break;
	case ARG_NUM:
		emit(a, number(a, op, g->what, w, g->lo, g->lo + g->n - 1) - g->lo);
		break;
	case ARG_CSWITCH:
		emit(a, named(a, op, g->what, w, g->names, g->n) | (xswitch ? FZ_XBIT : 0));
		break;
	}
}

/* The opcode byte of op in context ctx, -1 if ctx has no such operation. */
static int opcode(int ctx, int op)
{
	for (int i = 0; i < ctxops[ctx].n; i++)
		if (ctxops[ctx].ops[i] == op)
			return i;
	return -1;
}

/* The operation named w, -1 if none (`end` is written as "}"); *alias:
 * w names its illegal form. */
static int opbyname(const char *w, int *alias)
{
	for (int op = 0; op < OP_N; op++) {
		*alias = opdefs[op].illname && !strcmp(w, opdefs[op].illname);
		if (op != OP_END && (*alias || !strcmp(w, opdefs[op].name)))
			return op;
	}
	return -1;
}

static void asm_body(Asm *a, int ctx, int closing);

static void asm_op(Asm *a, int ctx, const char *w)
{
	int alias, op = opbyname(w, &alias), idx = op < 0 ? -1 : opcode(ctx, op), child;

	if (idx < 0) {
		fail(a, "'%s' is not an operation of %s", w, ctxops[ctx].what);
		return;
	}
	if (alias && ctx != XSWITCH_CTX) {
		fail(a, "'%s' is only written in %s", w, ctxops[XSWITCH_CTX].what);
		return;
	}
	emit(a, idx);
	for (int i = 0; i < 2 && opdefs[op].arg[i]; i++)
		asm_arg(a, w, opdefs[op].arg[i], alias);
	child = bodyctx(op, alias);
	if (child != CTX_TOP) {
		if (strcmp(tok(a), "{")) {
			fail(a, "%s wants a body in { }, got %s", w, got(a->tok));
			return;
		}
		asm_body(a, child, 1);
		emit(a, opcode(child, OP_END));
	}
}

static void asm_body(Asm *a, int ctx, int closing)
{
	for (;;) {
		const char *w = tok(a);
		char word[96];

		if (a->failed)
			return;
		if (!*w) {
			if (closing)
				fail(a, "missing '}'");
			return;
		}
		if (!strcmp(w, "}")) {
			if (!closing)
				fail(a, "unexpected '}'");
			return;
		}
		snprintf(word, sizeof word, "%s", w);
		asm_op(a, ctx, word);
	}
}

/* sched at:choice ...: the change points, each number a byte. */
static int asm_sched(Asm *a, uint8_t *cps)
{
	int ncp = 0;

	if (strcmp(peek(a), "sched"))
		return 0;
	tok(a);
	while (isdigit((unsigned char)peek(a)[0])) {
		const char *w = tok(a);
		char *end;
		long at = strtol(w, &end, 10), ch = -1;

		if (*end == ':' && isdigit((unsigned char)end[1]))
			ch = strtol(end + 1, &end, 10);
		if (ch < 0 || *end || at > 255 || ch > 255)
			return fail(a, "sched wants pick:choice, each from 0 to 255, got %s", got(w));
		if (ncp >= FZ_MAXCP)
			return fail(a, "sched wants at most %d pick:choice pairs", FZ_MAXCP);
		cps[2 * ncp] = (uint8_t)at;
		cps[2 * ncp + 1] = (uint8_t)ch;
		ncp++;
	}
	return ncp;
}

long fz_asm(const char *text, uint8_t *out, size_t max, char *err, size_t errlen)
{
	Asm a = { text, out, max, 0, err, errlen, 1, "", 0 };
	uint8_t cps[2 * FZ_MAXCP];
	int ncp = asm_sched(&a, cps);

	if (ncp < 0)
		return -1;
	emit(&a, ncp);
	for (int i = 0; i < 2 * ncp; i++)
		emit(&a, cps[i]);
	asm_body(&a, CTX_TOP, 0);
	return a.failed ? -1 : (long)a.len;
}
