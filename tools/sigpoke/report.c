// report: the table, the TSV, the picture, the replay commands, the summary.
// (The records drivers read are record.c's.)
//
// Formats (docs/sigpoke.md has examples):
//   table.txt    one line per swept instruction:
//                  FUNCTION LOCATION ADDRESS DELIVERY CLASS DELIVERED-AT
//                  INSTRUCTION [; DETAIL]
//   results.tsv  a header line, then one row per instruction, tab-separated:
//                  function location address delivery class delivered_at
//                  run instruction detail
//                (function: the strip, "dropm" or "dropm@sq_callback";
//                location: sym+0xoff, what --at takes; address link-time,
//                hex; delivered_at "-" when the signal was never delivered)
//   window.svg   a strip per function, a cell per instruction, coloured by
//                its class when that is a finding, else by its delivery,
//                with both as a tooltip
//   replay.sh    one sigpoke command per unsafe instruction, each of which
//                repeats that single poke
//   summary      "sigpoke: summary instructions=N reached=N at=N deferred=N
//                undelivered=N notreached=N unsafe=N runs=N seconds=S" on
//                stdout, last

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigpoke.h"

static const char *const dnames[D_N] = {
	[D_UNTESTED] = "untested",
	[D_NOTREACHED] = "notreached",
	[D_AT] = "at",
	[D_DEFERRED] = "deferred",
	[D_UNDELIVERED] = "undelivered",
};

// The project's spelling of each class (docs/harness.md, "The oracle").
static const char *const cnames[C_N] = {
	[C_SKIPPED] = "skipped",
	[C_CLEAN] = "clean",
	[C_FATAL] = "unexpected-fatal",
	[C_CRASH] = "crash",
	[C_HANG] = "hang",
	[C_WRONG] = "wrong-result",
	[C_HARNESS] = "harness-error",
};

const char *deliveryname(int d)
{
	return d >= 0 && d < D_N ? dnames[d] : "?";
}

const char *classname(int c)
{
	return c >= 0 && c < C_N ? cnames[c] : "?";
}

// A cell of the picture is one kind: its class when that is a finding,
// else its delivery.
enum { K_N = D_N + C_N };

static int cellkind(const struct insn *in)
{
	return unsafe(in->cls) ? D_N + in->cls : in->delivery;
}

static const char *const colours[K_N] = {
	[D_UNTESTED] = "#f0f0f0",
	[D_NOTREACHED] = "#c7c7c7",
	[D_AT] = "#2ca02c",
	[D_DEFERRED] = "#98df8a",
	[D_UNDELIVERED] = "#e6c229",
	[D_N + C_FATAL] = "#d62728",
	[D_N + C_CRASH] = "#8c1c13",
	[D_N + C_WRONG] = "#ff7f0e",
	[D_N + C_HANG] = "#9467bd",
	[D_N + C_HARNESS] = "#000000",
};

static const char *const legend[K_N] = {
	[D_UNTESTED] = "not swept",
	[D_NOTREACHED] = "not reached",
	[D_AT] = "delivered here, the program went on",
	[D_DEFERRED] = "blocked here, delivered later, the program went on",
	[D_UNDELIVERED] = "undelivered: still pending",
	[D_N + C_FATAL] = "unexpected-fatal: fatal error",
	[D_N + C_CRASH] = "crash: killed by a signal",
	[D_N + C_WRONG] = "wrong-result: exit status not 0",
	[D_N + C_HANG] = "hang: handler did not return",
	[D_N + C_HARNESS] = "harness-error: not sent",
};

