/*
 * replay_main.c: the standalone replay driver — runs fuzz inputs without
 * any fuzzer, each in its own process, and says how each one ended.
 *
 *   <target> [options] FILE|DIR...
 *     --times N          run every input N times (fresh processes); the
 *                        outcomes must agree (default 1)
 *     --expect OUTCOME   every input must end in OUTCOME
 *     --manifest FILE    expected outcome per input and variant (corpora/MANIFEST)
 *     --allow-illegal    keep the operations a correct runtime must refuse
 *     --timeout SECONDS  per run (default 20)
 *     --verbose          show the runs' stderr
 *     --print            print the decoded programs instead of running them
 *     --asm IN OUT...    assemble each text program IN into the input OUT
 *     --one FILE         run FILE in this process (what each child does)
 *     --bench N FILE...  run the inputs N rounds in this process; executions/s
 *     --stability N FILE...  (stab build) run each input N times in one
 *                        process and report the coverage counters that differ
 *                        between runs, as AFL++ counts stability
 *
 * Outcomes: "clean"; "fatal: <message>" (a runtime fatal error);
 * "fuzz-<class>: <message>" (the interpreter's findings: invariant, wrong,
 * hang, harness); "signal: <NAME>" (killed by a signal with no message);
 * "timeout" (the replay's own limit); "exit <n>". Expected outcomes match
 * with numbers blanked ('#'). Exit status: 0 every run as expected (or no
 * expectation) and every input deterministic; 1 otherwise; 2 usage.
 *
 * Manifest lines: "<target>/<file> <variant> <flags|-> <outcome...>", where
 * variant is fixed or a REGRESS name and flags "illegal" means
 * --allow-illegal. An input the manifest does not list must be clean on the
 * fixed runtime and is not checked on a variant.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "interp.h"
#include "record.h"
#include "sq_harness.h"

#ifndef FZ_TARGET
#define FZ_TARGET "sq_ops"
#endif
#ifndef FZ_UNBOUND
#define FZ_UNBOUND 0
#endif
#ifndef FZ_ASYNC_TARGET
#define FZ_ASYNC_TARGET 0
#endif
#ifndef FZ_REFUSE_TARGET
#define FZ_REFUSE_TARGET 0
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The target's decoding mode, plus illegal operations when asked. */
static int mode(int illegal)
{
	return (FZ_ASYNC_TARGET ? FZ_ASYNC : 0) | (illegal ? FZ_ILLEGAL : 0);
}

enum { MAXIN = 1 << 20, MAXERR = 1 << 16 };

/* One execution in this process, as the target runs it: sq_refuse hands
 * an illegal program to a child (fz_refuse_run). */
static void exec_one(const uint8_t *buf, size_t n, int m)
{
	if (FZ_REFUSE_TARGET && !(m & FZ_ILLEGAL) && fz_refuse_run(buf, n))
		return;
	fz_exec(buf, n, m);
}

static struct {
	int times, allow_illegal, verbose, timeout;
	const char *expect, *manifest;
} opt = { 1, 0, 0, 20, NULL, NULL };

static void usage(void)
{
	fprintf(stderr, "usage: %s [--times N] [--expect OUTCOME] [--manifest FILE] [--allow-illegal]\n"
		"       [--timeout S] [--verbose] [--print] FILE|DIR...\n"
		"       %s --asm IN OUT [IN OUT]... | --one FILE\n", FZ_TARGET, FZ_TARGET);
	exit(2);
}

static long readfile(const char *path, uint8_t *buf, size_t max)
{
	int fd = open(path, O_RDONLY);
	long n = 0, r;

	if (fd < 0)
		return -1;
	while ((size_t)n < max && (r = read(fd, buf + n, max - (size_t)n)) > 0)
		n += r;
	close(fd);
	return n;
}

static const char *variant(void)
{
	return sq_variant();
}

/* ---- one run, in this process ---------------------------------------------------- */

extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

