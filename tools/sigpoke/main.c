// sigpoke: deliver a signal at every instruction of a window of functions
// and record, per instruction, what the program made of it. See
// docs/sigpoke.md.
//
// main parses the arguments, resolves PROGRAM, the window and --at before
// anything runs (a typo is a usage error, not a failed sweep), runs the
// sweep and writes the report and the records. sigpoke knows no runtime:
// the window is always named on the command line. Exit status:
//   0  no unsafe instruction;   1  unsafe instructions found;
//   2  usage error (unknown symbol, PROGRAM not found, bad signal, ...);
//   3  the sweep itself failed (PROGRAM would not start under ptrace, or
//      the records could not be written).

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sigpoke.h"

static const char shortusage[] =
    "usage: sigpoke (-w FUNCS | -a LOC) [-s SIGNAL] [-c COMM] [-E VAR=VAL]... [-o DIR]\n"
    "               [--records FILE] [-t MS] [--reach MS] [--settle MS] [--cover MS]\n"
    "               [--max-seconds S] [--sample N [--seed S]] [--no-inline] [--list] [-qv]\n"
    "               [--binary PROGRAM | PROGRAM] [ARGS...]\n";

static const char usage[] =
    "Run PROGRAM under ptrace; stop a thread at each instruction of the window in\n"
    "turn, send it SIGNAL exactly there, let the program go on and record the\n"
    "signal's delivery and the run's class. A run that dies is restarted and the\n"
    "sweep goes on.\n"
    "\n"
    "  -w, --window FUNCS   comma-separated function symbols to sweep, with their\n"
    "                       inlined copies\n"
    "  -a, --at LOC         poke one instruction only (replay): FUNC+0xOFF, FUNC,\n"
    "                       or a link-time address 0xADDR\n"
    "  -s, --signal SIG     SIGURG (default), URG, 23, SIGRTMIN+N\n"
    "  -c, --comm NAME      only threads whose name (/proc/.../comm) is NAME\n"
    "  -E, --env VAR=VAL    set VAR in PROGRAM's environment (repeatable)\n"
    "  -o, --out DIR        write records.jsonl, table.txt, results.tsv, window.svg,\n"
    "                       replay.sh and logs/run-N.log (PROGRAM's output, one per\n"
    "                       run) to DIR\n"
    "      --records FILE   write the records (JSON lines: cover, poke, summary) to\n"
    "                       FILE too\n"
    "  -t, --timeout MS     wait at most MS for a delivery, a handler's return\n"
    "                       (2000)\n"
    "      --reach MS       wait at most MS for a thread to hit an instruction\n"
    "                       still to be poked; twice (fresh run) before giving up\n"
    "                       on it (500)\n"
    "      --settle MS      let PROGRAM run MS after each handler returns (5; 300\n"
    "                       with --at)\n"
    "      --cover MS       length of each of the two coverage phases (100), the\n"
    "                       first counted from the window's first hit\n"
    "      --max-seconds S  start no poke S seconds after sigpoke started (the poke\n"
    "                       under way finishes); what is left is untested\n"
    "      --sample N       poke N instructions of the window drawn at random from\n"
    "                       --seed; the others are untested\n"
    "      --seed S         the seed of --sample (default: from the clock; printed)\n"
    "      --binary PROG    PROGRAM, when it is more convenient as an option\n"
    "      --no-inline      only the functions' out-of-line copies, not the copies\n"
    "                       inlined into other functions (found through DWARF)\n"
    "      --list           print the window (records: one insn per instruction,\n"
    "                       then window) on stdout and exit 0; PROGRAM is not run\n"
    "  -q, --quiet          no per-instruction table on stdout\n"
    "  -v, --verbose        a line per poke on stderr\n"
    "\n"
    "Exit status: 0 no unsafe instruction, 1 unsafe instructions found, 2 usage\n"
    "error, 3 the sweep failed.\n";

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "sigpoke: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s(sigpoke -h for help)\n", shortusage);
	exit(XUSAGE);
}

