// poke: the cover run, then one poke per instruction of the window.
//
// The sweep arms every instruction still to be poked at once and pokes
// whichever a matching thread hits first, so the window is swept in the
// order the program runs it and rare instructions are waited for together,
// not one after the other. Each poke, of instruction A hit by thread T:
//   1. all breakpoints come out (a thread that trapped on one meanwhile is
//      rewound and resumed: trace.c), so nothing else is poked until A's
//      outcome is known; T stands before A, pc rewound.
//   2. send: tgkill(T, sig) while T is stopped before A, then resume T with
//      no signal. The kernel looks at T's pending signals before returning
//      to user mode: sig unblocked → signal-delivery-stop for sig, with pc
//      still A; sig blocked → it stays pending and T runs on, until it
//      unblocks sig (delivery-stop at that later pc: "deferred"), exactly as
//      for a signal another thread had sent at that instant.
//   3. deliver: at T's delivery-stop record the pc, then resume T with sig
//      under PTRACE_SYSCALL. (No handler installed: resume with PTRACE_CONT
//      and let the default action happen.)
//   4. handler: the handler is finished when T enters rt_sigreturn; T is then
//      resumed without syscall stops. The program ending first, or the
//      timeout, decides the class.
//   5. settle: the program runs on for settle ms. Ending now still counts
//      for A; so does a failure before the next poke (late, noted "after
//      settle").
// Then the remaining instructions are armed again.
//
// Runs: a run that ends is replaced by a fresh one, armed from exec.
// Startup instructions (hit in cover phase 1 only) can only be hit early in
// a run: once a run has had its first poke and only startup instructions
// are left, it is replaced at once. When no remaining instruction is hit
// within the reach timeout, the run is replaced; a second timeout with no
// poke in between ends the sweep: what is left is "not reached". After a
// timeout, a run whose poke came early (within cover ms of exec) is
// replaced too: what is left behaves like startup code. A run replaced
// while alive may have been dying on its own; retire accounts for that.
//
// Other threads are never stopped by sigpoke except when they hit a
// breakpoint themselves; every signal they get is delivered unchanged.
//
// Bounds: only the instructions chosen (--sample) are armed, ever. Past the
// deadline (--max-seconds) no phase of the cover run and no poke starts; a
// poke under way finishes, since half a poke says nothing. What was not
// poked then is untested, not "not reached".

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sigpoke.h"

struct sweeper {
	const struct config *c;
	struct window *w;
	struct run r;
	int live;               // r is a started, not yet freed run
	int poked;              // pokes in r so far
	long last;              // last insn poked in r, -1 for none
	int nruns;
	size_t left;            // reached instructions not yet poked
	int covercut;           // the deadline fell inside the cover run
};

static int64_t ms(int m)
{
	return (int64_t)m * 1000000;
}

static int expired(const struct config *c)
{
	return c->deadline != 0 && now() >= c->deadline;
}

// until returns the earlier of now + m ms and the sweep's deadline.
static int64_t until(const struct config *c, int m)
{
	int64_t t = now() + ms(m);

	return c->deadline != 0 && c->deadline < t ? c->deadline : t;
}

// endrun ends the run, whose end has been accounted for.
static void endrun(struct sweeper *s)
{
	if (s->live)
		runfree(&s->r);
	s->live = 0;
}

static void lateend(struct sweeper *s);

// retire replaces a run that is still live as far as sigpoke knows. It may
// be dying on its own already (exit_group called, threads not yet reaped):
// the kernel then ignores sigpoke's SIGKILL and the exit status is the
// program's own, which lateend accounts for.
static void retire(struct sweeper *s)
{
	if (!s->live)
		return;
	runkill(&s->r);
	if (!WIFSIGNALED(s->r.status) || WTERMSIG(s->r.status) != SIGKILL)
		lateend(s);
	endrun(s);
}

// armall arms every reached instruction not yet poked.
static void armall(struct sweeper *s)
{
	for (size_t i = 0; i < s->w->nin; i++)
		if (s->w->in[i].reached && !s->w->in[i].swept)
			bparm(&s->r, i);
}

static void disarmall(struct sweeper *s)
{
	for (size_t i = 0; i < s->w->nin; i++)
		bpdisarm(&s->r, i);
}