/* Where a fatal error dies: print the frames that led there, for triage. */
static void frames(void)
{
	void *pc[24];
	char buf[256];
	int n = backtrace(pc, 24);

	for (int i = 0; i < n; i++) {
		Dl_info di;

		if (!dladdr(pc[i], &di) || !di.dli_fname)
			continue;
		sq_rec r;

		snprintf(buf, sizeof buf, "%#lx", (unsigned long)((uintptr_t)pc[i] - (uintptr_t)di.dli_fbase - 1));
		rec_begin(&r, "frame");
		rec_str(&r, "module", strrchr(di.dli_fname, '/') ? strrchr(di.dli_fname, '/') + 1 : di.dli_fname);
		rec_str(&r, "offset", buf);
		rec_end(&r, 2);
	}
}

static void on_abrt(int sig)
{
	struct sigaction sa;

	frames();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	__sigaction(sig, &sa, NULL);
	raise(sig);
}

static int one(const char *path)
{
	static uint8_t buf[MAXIN];
	long n = readfile(path, buf, sizeof buf);
	struct sigaction sa;
	void *warm[2];

	if (n < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 2;
	}
	/* The fatal-error path hands SIGABRT to this handler (oracle.c). */
	backtrace(warm, 2);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_abrt;
	sa.sa_flags = SA_ONSTACK;
	__sigaction(SIGABRT, &sa, NULL);
	setenv("FZ_QUIET", "1", 0);
	setenv("FZ_LEAK", "1", 0);	/* one execution: look at its leaks at once */
	if (opt.allow_illegal) {
		fz_init(!FZ_UNBOUND, !FZ_ASYNC_TARGET);
		fz_exec(buf, (size_t)n, mode(1));
	} else {
		LLVMFuzzerTestOneInput(buf, (size_t)n);	/* exactly what the fuzzers run */
	}
	return 0;
}

/* ---- many runs, each in a child ------------------------------------------------------ */

/* How one run ended: outcome is the line the manifest and --expect match
 * ("clean", "fatal: <msg>", "fuzz-<class>: <msg>", "signal: SIG<X>",
 * "timeout", "exit <n>"); kind and message say the same for the record. */
typedef struct Run {
	char outcome[300];
	const char *kind;
	int msgoff;		/* the message: outcome + msgoff */
	char *err;
	size_t nerr;
} Run;

static void blanknum(const char *in, char *out, size_t max)
{
	size_t o = 0;

	while (*in && o + 1 < max) {
		if (isdigit((unsigned char)*in) ||
		    (in[0] == '0' && in[1] == 'x')) {
			if (in[0] == '0' && in[1] == 'x')
				in += 2;
			while (isxdigit((unsigned char)*in))
				in++;
			out[o++] = '#';
			continue;
		}
		out[o++] = *in++;
	}
	out[o] = 0;
}

static int same(const char *a, const char *b)
{
	char x[300], y[300];

	blanknum(a, x, sizeof x);
	blanknum(b, y, sizeof y);
	return strcmp(x, y) == 0;
}

static const char *line_after(const char *err, const char *prefix, char *out, size_t max)
{
	const char *p = err;
	size_t k = strlen(prefix);

	for (; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (!strncmp(p, prefix, k)) {
			const char *e = strchr(p, '\n');
			size_t len = e ? (size_t)(e - p - k) : strlen(p + k);

			if (len >= max)
				len = max - 1;
			memcpy(out, p + k, len);
			out[len] = 0;
			return out;
		}
	}
	return NULL;
}

