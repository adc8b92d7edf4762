/*
 * decode.c: bytes -> fuzz program, and the program's text form.
 *
 * The decoder is total: every byte string is a program, and (unless the
 * replay asks for illegal operations on purpose) a legal one for the fixed
 * runtime. Legality is kept by construction, per context (ops.h):
 *   - an opcode byte picks from its context's table only, so callbacks are
 *     never made from a goroutine, and C that switched stacks inside an
 *     outcall never calls back;
 *   - arms that a correct runtime refuses with a fatal error become `spin`
 *     at the same site (split at a syscall-window site: "stack split at bad
 *     time"; systemstack in the signal handler: "systemstack called from
 *     signal stack"; a signal raised on every run of the signal handler: a
 *     livelock by construction);
 *   - signals are the four the runtime and the interpreter handle (SIGURG,
 *     SIGPROF, SIGUSR1, SIGUSR2). SIGUSR2 is the interpreter's "check
 *     here" signal and is only ever raised synchronously, at a known point:
 *     by the thread itself (raise, an armed site), never sent to another
 *     thread, never raised from inside the signal handler;
 *   - sizes are bounded: FZ_MAXOPS nodes, FZ_MAXDEPTH nested bodies,
 *     FZ_MAXG goroutines, recursion of at most 32 half-KiB frames.
 * Runs on the fuzzer's thread, before anything of the program runs.
 */
#include <ctype.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "sq_harness.h"

static const uint8_t tab_top[] = {
	OP_CALL, OP_GO, OP_WAIT, OP_SWITCH, OP_ARM, OP_DISARM, OP_SIGNAL, OP_DETACH, OP_NOP,
};
static const uint8_t tab_g[] = {
	OP_END, OP_SPAWN, OP_YIELD, OP_SYSCALL, OP_SYSBLOCK, OP_OUTCALL, OP_PREEMPT, OP_RAISE,
	OP_XFER, OP_PINGPONG, OP_SPAWNW, OP_WAITW, OP_RECURSE, OP_ARM, OP_DISARM, OP_CHECK,
};
static const uint8_t tab_c[] = {
	OP_END, OP_CALLBACK, OP_CSWITCH, OP_SLEEP, OP_RAISE, OP_ARM, OP_DISARM, OP_RETAKE,
};
static const uint8_t tab_cnocb[] = {
	OP_END, OP_CSWITCH, OP_SLEEP, OP_RAISE,
};

static const struct { const uint8_t *ops; int n; } tables[CTX_N] = {
	[CTX_TOP]   = { tab_top, sizeof tab_top },
	[CTX_G]     = { tab_g, sizeof tab_g },
	[CTX_C]     = { tab_c, sizeof tab_c },
	[CTX_CNOCB] = { tab_cnocb, sizeof tab_cnocb },
};

static const char *const opnames[OP_N] = {
	[OP_NOP] = "nop", [OP_END] = "end",
	[OP_CALL] = "call", [OP_GO] = "go", [OP_WAIT] = "wait", [OP_SWITCH] = "switch",
	[OP_SIGNAL] = "signal", [OP_DETACH] = "detach",
	[OP_SPAWN] = "spawn", [OP_YIELD] = "yield", [OP_SYSCALL] = "syscall",
	[OP_SYSBLOCK] = "sysblock", [OP_OUTCALL] = "outcall", [OP_PREEMPT] = "preempt",
	[OP_XFER] = "xfer", [OP_PINGPONG] = "pingpong", [OP_SPAWNW] = "spawnw",
	[OP_WAITW] = "waitw", [OP_RECURSE] = "recurse", [OP_CHECK] = "check",
	[OP_CALLBACK] = "callback", [OP_CSWITCH] = "cswitch", [OP_SLEEP] = "sleep",
	[OP_RETAKE] = "retake",
	[OP_ARM] = "arm", [OP_DISARM] = "disarm", [OP_RAISE] = "raise",
};

static const char *const kindnames[K_N] = {
	"pthread", "ucontext", "ucontext-mmap", "boost", "boost-mmap",
};
static const char *const actnames[A_N] = { "split", "yield", "spin", "signal", "systemstack" };
const char *const fz_signames[4] = { "SIGURG", "SIGPROF", "SIGUSR1", "SIGUSR2" };
const int fz_sigs[4] = { SIGURG, SIGPROF, SIGUSR1, SIGUSR2 };