static double secondsarg(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == 0 || *end != 0 || !(v > 0) || v > 86400 * 7)
		die("bad --max-seconds %s: want seconds, more than 0", s);
	return v;
}

static long longarg(const char *s, const char *what, long min)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	if (*s == 0 || *end != 0 || v < min)
		die("bad %s: want a whole number", what);
	return (long)v;
}

static int intarg(const char *s, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == 0 || *end != 0 || v < 0 || v > 3600000)
		die("bad %s: want milliseconds", what);
	return (int)v;
}

// findprog resolves prog as execvp would; the result is malloc'd.
static char *findprog(const char *prog)
{
	const char *path = getenv("PATH"), *p, *end;
	char buf[PATH_MAX];

	if (strchr(prog, '/') != NULL)
		return access(prog, X_OK) == 0 ? realpath(prog, NULL) : NULL;
	if (path == NULL)
		path = "/bin:/usr/bin";
	for (p = path;; p = end + 1) {
		end = strchrnul(p, ':');
		snprintf(buf, sizeof buf, "%.*s%s%s", (int)(end - p), p, end > p ? "/" : "", prog);
		if (access(buf, X_OK) == 0)
			return realpath(buf, NULL);
		if (*end == 0)
			return NULL;
	}
}

// splitnames splits a comma-separated list in place.
static char **splitnames(char *list, size_t *n)
{
	char **v = calloc(strlen(list) / 2 + 2, sizeof *v), *save = NULL, *name;

	*n = 0;
	for (name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save))
		v[(*n)++] = name;
	return v;
}

static int rmentry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int mkdirs(const char *dir)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof buf, "%s", dir);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		mkdir(buf, 0755);
		*p = '/';
	}
	return mkdir(buf, 0755) == 0 || errno == EEXIST ? 0 : -errno;
}

// writerecords writes the sweep's records to path; -1 if it cannot.
static int writerecords(const char *path, const struct window *w, const struct config *c,
    const struct sweepstats *st)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		fprintf(stderr, "sigpoke: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	recordcover(fd, w, st);
	recordpokes(fd, w);
	recordsummary(fd, w, c, st);
	return close(fd);
}

static void writeout(const char *out, const struct window *w, const struct config *c,
    const struct sweepstats *st, const char *self)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/records.jsonl", out);
	writerecords(path, w, c, st);
	snprintf(path, sizeof path, "%s/table.txt", out);
	if ((f = fopen(path, "we")) != NULL) {
		reporttable(f, w, c);
		fclose(f);
	}
	snprintf(path, sizeof path, "%s/results.tsv", out);
	reporttsv(path, w, c);
	snprintf(path, sizeof path, "%s/window.svg", out);
	reportsvg(path, w, c);
	snprintf(path, sizeof path, "%s/replay.sh", out);
	if ((f = fopen(path, "we")) != NULL) {
		fprintf(f, "#!/bin/sh\n# sigpoke: one command per unsafe instruction; each "
		    "repeats that single poke.\n");
		reportreplay(f, w, c, self);
		fclose(f);
		chmod(path, 0755);
	}
}

// The command line, once parsed.
struct args {
	struct config c;
	const char *win, *loc, *out, *records;
	int quiet, inl, list, seeded;
	double maxseconds;
};