static const char *const signames[] = {
	[SIGHUP] = "SIGHUP", [SIGINT] = "SIGINT", [SIGQUIT] = "SIGQUIT", [SIGILL] = "SIGILL",
	[SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT", [SIGBUS] = "SIGBUS", [SIGFPE] = "SIGFPE",
	[SIGKILL] = "SIGKILL", [SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
	[SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM",
	[SIGSTKFLT] = "SIGSTKFLT", [SIGCHLD] = "SIGCHLD", [SIGCONT] = "SIGCONT",
	[SIGSTOP] = "SIGSTOP", [SIGTSTP] = "SIGTSTP", [SIGTTIN] = "SIGTTIN", [SIGTTOU] = "SIGTTOU",
	[SIGURG] = "SIGURG", [SIGXCPU] = "SIGXCPU", [SIGXFSZ] = "SIGXFSZ",
	[SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF", [SIGWINCH] = "SIGWINCH",
	[SIGIO] = "SIGIO", [SIGPWR] = "SIGPWR", [SIGSYS] = "SIGSYS",
};

const char *signame(int sig, char *buf, size_t n)
{
	if (sig > 0 && sig < (int)(sizeof signames / sizeof signames[0]) && signames[sig])
		return signames[sig];
	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, n, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, n, "signal %d", sig);
	return buf;
}

// sigparse accepts SIGURG, URG, urg, SIGRTMIN+N or a number; -1 if none.
int sigparse(const char *s)
{
	char *end;
	long n;

	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	if (strncasecmp(s, "RTMIN+", 6) == 0) {
		n = strtol(s + 6, &end, 10);
		if (*end == 0 && end != s + 6 && n >= 0 && SIGRTMIN + n <= SIGRTMAX)
			return SIGRTMIN + (int)n;
		return -1;
	}
	n = strtol(s, &end, 10);
	if (*end == 0 && end != s)
		return n >= 1 && n <= SIGRTMAX && n != SIGKILL && n != SIGSTOP ? (int)n : -1;
	for (int i = 1; i < (int)(sizeof signames / sizeof signames[0]); i++)
		if (signames[i] && strcasecmp(signames[i] + 3, s) == 0)
			return i == SIGKILL || i == SIGSTOP ? -1 : i;
	return -1;
}

void locname(const struct window *w, const struct insn *in, char *buf, size_t n)
{
	(void)w;
	snprintf(buf, n, "%s+0x%x", in->sym, in->off);
}

static const char *dwhere(const struct insn *in)
{
	return delivered(in->delivery) && in->dwhere[0] ? in->dwhere : "-";
}

void reporttable(FILE *f, const struct window *w, const struct config *c)
{
	char loc[128], sb[16];
	size_t swept = 0;

	for (size_t i = 0; i < w->nin; i++)
		swept += w->in[i].swept;
	fprintf(f, "# sigpoke: %s", signame(c->sig, sb, sizeof sb));
	for (size_t i = 0; swept == 1 && i < w->nin; i++) {
		if (w->in[i].swept) {
			locname(w, &w->in[i], loc, sizeof loc);
			fprintf(f, " at %s", loc);
		}
	}
	for (size_t i = 0; swept != 1 && i < w->nfn; i++)
		fprintf(f, "%s%s", i ? ", " : " at each instruction of ", w->fn[i].name);
	fprintf(f, " in %s\n", c->prog);
	fprintf(f, "%-24s %-24s %-10s %-11s %-16s %-28s %s\n", "FUNCTION", "LOCATION", "ADDRESS",
	    "DELIVERY", "CLASS", "DELIVERED AT", "INSTRUCTION");
	for (size_t i = 0; i < w->nin; i++) {
		const struct insn *in = &w->in[i];
		if (!in->swept)
			continue;
		locname(w, in, loc, sizeof loc);
		fprintf(f, "%-24s %-24s 0x%-8lx %-11s %-16s %-28s %s", w->fn[in->fn].name, loc,
		    (unsigned long)in->addr, deliveryname(in->delivery), classname(in->cls),
		    dwhere(in), in->text);
		if (in->detail[0] && (in->cls != C_CLEAN || !delivered(in->delivery)))
			fprintf(f, "  ; %s", in->detail);
		fputc('\n', f);
	}
}

static void tsvfield(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s == '\t' || *s == '\n' ? ' ' : *s, f);
}

int reporttsv(const char *path, const struct window *w, const struct config *c)
{
	FILE *f = fopen(path, "we");

	(void)c;
	if (f == NULL)
		return -errno;
	fprintf(f, "function\tlocation\taddress\tdelivery\tclass\tdelivered_at\trun\tinstruction"
	    "\tdetail\n");
	for (size_t i = 0; i < w->nin; i++) {
		const struct insn *in = &w->in[i];
		char loc[128];
		locname(w, in, loc, sizeof loc);
		fprintf(f, "%s\t%s\t0x%lx\t%s\t%s\t%s\t%d\t", w->fn[in->fn].name, loc,
		    (unsigned long)in->addr, deliveryname(in->delivery), classname(in->cls), dwhere(in),
		    in->run);
		tsvfield(f, in->text);
		fputc('\t', f);
		tsvfield(f, in->detail);
		fputc('\n', f);
	}
	return fclose(f) == 0 ? 0 : -errno;
}

static void xml(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f); break;
		}
	}
}