/* Argument names where a number would say little. */
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

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *fz_opname(int op)
{
	return op >= 0 && op < OP_N && opnames[op] ? opnames[op] : "?";
}

const char *fz_kindname(int k)
{
	return k >= 0 && k < K_N ? kindnames[k] : "?";
}

/* ---- fault sites ---------------------------------------------------------- */

int fz_nsites(void)
{
	static int n = -1;

	if (n < 0)
		for (n = 0; sq_fault_site(n); n++)
			;
	return n;
}

const char *fz_site(int i)
{
	return sq_fault_site(i);
}

static int windowsite(const char *s)
{
	return !strcmp(s, "entersyscall.poisoned") || !strcmp(s, "syscall.window") ||
	       !strcmp(s, "exitsyscall.enter") || !strcmp(s, "exitsyscall.slow");
}

/* The arms a correct runtime answers with a fatal error (1) or that make a
 * livelock (2). */
int fz_arm_illegal(const char *site, int action, int every)
{
	if (action == A_SPLIT && windowsite(site))
		return 1;
	if (!strcmp(site, "sighandler.dispatch") && action == A_SYSTEMSTACK)
		return 1;
	if (!strcmp(site, "sighandler.dispatch") && action == A_SIGNAL && every)
		return 2;
	return 0;
}

const char *fz_refusal(const fz_prog *p, const fz_node *nd)
{
	if (!nd->illegal)
		return NULL;
	if (nd->op == OP_CSWITCH)
		return "callback with sp out of bounds";
	if (nd->op != OP_ARM)
		return NULL;
	if (strstr(p->spec[nd->arm], ":split:"))
		return "stack split at bad time";
	if (strstr(p->spec[nd->arm], ":systemstack:"))
		return "systemstack called from signal stack";
	return NULL;
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
} Dec;

static uint8_t next(Dec *s)
{
	return s->pos < s->n ? s->d[s->pos++] : 0;
}

static int nargs(int op)
{
	switch (op) {
	case OP_CALL: case OP_GO: case OP_WAIT: case OP_DETACH:
	case OP_SYSCALL: case OP_SYSBLOCK: case OP_RAISE: case OP_XFER: case OP_PINGPONG:
	case OP_RECURSE: case OP_CSWITCH: case OP_SLEEP:
		return 1;
	case OP_SWITCH: case OP_SIGNAL:
		return 2;
	case OP_ARM:
		return 4;
	}
	return 0;
}

static int childctx(int op, int ctx, int xswitch)
{
	switch (op) {
	case OP_CALL: case OP_GO: case OP_SPAWN: case OP_SPAWNW: case OP_CALLBACK:
		return CTX_G;
	case OP_OUTCALL:
		return CTX_C;
	case OP_CSWITCH:
		return ctx == CTX_C && xswitch ? CTX_C : CTX_CNOCB;
	}
	return -1;
}

static int mkarm(Dec *s, const uint8_t *b, fz_node *nd)
{
	fz_prog *p = s->p;
	int nsites = fz_nsites();
	const char *site;
	int act = b[1] % A_N, n = 1 + b[2] % 8, every = b[3] & 1, sig = (b[3] >> 1) & 3, ill;
	char *spec;

	if (nsites == 0 || p->narm >= FZ_MAXARMS)
		return -1;
	site = fz_site(b[0] % nsites);
	if ((ill = fz_arm_illegal(site, act, every)) != 0) {
		if (s->allow_illegal || (s->refuse && ill == 1)) {
			nd->illegal = 1;
			p->illegal = 1;
		} else {
			act = A_SPIN;
		}
	}
	/* spin (and yield, which spins wherever no G is running, i.e. at every
	 * reachable site) only widens a window, which matters when something
	 * runs concurrently: the race target. In the deterministic ones it
	 * would cost 100 us a hit and change nothing: a check there instead. */
	if ((act == A_SPIN || act == A_YIELD) && !s->async) {
		act = A_SIGNAL;
		sig = strcmp(site, "sighandler.dispatch") ? 3 : 2;
		every = 0;
	}
	/* The check signal is synchronous by design: inside the handler it
	 * would land wherever another signal interrupted the thread. */
	if (act == A_SIGNAL && sig == 3 && !strcmp(site, "sighandler.dispatch"))
		sig = 2;
	spec = p->spec[p->narm];
	snprintf(spec, FZ_SPECLEN, "%s:%s:%d%s%s%s", site, actnames[act], n, every ? ":every" : "",
		act == A_SIGNAL ? ":" : "", act == A_SIGNAL ? fz_signames[sig] : "");
	return p->narm++;
}