// newrun starts a run with the remaining instructions armed from exec.
static int newrun(struct sweeper *s)
{
	int err;

	retire(s);
	err = runstart(&s->r, &s->c->spawn, s->w, ++s->nruns);
	if (err < 0) {
		fprintf(stderr, "sigpoke: cannot start %s: %s\n", s->c->spawn.argv[0], strerror(-err));
		return -1;
	}
	s->live = 1;
	s->poked = 0;
	s->last = -1;
	armall(s);
	resume(&s->r, s->r.pid, 0);
	return 0;
}

static int matches(struct sweeper *s, pid_t tid)
{
	char comm[64];

	if (s->c->comm == NULL)
		return 1;
	return threadcomm(&s->r, tid, comm, sizeof comm) == 0 && strcmp(comm, s->c->comm) == 0;
}

// other handles a stop that is none of the current step's business.
static void other(struct sweeper *s, const struct event *ev)
{
	switch (ev->kind) {
	case EV_SIGNAL:
		resume(&s->r, ev->tid, ev->sig);
		break;
	case EV_SYSENTER:
		resume(&s->r, ev->tid, 0);
		break;
	case EV_HIT:
		// Only a wanted breakpoint is reported; none is wanted here.
		bpdisarm(&s->r, ev->bp);
		resume(&s->r, ev->tid, 0);
		break;
	case EV_GONE:
		break;
	}
}

// fatalmsg finds the runtime's "fatal error: ..." line in a run's log.
static int fatalmsg(const char *log, char *msg, size_t n)
{
	char line[512];
	FILE *f = fopen(log, "re");
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, f) != NULL) {
		if (strncmp(line, "fatal error: ", 13) != 0)
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(msg, n, "%.*s", (int)n - 1, line + 13);
		found = 1;
	}
	fclose(f);
	return found;
}

// endclass classifies how a run ended: C_FATAL (a "fatal error: " line in
// its output), C_CRASH, C_WRONG, or C_CLEAN for exit 0.
static int endclass(struct run *r, char *detail, size_t n)
{
	char msg[160], sb[16];

	if (fatalmsg(r->log, msg, sizeof msg)) {
		snprintf(detail, n, "%s", msg);
		return C_FATAL;
	}
	if (WIFSIGNALED(r->status)) {
		snprintf(detail, n, "killed by %s", signame(WTERMSIG(r->status), sb, sizeof sb));
		return C_CRASH;
	}
	if (WEXITSTATUS(r->status) != 0) {
		snprintf(detail, n, "exit status %d", WEXITSTATUS(r->status));
		return C_WRONG;
	}
	snprintf(detail, n, "program exited 0");
	return C_CLEAN;
}

// ended records the end of the run during a poke of in. Its delivery stays
// what it was: a run can fail before the signal arrives (undelivered).
static void ended(struct sweeper *s, struct insn *in)
{
	in->cls = endclass(&s->r, in->detail, sizeof in->detail);
	endrun(s);
}

// lateend: the run ended while no poke was in progress. A failure is put on
// the last instruction poked in it, or reported if there was none.
static void lateend(struct sweeper *s)
{
	char detail[160];
	int c = endclass(&s->r, detail, sizeof detail);

	if (c == C_CLEAN)
		return;
	if (s->last < 0) {
		fprintf(stderr, "sigpoke: run %d ended with %s before any poke: %s (log %s)\n",
		    s->r.n, classname(c), detail, s->r.log);
		return;
	}
	struct insn *in = &s->w->in[s->last];
	if (unsafe(in->cls))
		return;
	in->cls = c;
	in->late = 1;
	snprintf(in->detail, sizeof in->detail, "%s (after settle)", detail);
}