enum { CELLW = 9, CELLH = 20, PERROW = 96, CHARW = 8, MARGIN = 12, ROWGAP = 6 };

// shown: the legend lists the kinds present, and always the main three.
static int shown(int k, const size_t *count)
{
	return count[k] > 0 || k == D_AT || k == D_N + C_FATAL || k == D_NOTREACHED;
}

int reportsvg(const char *path, const struct window *w, const struct config *c)
{
	size_t count[K_N] = { 0 }, rows = 0, label = 0;
	char loc[128], sb[16];
	int width, y, height, nlegend = 0;
	FILE *f = fopen(path, "we");

	if (f == NULL)
		return -errno;
	for (size_t i = 0; i < w->nfn; i++) {
		rows += w->fn[i].n ? (w->fn[i].n + PERROW - 1) / PERROW : 1;
		if (strlen(w->fn[i].name) + 8 > label)
			label = strlen(w->fn[i].name) + 8;
	}
	for (size_t i = 0; i < w->nin; i++)
		count[cellkind(&w->in[i])]++;
	for (int k = 0; k < K_N; k++)
		nlegend += colours[k] != NULL && shown(k, count);
	width = 2 * MARGIN + (int)label * CHARW + PERROW * CELLW;
	height = MARGIN + 28 + (int)(rows * (CELLH + ROWGAP) + w->nfn * 4) + 16 + 18 * nlegend + MARGIN;
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	    "font-family=\"monospace\" font-size=\"12\">\n", width, height);
	fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"14\">sigpoke: %s at each instruction, ",
	    MARGIN, MARGIN + 14, signame(c->sig, sb, sizeof sb));
	xml(f, c->prog);
	fprintf(f, "</text>\n");
	y = MARGIN + 28;
	for (size_t k = 0; k < w->nfn; k++) {
		const struct func *fn = &w->fn[k];
		fprintf(f, "<g class=\"function\" id=\"fn-");
		xml(f, fn->name);
		fprintf(f, "\">\n<text x=\"%d\" y=\"%d\">", MARGIN, y + CELLH - 6);
		xml(f, fn->name);
		fprintf(f, " (%zu)</text>\n", fn->n);
		for (size_t j = 0; j < fn->n; j++) {
			const struct insn *in = &w->in[fn->first + j];
			int x = MARGIN + (int)label * CHARW + (int)(j % PERROW) * CELLW;
			int cy = y + (int)(j / PERROW) * (CELLH + ROWGAP);
			locname(w, in, loc, sizeof loc);
			fprintf(f, "<rect class=\"insn\" data-loc=\"%s\" data-delivery=\"%s\" "
			    "data-class=\"%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" "
			    "stroke=\"#ffffff\" stroke-width=\"1\"><title>", loc,
			    deliveryname(in->delivery), classname(in->cls), x, cy, CELLW, CELLH,
			    colours[cellkind(in)]);
			fprintf(f, "%s 0x%lx  ", loc, (unsigned long)in->addr);
			xml(f, in->text);
			fprintf(f, "\n%s, %s", deliveryname(in->delivery), classname(in->cls));
			if (delivered(in->delivery))
				fprintf(f, ", delivered at %s", in->dwhere);
			if (in->detail[0]) {
				fprintf(f, ": ");
				xml(f, in->detail);
			}
			fprintf(f, "</title></rect>\n");
		}
		fprintf(f, "</g>\n");
		y += (int)(fn->n ? (fn->n + PERROW - 1) / PERROW : 1) * (CELLH + ROWGAP) + 4;
	}
	y += 16;
	for (int k = 0; k < K_N; k++) {
		if (colours[k] == NULL || !shown(k, count))
			continue;
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"12\" fill=\"%s\" "
		    "stroke=\"#888888\"/><text x=\"%d\" y=\"%d\">%s (%zu)</text>\n",
		    MARGIN, y, CELLW, colours[k], MARGIN + CELLW + 6, y + 11, legend[k], count[k]);
		y += 18;
	}
	fprintf(f, "</svg>\n");
	return fclose(f) == 0 ? 0 : -errno;
}