/* Fill nd's arguments from the argument bytes b. Returns 0 if the node is
 * to be dropped (a limit was reached). */
static int args(Dec *s, int ctx, const uint8_t *b, fz_node *nd, int *xswitch)
{
	/* The C of an xswitch runs off g0's bounds: only the callback (whose
	 * refusal is the point) may enter the runtime, nothing with a split
	 * check (arm, disarm, retake would end in "morestack on g0"). */
	if (s->inxswitch && ctx == CTX_C &&
	    (nd->op == OP_ARM || nd->op == OP_DISARM || nd->op == OP_RETAKE))
		return 0;
	fz_prog *p = s->p;

	switch (nd->op) {
	case OP_CALL: case OP_GO: case OP_WAIT: case OP_DETACH:
		nd->a = b[0] % FZ_NTHREADS;
		break;
	case OP_SWITCH:
		nd->a = b[0] % FZ_NTHREADS;
		nd->b = b[1] % K_N;
		break;
	case OP_SIGNAL:
		nd->a = b[0] % FZ_NTHREADS;
		nd->b = b[1] % 3;		/* never SIGUSR2: see the file comment */
		break;
	case OP_SYSCALL:
		nd->a = b[0] % NELEM(syscallnames);
		break;
	case OP_SYSBLOCK:
		/* Timed and instant blocking calls race what runs while they
		 * block (who gets the P back first): race targets only. The
		 * deterministic targets block until the runtime has settled. */
		nd->a = s->async ? b[0] % (NELEM(sysblocknames) - 1) : NELEM(sysblocknames) - 1;
		break;
	case OP_SLEEP:
		nd->a = b[0] % NELEM(sleepnames);
		break;
	case OP_RAISE:
		nd->a = b[0] % 4;
		break;
	case OP_XFER:
		nd->a = b[0] % 2;
		break;
	case OP_PINGPONG:
		nd->a = 1 + b[0] % 8;
		break;
	case OP_RECURSE:
		nd->a = 1 + b[0] % 32;
		break;
	case OP_CSWITCH:
		nd->a = (b[0] & 0x7f) % K_N;
		if (ctx == CTX_C && (b[0] & 0x80) && (s->allow_illegal || s->refuse)) {
			*xswitch = 1;	/* callbacks from the switched stack: illegal */
			nd->illegal = 1;
			p->illegal = 1;
		}
		break;
	case OP_ARM:
		if ((nd->arm = (int16_t)mkarm(s, b, nd)) < 0)
			return 0;
		break;
	}
	switch (nd->op) {
	case OP_SPAWN: case OP_SPAWNW: case OP_XFER: case OP_PINGPONG:
		if (p->ngs >= FZ_MAXG)
			return 0;
		p->ngs++;
	}
	return 1;
}