// deliver waits for sig's delivery-stop on tid: 1 delivered (at the
// instruction or deferred), 0 not (class recorded).
static int deliver(struct sweeper *s, struct insn *in, pid_t tid, uintptr_t at)
{
	const struct config *c = s->c;
	struct event ev;
	uintptr_t pc, sp;
	int64_t deadline = now() + ms(c->timeout);

	for (;;) {
		runnext(&s->r, &ev, deadline);
		if (ev.kind == EV_SIGNAL && ev.tid == tid && ev.sig == c->sig)
			break;
		if (ev.kind == EV_END) {
			ended(s, in);
			return 0;
		}
		if (ev.kind == EV_TIMEOUT) {
			snprintf(in->detail, sizeof in->detail, "still pending after %d ms", c->timeout);
			return 0;
		}
		if (ev.kind == EV_GONE && ev.tid == tid) {
			snprintf(in->detail, sizeof in->detail, "the thread exited with it pending");
			return 0;
		}
		other(s, &ev);
	}
	in->delivery = D_DEFERRED;
	if (archregs(tid, &pc, &sp) == 0) {
		in->delivery = pc == at ? D_AT : D_DEFERRED;
		elfwhere(c->syms, pc - s->r.bias, in->dwhere, sizeof in->dwhere);
		if (in->dwhere[0] == 0)
			mapwhere(&s->r, pc, in->dwhere, sizeof in->dwhere);
	}
	return 1;
}

// handler follows tid through its handler: 1 returned, 0 not (class
// recorded).
static int handler(struct sweeper *s, struct insn *in, pid_t tid)
{
	const struct config *c = s->c;
	struct event ev;
	int64_t deadline = now() + ms(c->timeout);
	int exiting = 0;

	if (!catches(&s->r, c->sig)) {
		snprintf(in->detail, sizeof in->detail, "no handler: default action");
		resume(&s->r, tid, c->sig);
		return 1;
	}
	resumesys(&s->r, tid, c->sig);
	for (;;) {
		runnext(&s->r, &ev, deadline);
		if (ev.kind == EV_SYSENTER && ev.tid == tid) {
			if (ev.nr == SYS_rt_sigreturn) {
				resume(&s->r, tid, 0);
				return 1;
			}
			// The handler ends the process: wait for all of it to go.
			exiting |= ev.nr == SYS_exit_group;
			resumesys(&s->r, tid, 0);
			continue;
		}
		if (ev.kind == EV_SIGNAL && ev.tid == tid) {
			resumesys(&s->r, tid, ev.sig);
			continue;
		}
		if (ev.kind == EV_GONE && ev.tid == tid && !exiting) {
			snprintf(in->detail, sizeof in->detail, "the thread exited in the handler");
			return 1;
		}
		if (ev.kind == EV_END) {
			ended(s, in);
			return 0;
		}
		if (ev.kind == EV_TIMEOUT) {
			in->cls = C_HANG;
			snprintf(in->detail, sizeof in->detail,
			    "handler did not return within %d ms", c->timeout);
			endrun(s);
			return 0;
		}
		other(s, &ev);
	}
}

static void settle(struct sweeper *s, struct insn *in)
{
	struct event ev;
	int64_t deadline = now() + ms(s->c->settle);

	for (;;) {
		runnext(&s->r, &ev, deadline);
		if (ev.kind == EV_END) {
			ended(s, in);
			return;
		}
		if (ev.kind == EV_TIMEOUT)
			return;
		other(s, &ev);
	}
}

static void poke(struct sweeper *s, size_t i, pid_t tid)
{
	struct insn *in = &s->w->in[i];
	uintptr_t at = s->r.bp[i].addr;

	// Until the run says otherwise: pending, and the program going on.
	in->delivery = D_UNDELIVERED;
	in->cls = C_CLEAN;
	in->run = s->r.n;
	s->last = (long)i;
	if (syscall(SYS_tgkill, s->r.pid, tid, s->c->sig) < 0) {
		in->cls = C_HARNESS;
		snprintf(in->detail, sizeof in->detail, "tgkill: %s", strerror(errno));
		resume(&s->r, tid, 0);
		return;
	}
	resume(&s->r, tid, 0);
	if (deliver(s, in, tid, at) && handler(s, in, tid))
		settle(s, in);
}