// shquote appends s to buf, quoted for sh if it needs it.
static void shquote(char *buf, size_t n, const char *s)
{
	size_t len = strlen(buf);
	int plain = *s != 0;

	for (const char *p = s; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=/.,:@%", *p))
			plain = 0;
	if (plain) {
		snprintf(buf + len, n - len, "%s", s);
		return;
	}
	snprintf(buf + len, n - len, "'");
	for (; *s; s++) {
		len = strlen(buf);
		if (*s == '\'')
			snprintf(buf + len, n - len, "'\\''");
		else
			snprintf(buf + len, n - len, "%c", *s);
	}
	len = strlen(buf);
	snprintf(buf + len, n - len, "'");
}

static void cat(char *buf, size_t n, const char *s)
{
	size_t len = strlen(buf);

	snprintf(buf + len, n - len, "%s", s);
}

void replaycmd(char *buf, size_t n, const struct window *w, const struct insn *in,
    const struct config *c, const char *self)
{
	char loc[128], sb[16], num[32];

	buf[0] = 0;
	locname(w, in, loc, sizeof loc);
	shquote(buf, n, self);
	cat(buf, n, " --at ");
	cat(buf, n, loc);
	cat(buf, n, " --signal ");
	cat(buf, n, signame(c->sig, sb, sizeof sb));
	if (c->comm != NULL) {
		cat(buf, n, " --comm ");
		shquote(buf, n, c->comm);
	}
	if (c->timeout != 2000) {
		snprintf(num, sizeof num, " --timeout %d", c->timeout);
		cat(buf, n, num);
	}
	if (c->reach != 500) {
		snprintf(num, sizeof num, " --reach %d", c->reach);
		cat(buf, n, num);
	}
	for (char **e = c->spawn.env; e != NULL && *e != NULL; e++) {
		cat(buf, n, " -E ");
		shquote(buf, n, *e);
	}
	cat(buf, n, " --");
	for (char **a = c->spawn.argv; *a != NULL; a++) {
		cat(buf, n, " ");
		shquote(buf, n, *a);
	}
}

// reportreplay writes one replay command per unsafe instruction; returns
// how many.
int reportreplay(FILE *f, const struct window *w, const struct config *c, const char *self)
{
	char cmd[8192], loc[128];
	int k = 0;

	for (size_t i = 0; i < w->nin; i++) {
		const struct insn *in = &w->in[i];
		if (!unsafe(in->cls))
			continue;
		locname(w, in, loc, sizeof loc);
		replaycmd(cmd, sizeof cmd, w, in, c, self);
		fprintf(f, "# %s %s: %s\n%s\n", loc, classname(in->cls), in->detail, cmd);
		k++;
	}
	return k;
}

void reportsummary(FILE *f, const struct window *w, const struct sweepstats *st)
{
	size_t count[D_N] = { 0 }, nunsafe = 0, swept = 0;

	for (size_t i = 0; i < w->nin; i++) {
		if (!w->in[i].swept)
			continue;
		swept++;
		count[w->in[i].delivery]++;
		nunsafe += unsafe(w->in[i].cls);
	}
	fprintf(f, "sigpoke: summary instructions=%zu reached=%zu at=%zu deferred=%zu "
	    "undelivered=%zu notreached=%zu untested=%zu unsafe=%zu runs=%d seconds=%.2f\n",
	    swept, swept - count[D_NOTREACHED] - count[D_UNTESTED], count[D_AT],
	    count[D_DEFERRED], count[D_UNDELIVERED], count[D_NOTREACHED], count[D_UNTESTED],
	    nunsafe, st->runs, st->seconds);
}