/* Parse one body in context ctx until its end. keep = 0: parse and drop. */
static int16_t body(Dec *s, int ctx, int depth, int keep)
{
	fz_prog *p = s->p;
	int16_t first = -1, last = -1;

	while (s->pos < s->n && !s->full) {
		uint8_t b[4], op = tables[ctx].ops[next(s) % tables[ctx].n];
		int k = nargs(op), xswitch = 0, child, idx;
		fz_node nd;

		if (op == OP_END)
			break;
		if (op == OP_GO && !s->async)
			op = OP_CALL;
		for (int i = 0; i < 4; i++)
			b[i] = i < k ? next(s) : 0;
		memset(&nd, 0, sizeof nd);
		nd.op = op;
		nd.ctx = (int16_t)ctx;
		nd.body = nd.next = nd.arm = -1;
		int ok = keep && op != OP_NOP && args(s, ctx, b, &nd, &xswitch);
		child = childctx(op, ctx, xswitch);
		if (ok && p->nnode >= FZ_MAXOPS) {
			s->full = 1;
			ok = 0;
		}
		idx = -1;
		if (ok) {
			idx = p->nnode++;
			p->node[idx] = nd;
			if (last < 0)
				first = (int16_t)idx;
			else
				p->node[last].next = (int16_t)idx;
			last = (int16_t)idx;
		}
		if (child >= 0) {
			int saved = s->inxswitch;
			int16_t bd;

			if (xswitch)
				s->inxswitch = 1;
			else if (op == OP_CALLBACK)
				s->inxswitch = 0;	/* back on a G, then g0 */
			bd = body(s, child, depth + 1, ok && depth + 1 <= FZ_MAXDEPTH);
			s->inxswitch = saved;
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
	p->ncp = next(&s) & 7;
	for (int i = 0; i < p->ncp; i++) {
		p->cp[i].at = next(&s);
		p->cp[i].choice = next(&s);
	}
	/* The top level has no `end`: keep reading until the input runs out. */
	while (s.pos < s.n && !s.full) {
		int16_t f = body(&s, CTX_TOP, 0, 1);

		if (f >= 0) {
			if (p->top < 0) {
				p->top = f;
			} else {
				int16_t l = p->top;

				while (p->node[l].next >= 0)
					l = p->node[l].next;
				p->node[l].next = f;
			}
		}
	}
}

/* ---- printing ------------------------------------------------------------- */

static void printargs(const fz_prog *p, const fz_node *nd, FILE *f)
{
	switch (nd->op) {
	case OP_CALL: case OP_GO: case OP_WAIT: case OP_DETACH:
		fprintf(f, " T%d", nd->a);
		break;
	case OP_SWITCH:
		fprintf(f, " T%d %s", nd->a, kindnames[nd->b]);
		break;
	case OP_SIGNAL:
		fprintf(f, " T%d %s", nd->a, fz_signames[nd->b]);
		break;
	case OP_SYSCALL:
		fprintf(f, " %s", syscallnames[nd->a]);
		break;
	case OP_SYSBLOCK:
		fprintf(f, " %s", sysblocknames[nd->a]);
		break;
	case OP_SLEEP:
		fprintf(f, " %s", sleepnames[nd->a]);
		break;
	case OP_RAISE:
		fprintf(f, " %s", fz_signames[nd->a]);
		break;
	case OP_XFER: case OP_PINGPONG: case OP_RECURSE:
		fprintf(f, " %d", nd->a);
		break;
	case OP_CSWITCH:
		fprintf(f, " %s", kindnames[nd->a]);
		break;
	case OP_ARM: {
		/* site:action:N[:every][:SIG] -> site action N [every] [SIG] */
		char buf[FZ_SPECLEN], *save, *t;

		snprintf(buf, sizeof buf, "%s", p->spec[nd->arm]);
		for (t = strtok_r(buf, ":", &save); t; t = strtok_r(NULL, ":", &save))
			fprintf(f, " %s", t);
		break;
	}
	}
}

static void printbody(const fz_prog *p, int16_t i, int depth, FILE *f)
{
	for (; i >= 0; i = p->node[i].next) {
		const fz_node *nd = &p->node[i];
		int child = childctx(nd->op, nd->ctx, nd->op == OP_CSWITCH && nd->illegal);

		fprintf(f, "%*s%s", 2 * depth, "", nd->op == OP_CSWITCH && nd->illegal ? "xswitch" :
			fz_opname(nd->op));
		printargs(p, nd, f);
		if (nd->illegal && nd->op == OP_ARM)
			fprintf(f, "   # illegal");
		if (child >= 0) {
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

static int number(Asm *a, const char *w, int lo, int hi)
{
	char *end;
	long v = strtol(w, &end, 10);

	if (!*w || *end || v < lo || v > hi)
		return fail(a, "want a number from %d to %d, got '%s'", lo, hi, w);
	return (int)v;
}

static int thread(Asm *a, const char *w)
{
	if ((w[0] == 'T' || w[0] == 't') && w[1] >= '0' && w[1] < '0' + FZ_NTHREADS && !w[2])
		return w[1] - '0';
	return fail(a, "want a thread T0..T%d, got '%s'", FZ_NTHREADS - 1, w);
}

static int named(Asm *a, const char *w, const char *const *names, int n, const char *what)
{
	int i = lookup(w, names, n);

	return i >= 0 ? i : fail(a, "unknown %s '%s'", what, w);
}

static void asm_arm(Asm *a)
{
	char site[64];
	int si = -1, act, n = 1, every = 0, sig = 0;
	const char *w;

	snprintf(site, sizeof site, "%s", tok(a));
	for (int i = 0; i < fz_nsites(); i++)
		if (!strcmp(fz_site(i), site))
			si = i;
	if (si < 0) {
		fail(a, "unknown fault site '%s'", site);
		return;
	}
	act = named(a, tok(a), actnames, A_N, "action");
	for (;;) {
		w = peek(a);
		if (isdigit((unsigned char)w[0]))
			n = number(a, tok(a), 1, 8);
		else if (!strcmp(w, "every"))
			every = (tok(a), 1);
		else if (lookup(w, fz_signames, 4) >= 0)
			sig = lookup(tok(a), fz_signames, 4);
		else
			break;
	}
	emit(a, si);
	emit(a, act);
	emit(a, n - 1);
	emit(a, every | sig << 1);
}

static int opindex(int ctx, int op)
{
	for (int i = 0; i < tables[ctx].n; i++)
		if (tables[ctx].ops[i] == op)
			return i;
	return -1;
}

static void asm_body(Asm *a, int ctx, int closing);

static void asm_op(Asm *a, int ctx, const char *w)
{
	int op = lookup(w, opnames, OP_N), xswitch = 0, idx, child;

	if (!strcmp(w, "xswitch")) {
		op = OP_CSWITCH;
		xswitch = 1;
	}
	if (op < 0 || (idx = opindex(ctx, op)) < 0 || op == OP_END) {
		fail(a, "'%s' is not an operation of this context", w);
		return;
	}
	emit(a, idx);
	switch (op) {
	case OP_CALL: case OP_GO: case OP_WAIT: case OP_DETACH:
		emit(a, thread(a, tok(a)));
		break;
	case OP_SWITCH:
		emit(a, thread(a, tok(a)));
		emit(a, named(a, tok(a), kindnames, K_N, "stack kind"));
		break;
	case OP_SIGNAL:
		emit(a, thread(a, tok(a)));
		emit(a, named(a, tok(a), fz_signames, 3, "signal for a thread"));
		break;
	case OP_SYSCALL:
		emit(a, named(a, tok(a), syscallnames, NELEM(syscallnames), "syscall"));
		break;
	case OP_SYSBLOCK:
		emit(a, named(a, tok(a), sysblocknames, NELEM(sysblocknames), "blocking syscall"));
		break;
	case OP_SLEEP:
		emit(a, named(a, tok(a), sleepnames, NELEM(sleepnames), "sleep"));
		break;
	case OP_RAISE:
		emit(a, named(a, tok(a), fz_signames, 4, "signal"));
		break;
	case OP_XFER:
		emit(a, number(a, tok(a), 0, 1));
		break;
	case OP_PINGPONG:
		emit(a, number(a, tok(a), 1, 8) - 1);
		break;
	case OP_RECURSE:
		emit(a, number(a, tok(a), 1, 32) - 1);
		break;
	case OP_CSWITCH:
		emit(a, named(a, tok(a), kindnames, K_N, "stack kind") | (xswitch ? 0x80 : 0));
		break;
	case OP_ARM:
		asm_arm(a);
		break;
	}
	child = childctx(op, ctx, xswitch);
	if (child >= 0) {
		if (strcmp(tok(a), "{")) {
			fail(a, "'%s' wants a body in { }", w);
			return;
		}
		asm_body(a, child, 1);
		emit(a, opindex(child, OP_END));
	}
}

static void asm_body(Asm *a, int ctx, int closing)
{
	for (;;) {
		const char *w = tok(a);

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
		char word[96];

		snprintf(word, sizeof word, "%s", w);
		asm_op(a, ctx, word);
	}
}

long fz_asm(const char *text, uint8_t *out, size_t max, char *err, size_t errlen)
{
	Asm a = { text, out, max, 0, err, errlen, 1, "", 0 };
	int ncp = 0;
	uint8_t cps[2 * FZ_MAXCP];

	if (!strcmp(peek(&a), "sched")) {
		tok(&a);
		while (isdigit((unsigned char)peek(&a)[0])) {
			const char *w = tok(&a);
			char *colon;
			long at = strtol(w, &colon, 10), ch;

			if (*colon != ':' || ncp >= FZ_MAXCP)
				return fail(&a, "sched wants at most %d pick:choice pairs", FZ_MAXCP);
			ch = strtol(colon + 1, NULL, 10);
			cps[2 * ncp] = (uint8_t)at;
			cps[2 * ncp + 1] = (uint8_t)ch;
			ncp++;
		}
	}
	emit(&a, ncp);
	for (int i = 0; i < 2 * ncp; i++)
		emit(&a, cps[i]);
	asm_body(&a, CTX_TOP, 0);
	return a.failed ? -1 : (long)a.len;
}