// cover runs PROGRAM once with every window instruction armed: phase 1 from
// exec, phase 2 re-armed, cover ms each. A matching thread's hit disarms the
// instruction for the rest of the phase.
static int cover(struct sweeper *s)
{
	struct window *w = s->w;
	struct event ev;
	unsigned char *seen = calloc(w->nin ? w->nin : 1, 1);

	for (size_t i = 0; i < w->nin; i++)
		w->in[i].reached = w->in[i].chosen;
	if (seen == NULL || newrun(s) < 0) {
		free(seen);
		return -1;
	}
	int hit = 0;
	for (int phase = 1; phase <= 2 && s->live && !expired(s->c); phase++) {
		if (phase == 2)
			armall(s);
		// Phase 1's cover ms count from the window's first hit, which a
		// loaded machine can put well after exec; until then it waits as
		// long as a poke waits to reach an instruction.
		int64_t deadline = until(s->c, phase == 1 && s->c->reach > s->c->cover ?
		    s->c->reach : s->c->cover);
		for (;;) {
			runnext(&s->r, &ev, deadline);
			if (ev.kind == EV_END) {
				lateend(s);
				endrun(s);
				break;
			}
			if (ev.kind == EV_TIMEOUT)
				break;
			if (ev.kind == EV_HIT && !matches(s, ev.tid)) {
				stepover(&s->r, ev.tid, ev.bp);
				continue;
			}
			if (ev.kind == EV_HIT) {
				if (!hit++ && phase == 1)
					deadline = until(s->c, s->c->cover);
				seen[ev.bp] |= phase;
				bpdisarm(&s->r, ev.bp);
				resume(&s->r, ev.tid, 0);
				continue;
			}
			other(s, &ev);
		}
	}
	s->covercut = expired(s->c);
	retire(s);
	for (size_t i = 0; i < w->nin; i++) {
		w->in[i].reached = seen[i] != 0;
		w->in[i].startup = seen[i] == 1;
	}
	free(seen);
	return 0;
}

static void progress(struct sweeper *s, const struct insn *in)
{
	char loc[128];

	if (!s->c->verbose && !unsafe(in->cls))
		return;
	locname(s->w, in, loc, sizeof loc);
	fprintf(stderr, "[sigpoke] %s at=%s run=%d delivery=%s class=%s delivered=%s%s%s\n",
	    unsafe(in->cls) ? "UNSAFE" : "POKE", loc, in->run, deliveryname(in->delivery),
	    classname(in->cls), delivered(in->delivery) ? in->dwhere : "-",
	    in->detail[0] ? " detail=" : "", in->detail);
}

// left counts the instructions still to be poked that are (startup 1) or
// are not (startup 0) startup instructions.
static size_t left(struct sweeper *s, int startup)
{
	size_t n = 0;

	for (size_t i = 0; i < s->w->nin; i++) {
		const struct insn *in = &s->w->in[i];
		n += in->reached && !in->swept && in->startup == startup;
	}
	return n;
}

// hit waits for a matching thread to hit a remaining instruction: 1 (ev
// says which and who), 0 the run ended, -1 timeout.
static int hit(struct sweeper *s, struct event *ev)
{
	int64_t deadline = until(s->c, s->c->reach);

	for (;;) {
		runnext(&s->r, ev, deadline);
		if (ev->kind == EV_HIT) {
			if (matches(s, ev->tid))
				return 1;
			stepover(&s->r, ev->tid, ev->bp);
			continue;
		}
		if (ev->kind == EV_END)
			return 0;
		if (ev->kind == EV_TIMEOUT)
			return -1;
		other(s, ev);
	}
}

// pokeall pokes the remaining instructions, in the order threads hit them:
// first in one long run, until no remaining instruction is hit within the
// reach timeout; then one fresh run per poke while startup instructions are
// left, since nothing else reaches them. After a timeout ("rare" mode) an
// instruction hit within cover ms of its run's exec is taken for a startup
// one too (a thread that starts late, say): the run is replaced after it.
static int pokeall(struct sweeper *s)
{
	int idle = 0;   // timeouts and pokeless runs since the last poke
	int rare = 0;   // a timeout happened: the steady ones left are rare
	int early = 0;  // the last poke came within cover ms of its run's exec
	struct event ev;

	while (s->left > 0 && idle < 2 && !expired(s->c)) {
		if (s->live && s->poked > 0 &&
		    ((left(s, 1) > 0 && (rare || left(s, 0) == 0)) || (rare && early)))
			retire(s);
		if (!s->live) {
			if (newrun(s) < 0)
				return -1;
		} else {
			armall(s);
		}
		int r = hit(s, &ev);
		if (r == 1) {
			struct insn *in = &s->w->in[ev.bp];
			early = now() - s->r.t0 < ms(s->c->cover);
			disarmall(s);
			in->swept = 1;
			s->left--;
			s->poked++;
			idle = 0;
			poke(s, ev.bp, ev.tid);
			progress(s, in);
			continue;
		}
		if (r == 0) {
			idle += s->poked == 0;
			lateend(s);
			endrun(s);
			continue;
		}
		idle++;
		rare = 1;
		if (s->c->verbose)
			fprintf(stderr, "[sigpoke] TIMEOUT run=%d left=%zu\n", s->r.n, s->left);
		retire(s);
	}
	return 0;
}