static void classify(Run *r, int status, int timedout)
{
	char msg[256];

	if (timedout) {
		snprintf(r->outcome, sizeof r->outcome, "timeout");
		r->kind = "timeout", r->msgoff = 0;
	} else if (line_after(r->err, "fatal error: ", msg, sizeof msg)) {
		snprintf(r->outcome, sizeof r->outcome, "fatal: %s", msg);
		r->kind = "fatal", r->msgoff = 7;
	} else if (line_after(r->err, "fuzz: ", msg, sizeof msg) && strncmp(msg, "note:", 5)) {
		snprintf(r->outcome, sizeof r->outcome, "fuzz-%s", msg);
		r->kind = "finding", r->msgoff = 5;
	} else if (WIFSIGNALED(status)) {
		snprintf(r->outcome, sizeof r->outcome, "signal: SIG%s",
			sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
		r->kind = "signal", r->msgoff = 8;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		snprintf(r->outcome, sizeof r->outcome, "clean");
		r->kind = "clean", r->msgoff = 5;
	} else {
		snprintf(r->outcome, sizeof r->outcome, "exit %d", WEXITSTATUS(status));
		r->kind = "exit", r->msgoff = 0;
	}
}

static void runchild(const char *path, Run *r)
{
	int pfd[2], status = 0, timedout = 0;
	pid_t pid;
	int64_t deadline;

	r->err = malloc(MAXERR + 1);
	r->nerr = 0;
	if (!r->err || pipe(pfd) < 0) {
		perror("pipe");
		exit(2);
	}
	fflush(NULL);
	if ((pid = fork()) == 0) {
		setpgid(0, 0);
		close(pfd[0]);
		dup2(pfd[1], 2);
		close(pfd[1]);
		_exit(one(path));
	}
	close(pfd[1]);
	deadline = fz_now() + (int64_t)opt.timeout * 1000000000LL;
	for (;;) {
		struct pollfd p = { pfd[0], POLLIN, 0 };
		int64_t left = deadline - fz_now();
		ssize_t k;

		if (left <= 0) {
			timedout = 1;
			kill(-pid, SIGABRT);	/* the runtime's dump, if it can */
			usleep(200000);
			kill(-pid, SIGKILL);
			deadline = fz_now() + 5000000000LL;
			continue;
		}
		if (poll(&p, 1, (int)(left / 1000000) + 1) <= 0)
			continue;
		k = read(pfd[0], r->err + r->nerr, MAXERR - r->nerr);
		if (k <= 0)
			break;
		r->nerr += (size_t)k;
		if (r->nerr >= MAXERR)	/* keep the head; drain the rest */
			r->nerr = MAXERR - 4096;
	}
	close(pfd[0]);
	r->err[r->nerr] = 0;
	waitpid(pid, &status, 0);
	kill(-pid, SIGKILL);
	classify(r, status, timedout);
}

/* ---- expectations ---------------------------------------------------------------------- */

static const char *basename_of(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* The manifest's outcome for path on this variant (NULL: unchecked), and
 * whether it wants illegal operations kept. */
static const char *expected(const char *path, int *illegal)
{
	static char out[300];
	char key[512], line[1024];
	FILE *f;

	*illegal = opt.allow_illegal;
	if (opt.expect)
		return opt.expect;
	snprintf(key, sizeof key, "%s/%s", FZ_TARGET, basename_of(path));
	if (opt.manifest && (f = fopen(opt.manifest, "r"))) {
		while (fgets(line, sizeof line, f)) {
			char k[512], v[64], fl[64];
			int off = 0;

			if (line[0] == '#' || sscanf(line, "%511s %63s %63s %n", k, v, fl, &off) < 3 || !off)
				continue;
			if (strcmp(k, key) || strcmp(v, variant()))
				continue;
			line[strcspn(line, "\n")] = 0;
			snprintf(out, sizeof out, "%s", line + off);
			*illegal = strstr(fl, "illegal") != NULL;
			fclose(f);
			return out;
		}
		fclose(f);
	}
	return strcmp(variant(), "fixed") ? NULL : "clean";
}

static int failures, runs_total;

static void replay(const char *path)
{
	int illegal;
	const char *want = expected(path, &illegal);
	Run first = { "", NULL, 0, NULL, 0 };
	sq_rec rec;
	int det = 1, ok = 1;

	opt.allow_illegal = illegal;
	for (int i = 0; i < opt.times; i++) {
		Run r;

		runchild(path, &r);
		runs_total++;
		if (i == 0) {
			first = r;
		} else {
			if (strcmp(r.outcome, first.outcome) && !same(r.outcome, first.outcome))
				det = 0;
			if (!det || opt.verbose)
				printf("%s: run %d: %s\n", path, i + 1, r.outcome);
			free(r.err);
		}
	}
	if (want && !same(first.outcome, want))
		ok = 0;
	printf("%s: %s%s", path, first.outcome, opt.times > 1 ? (det ? " (deterministic)" : " (FLAKY)") : "");
	if (want && !ok)
		printf(" (UNEXPECTED, want: %s)", want);
	printf("\n");
	if (!ok || !det || opt.verbose)
		fprintf(stdout, "--- stderr of %s:\n%s---\n", path, first.err && first.nerr > 6000 ?
			first.err + first.nerr - 6000 : first.err ? first.err : "");
	fflush(stdout);
	/* For drivers (fuzz/run.py): the same, as a record. */
	rec_begin(&rec, "replay");
	rec_str(&rec, "file", path);
	rec_str(&rec, "target", FZ_TARGET);
	rec_str(&rec, "variant", variant());
	rec_str(&rec, "outcome", first.outcome);
	rec_str(&rec, "kind", first.kind);
	rec_str(&rec, "message", first.outcome + first.msgoff);
	rec_int(&rec, "runs", opt.times);
	rec_bool(&rec, "deterministic", det);
	rec_str(&rec, "want", want);
	rec_bool(&rec, "ok", ok);
	rec_end(&rec, 1);
	failures += !ok || !det;
	free(first.err);
	opt.allow_illegal = 0;
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void each(const char *path, void (*fn)(const char *))
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (!S_ISDIR(st.st_mode)) {
		fn(path);
		return;
	}
	if (!(d = opendir(path)))
		return;
	while ((e = readdir(d))) {
		char full[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(full, sizeof full, "%s/%s", path, e->d_name);
		if (stat(full, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		names = realloc(names, (n + 1) * sizeof *names);
		names[n++] = strdup(full);
	}
	closedir(d);
	qsort(names, n, sizeof *names, cmpstr);
	for (size_t i = 0; i < n; i++) {
		fn(names[i]);
		free(names[i]);
	}
	free(names);
}

static void printone(const char *path)
{
	static uint8_t buf[MAXIN];
	long n = readfile(path, buf, sizeof buf);

	printf("# %s (%ld bytes)\n", path, n);
	fz_print_input(buf, (size_t)(n < 0 ? 0 : n),
		mode(opt.allow_illegal) | (FZ_REFUSE_TARGET ? FZ_REFUSE : 0), stdout);
}

static int assemble_one(const char *in, const char *out)
{
	static uint8_t text[MAXIN], bin[4096];
	long n = readfile(in, text, sizeof text - 1), k;
	char err[1024];
	FILE *f;

	if (n < 0) {
		fprintf(stderr, "%s: %s\n", in, strerror(errno));
		return 2;
	}
	text[n] = 0;
	if ((k = fz_asm((char *)text, bin, sizeof bin, err, sizeof err)) < 0) {
		fprintf(stderr, "%s: %s\n", in, err);
		return 1;
	}
	if (!(f = fopen(out, "wb")) || fwrite(bin, 1, (size_t)k, f) != (size_t)k || fclose(f)) {
		fprintf(stderr, "%s: cannot write\n", out);
		return 2;
	}
	return 0;
}

/* Assemble each pair of files (IN OUT) of argv; the worst status. Many in
 * one process: a round-trip test assembles thousands. */
static int assemble(int argc, char **argv)
{
	int rc = 0;

	if (argc < 2 || argc % 2)
		usage();
	for (int i = 0; i < argc; i += 2) {
		int r = assemble_one(argv[i], argv[i + 1]);

		rc = r > rc ? r : rc;
	}
	return rc;
}

/* Run the inputs n rounds in this process, as a fuzzer does, and say how
 * fast: per wall second, and per CPU second of the whole process (every
 * thread: the rate one core would give). */
static int bench(long n, int argc, char **argv)
{
	static uint8_t buf[MAXIN];
	struct rusage r0, r1;
	long execs = 0;
	int64_t t0;
	double cpu;

	fz_init(!FZ_UNBOUND, !FZ_ASYNC_TARGET);
	getrusage(RUSAGE_SELF, &r0);
	t0 = fz_now();
	for (long i = 0; i < n; i++)
		for (int a = 0; a < argc; a++) {
			long len = readfile(argv[a], buf, sizeof buf);

			if (len < 0) {
				fprintf(stderr, "%s: %s\n", argv[a], strerror(errno));
				return 2;
			}
			int64_t e0 = fz_now(), d;

			exec_one(buf, (size_t)len, mode(opt.allow_illegal));
			execs++;
			d = fz_now() - e0;
			if (getenv("FZ_BENCH_SLOW") && d > atol(getenv("FZ_BENCH_SLOW")) * 1000)
				printf("slow: %.3f ms: %s\n", d / 1e6, argv[a]);
		}
	getrusage(RUSAGE_SELF, &r1);
	cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
	      (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
	printf("%ld executions of %d inputs in %.3fs: %.0f/s; %.3f CPU s: %.0f/s per core", execs, argc,
		(fz_now() - t0) / 1e9, execs / ((fz_now() - t0) / 1e9), cpu, cpu > 0 ? execs / cpu : 0.0);
	if (fz_cpu >= 0)
		printf("; on CPU %d\n", fz_cpu);
	else
		printf("; on every CPU\n");
	return 0;
}

#if FZ_STAB
/* ---- stability: libFuzzer-style counters, compared run to run ------------------------------ */

static uint8_t *cnt, *cntend;
static const uintptr_t *pcs;

void __sanitizer_cov_8bit_counters_init(uint8_t *b, uint8_t *e)
{
	cnt = b;
	cntend = e;
}

void __sanitizer_cov_pcs_init(const uintptr_t *b, const uintptr_t *e)
{
	(void)e;
	pcs = b;
}

/* AFL++'s buckets: a counter's class, not its value, is the coverage. */
static uint8_t bucket(uint8_t v)
{
	return v == 0 ? 0 : v == 1 ? 1 : v == 2 ? 2 : v == 3 ? 4 : v < 8 ? 8 : v < 16 ? 16 :
	       v < 32 ? 32 : v < 128 ? 64 : 128;
}

/* Each round runs every input once, in order, so that every measured run
 * of an input follows a different input (as a fuzzer's runs do): state an
 * execution leaves behind shows up as instability of the next one. */
static int stability(int n, int argc, char **argv)
{
	static uint8_t buf[MAXIN];
	size_t m = (size_t)(cntend - cnt);
	uint8_t **first = calloc((size_t)argc, sizeof *first);
	uint8_t *var = calloc(m, 1), *hit = calloc(m, 1);
	uint8_t *late = getenv("FZ_STAB_LATE") ? malloc(m) : NULL;
	Dl_info ldi;
	long nhit = 0, nvar = 0;

	fz_init(!FZ_UNBOUND, !FZ_ASYNC_TARGET);
	if (getenv("FZ_STAB_AFL")) {
		/* As AFL++ calibrates: n runs of each input in a row, the first
		 * (which follows the previous input) the reference. */
		for (int a = 0; a < argc; a++) {
			long len = readfile(argv[a], buf, sizeof buf);
			uint8_t *ref = malloc(m);
			int nv = 0;

			if (len < 0)
				continue;
			for (int r = 0; r < n; r++) {
				memset(cnt, 0, m);
				exec_one(buf, (size_t)len, mode(0));
				for (size_t i = 0; i < m; i++) {
					uint8_t b = bucket(cnt[i]);

					if (r == 0)
						ref[i] = b;
					else if (b != ref[i] && !var[i])
						var[i] = 1, nv++;
					if (b)
						hit[i] = 1;
				}
			}
			if (nv && getenv("FZ_STAB_VERBOSE"))
				printf("varies: %d new edges: %s\n", nv, argv[a]);
			free(ref);
		}
		n = 0;
	}
	for (int r = 0; r <= n && n; r++) {
		for (int a = 0; a < argc; a++) {
			long len = readfile(argv[a], buf, sizeof buf);

			if (len < 0)
				continue;
			memset(cnt, 0, m);
			exec_one(buf, (size_t)len, mode(0));
			if (late) {
				/* Coverage counted after the execution returned:
				 * threads still running when a fuzzer reads it. */
				memcpy(late, cnt, m);
				usleep(2000);
				for (size_t i = 0; i < m; i++)
					if (cnt[i] != late[i] && dladdr((void *)pcs[2 * i], &ldi))
						printf("late: %#lx\n", (unsigned long)(pcs[2 * i] -
							(uintptr_t)ldi.dli_fbase));
			}
			if (r == 0)
				continue;	/* the warm-up round */
			if (!first[a]) {
				first[a] = malloc(m);
				for (size_t i = 0; i < m; i++)
					first[a][i] = bucket(cnt[i]);
			}
			int nv = 0;

			for (size_t i = 0; i < m; i++) {
				uint8_t b = bucket(cnt[i]);

				if (b != first[a][i])
					var[i] = 1, nv++;
				if (b)
					hit[i] = 1;
			}
			if (nv && getenv("FZ_STAB_VERBOSE"))
				printf("varies: %d edges: round %d: %s\n", nv, r, argv[a]);
		}
	}
	for (size_t i = 0; i < m; i++) {
		Dl_info di;

		nhit += hit[i];
		nvar += var[i];
		if (var[i] && dladdr((void *)pcs[2 * i], &di))
			printf("unstable: %#lx\n", (unsigned long)(pcs[2 * i] - (uintptr_t)di.dli_fbase));
	}
	printf("stability: %.2f%% (%ld of %ld edges hit vary)\n",
		nhit ? 100.0 * (double)(nhit - nvar) / (double)nhit : 100.0, nvar, nhit);
	return 0;
}
#endif

int main(int argc, char **argv)
{
	int i, print = 0;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--times") && v)
			opt.times = atoi(v), i++;
		else if (!strcmp(a, "--expect") && v)
			opt.expect = v, i++;
		else if (!strcmp(a, "--manifest") && v)
			opt.manifest = v, i++;
		else if (!strcmp(a, "--timeout") && v)
			opt.timeout = atoi(v), i++;
		else if (!strcmp(a, "--allow-illegal"))
			opt.allow_illegal = 1;
		else if (!strcmp(a, "--verbose"))
			opt.verbose = 1;
		else if (!strcmp(a, "--print"))
			print = 1;
		else if (!strcmp(a, "--asm"))
			return assemble(argc - i - 1, argv + i + 1);
		else if (!strcmp(a, "--one") && v)
			return one(v);
		else if (!strcmp(a, "--bench") && v && i + 2 < argc)
			return bench(atol(v), argc - i - 2, argv + i + 2);
#if FZ_STAB
		else if (!strcmp(a, "--stability") && v && i + 2 < argc)
			return stability(atoi(v), argc - i - 2, argv + i + 2);
#endif
		else
			usage();
	}
	if (i >= argc || opt.times < 1 || opt.timeout < 1)
		usage();
	for (; i < argc; i++)
		each(argv[i], print ? printone : replay);
	if (!print) {
		sq_rec r;

		printf("%s (%s): %d runs, %d inputs not as expected or not deterministic\n",
			FZ_TARGET, variant(), runs_total, failures);
		fflush(stdout);
		rec_begin(&r, "replay_summary");
		rec_str(&r, "target", FZ_TARGET);
		rec_str(&r, "variant", variant());
		rec_int(&r, "runs", runs_total);
		rec_int(&r, "failures", failures);
		rec_end(&r, 1);
	}
	return failures ? 1 : 0;
}