static const struct option longopts[] = {
	{ "window", required_argument, NULL, 'w' },
	{ "at", required_argument, NULL, 'a' },
	{ "signal", required_argument, NULL, 's' },
	{ "comm", required_argument, NULL, 'c' },
	{ "env", required_argument, NULL, 'E' },
	{ "out", required_argument, NULL, 'o' },
	{ "records", required_argument, NULL, 'r' },
	{ "timeout", required_argument, NULL, 't' },
	{ "settle", required_argument, NULL, 'S' },
	{ "cover", required_argument, NULL, 'C' },
	{ "reach", required_argument, NULL, 'R' },
	{ "binary", required_argument, NULL, 'b' },
	{ "no-inline", no_argument, NULL, 'I' },
	{ "list", no_argument, NULL, 'L' },
	{ "max-seconds", required_argument, NULL, 'M' },
	{ "sample", required_argument, NULL, 'N' },
	{ "seed", required_argument, NULL, 'D' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

// parse fills a from the options and returns PROGRAM's argv, PROGRAM
// resolved (an absolute path when it was given as one).
static char **parse(int argc, char **argv, struct args *a)
{
	const char *binary = NULL;
	char **env = calloc(argc + 1, sizeof *env), **pargv;
	size_t nenv = 0, k = 0;
	int opt;

	a->c = (struct config){ .sig = SIGURG, .reach = 500, .timeout = 2000, .settle = -1,
	    .cover = 100, .spawn.env = env };
	a->inl = 1;
	while ((opt = getopt_long(argc, argv, "+w:a:s:c:E:o:t:qvh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'w': a->win = optarg; break;
		case 'a': a->loc = optarg; break;
		case 's':
			if ((a->c.sig = sigparse(optarg)) < 0)
				die("bad signal name %s (want e.g. SIGURG, URG, 23)", optarg);
			break;
		case 'c': a->c.comm = optarg; break;
		case 'E':
			if (strchr(optarg, '=') == NULL || optarg[0] == '=')
				die("bad -E %s: want VAR=VALUE", optarg);
			env[nenv++] = optarg;
			break;
		case 'o': a->out = optarg; break;
		case 'r': a->records = optarg; break;
		case 't': a->c.timeout = intarg(optarg, "--timeout"); break;
		case 'S': a->c.settle = intarg(optarg, "--settle"); break;
		case 'C': a->c.cover = intarg(optarg, "--cover"); break;
		case 'R': a->c.reach = intarg(optarg, "--reach"); break;
		case 'b': binary = optarg; break;
		case 'I': a->inl = 0; break;
		case 'L': a->list = 1; break;
		case 'M': a->maxseconds = secondsarg(optarg); break;
		case 'N': a->c.sample = longarg(optarg, "--sample", 1); break;
		case 'D': a->c.seed = longarg(optarg, "--seed", 0); a->seeded = 1; break;
		case 'q': a->quiet = 1; break;
		case 'v': a->c.verbose = 1; break;
		case 'h': fputs(shortusage, stdout); fputs(usage, stdout); exit(0);
		default:
			fprintf(stderr, "%s(sigpoke -h for help)\n", shortusage);
			exit(XUSAGE);
		}
	}
	if (a->win != NULL && a->loc != NULL)
		die("%s", "-w and --at exclude each other");
	if (a->win == NULL && a->loc == NULL)
		die("%s", "no window: name its functions with -w FUNCS, or one instruction with --at");
	if (a->loc != NULL && (a->c.sample || a->seeded))
		die("%s", "--at pokes one instruction: no --sample or --seed");
	if (a->seeded && !a->c.sample)
		die("%s", "--seed draws the sample: give --sample N too");
	if (binary == NULL && optind >= argc)
		die("%s", "no PROGRAM");
	if (a->c.settle < 0)
		a->c.settle = a->loc != NULL ? 300 : 5;
	pargv = calloc(argc - optind + 2, sizeof *pargv);
	pargv[k++] = binary != NULL ? (char *)binary : argv[optind++];
	while (optind < argc)
		pargv[k++] = argv[optind++];
	char *prog = findprog(pargv[0]);
	if (prog == NULL)
		die("%s: program not found or not executable", pargv[0]);
	if (strchr(pargv[0], '/') != NULL)
		pargv[0] = prog;
	a->c.prog = prog;
	return pargv;
}

// mkwindow builds the window (or the one instruction of --at, whose index
// it returns; else (size_t)-1).
static size_t mkwindow(struct window *w, const struct elfsyms *e, const struct args *a)
{
	char err[512];

	if (a->loc != NULL) {
		long i = windowat(w, e, a->loc, err, sizeof err);
		if (i < 0)
			die("%s", err);
		return (size_t)i;
	}
	size_t n;
	char **names = splitnames(strdup(a->win), &n);
	if (windowbuild(w, e, a->c.prog, names, n, a->inl, err, sizeof err) < 0)
		die("%s", err);
	return (size_t)-1;
}

// bound applies --max-seconds (counted from t0, sigpoke's start) and
// --sample; a seed not given comes from the clock, and is printed so the
// same sample can be drawn again.
static void bound(struct args *a, struct window *w, int64_t t0)
{
	if (a->maxseconds > 0)
		a->c.deadline = t0 + (int64_t)(a->maxseconds * 1e9);
	if (a->c.sample && !a->seeded)
		a->c.seed = (now() ^ (int64_t)getpid() << 16) & 0x7fffffff;
	windowsample(w, a->c.sample, a->c.seed);
	if (a->c.sample)
		fprintf(stderr, "[sigpoke] SAMPLE n=%ld of=%zu seed=%lld\n", a->c.sample, w->nin,
		    (long long)a->c.seed);
}

// logdir makes the folder for the runs' output: DIR/logs, or a temporary
// one (1 returned) that main removes at the end.
static int logdir(const char *out, char *buf, size_t n)
{
	if (out != NULL) {
		snprintf(buf, n, "%s/logs", out);
		if (mkdirs(out) < 0 || mkdirs(buf) < 0)
			die("cannot create %s", buf);
		return 0;
	}
	snprintf(buf, n, "%s/sigpoke.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(buf) == NULL)
		die("cannot create a directory for the logs in %s", "$TMPDIR");
	return 1;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	char self[PATH_MAX], logs[PATH_MAX], err[512];
	struct elfsyms syms;
	struct window w;
	struct sweepstats st = { 0 };
	struct config *c = &a.c;
	size_t only;
	int tmplogs, ret;
	int64_t t0 = now();

	c->spawn.argv = parse(argc, argv, &a);
	if (elfload(c->prog, &syms, err, sizeof err) < 0)
		die("%s", err);
	only = mkwindow(&w, &syms, &a);
	st.setupseconds = (now() - t0) / 1e9;
	fprintf(stderr, "[sigpoke] WINDOW instructions=%zu strips=%zu setup_ms=%.1f\n",
	    w.nin, w.nfn, st.setupseconds * 1000);
	bound(&a, &w, t0);
	if (a.list) {
		recordwindow(1, &w, st.setupseconds);
		return XCLEAN;
	}
	tmplogs = logdir(a.out, logs, sizeof logs);
	if (realpath("/proc/self/exe", self) == NULL)
		snprintf(self, sizeof self, "%s", argv[0]);
	c->syms = &syms;
	c->spawn.logdir = logs;
	c->spawn.entry = syms.entry;
	c->spawn.pie = syms.pie;

	ret = sweep(c, &w, only, &st);
	if (ret == 0) {
		if (!a.quiet)
			reporttable(stdout, &w, c);
		if (a.out != NULL)
			writeout(a.out, &w, c, &st, self);
		if (a.records != NULL && writerecords(a.records, &w, c, &st) < 0)
			ret = -1;
		if (reportreplay(stdout, &w, c, self) > 0 && a.out != NULL)
			printf("# replay commands also in %s/replay.sh\n", a.out);
		reportsummary(stdout, &w, &st);
	}
	if (tmplogs)
		nftw(logs, rmentry, 16, FTW_DEPTH | FTW_PHYS);
	if (ret < 0)
		return XTRACE;
	for (size_t i = 0; i < w.nin; i++)
		if (w.in[i].swept && unsafe(w.in[i].cls))
			return XUNSAFE;
	return XCLEAN;
}