// unpoked sets what became of an instruction that was not poked: untested
// when the sample left it out or the deadline came first (the cover run's
// verdict too, when the deadline cut it), else not reached.
static void unpoked(const struct sweeper *s, struct insn *in, int cut)
{
	in->swept = 1;
	in->cls = C_SKIPPED;
	in->delivery = D_UNTESTED;
	if (!in->chosen)
		snprintf(in->detail, sizeof in->detail, "not in the sample (--seed %lld)",
		    (long long)s->c->seed);
	else if (in->reached ? cut : s->covercut)
		snprintf(in->detail, sizeof in->detail, "not poked: --max-seconds ran out");
	else
		in->delivery = D_NOTREACHED;
	if (in->delivery == D_NOTREACHED && in->reached)
		snprintf(in->detail, sizeof in->detail, "not hit within %d ms, twice", s->c->reach);
}

// sweep pokes every chosen instruction of w (or only w->in[only] when only
// is not (size_t)-1, without a cover run). -1 if PROGRAM could not be run.
int sweep(const struct config *c, struct window *w, size_t only, struct sweepstats *st)
{
	struct sweeper s = { .c = c, .w = w, .last = -1 };
	int64_t t0 = now();
	size_t nstartup = 0;

	if (only == (size_t)-1) {
		if (cover(&s) < 0)
			return -1;
		for (size_t i = 0; i < w->nin; i++) {
			s.left += w->in[i].reached;
			nstartup += w->in[i].startup;
		}
		st->covered = 1;
		st->reached = s.left;
		st->startup = nstartup;
		st->coverseconds = (now() - t0) / 1e9;
		fprintf(stderr, "[sigpoke] COVER instructions=%zu reached=%zu startup=%zu seconds=%.2f\n",
		    w->nin, s.left, nstartup, st->coverseconds);
	} else {
		for (size_t i = 0; i < w->nin; i++)
			w->in[i].reached = i == only;
		s.left = 1;
	}
	int ret = pokeall(&s);
	retire(&s);
	st->cut = s.covercut || (s.left > 0 && expired(c));
	for (size_t i = 0; i < w->nin; i++)
		if (!w->in[i].swept && (only == (size_t)-1 || i == only))
			unpoked(&s, &w->in[i], st->cut);
	st->runs = s.nruns;
	st->seconds = (now() - t0) / 1e9;
	return ret;
}

// ---- the sample ----

// splitmix64: a small generator whose whole state is the seed.
static uint64_t next(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

// windowsample chooses n instructions of w, drawn from seed alone (not from
// what a run happens to reach), so the same seed picks the same ones; n <= 0
// chooses all.
void windowsample(struct window *w, long n, int64_t seed)
{
	size_t *idx = malloc((w->nin ? w->nin : 1) * sizeof *idx);
	uint64_t x = (uint64_t)seed;

	for (size_t i = 0; i < w->nin; i++) {
		w->in[i].chosen = n <= 0 || idx == NULL;
		if (idx != NULL)
			idx[i] = i;
	}
	if (n <= 0 || idx == NULL) {
		free(idx);
		return;
	}
	// A partial Fisher-Yates shuffle: the first n of idx are the sample.
	for (size_t i = 0; i < w->nin && i < (size_t)n; i++) {
		size_t j = i + next(&x) % (w->nin - i), t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
		w->in[idx[i]].chosen = 1;
	}
	free(idx);
}
