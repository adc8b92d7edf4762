// stackcheck: run a program under ptrace and kill it, as OpenBSD would, when
// a thread makes a syscall or takes a signal with its stack pointer outside
// MAP_STACK memory. See docs/stackcheck.md.
//
// main parses arguments, resolves PROGRAM before anything is forked (so a
// typo is a usage error, not a traced failure), runs the stop loop and turns
// what happened into one exit status:
//   3       stackcheck killed some traced process for a violation;
//   N       PROGRAM exited with status N;
//   128+N   PROGRAM was killed by signal N;
//   2       usage error, or PROGRAM could not be started.
//
// stackcheck ignores SIGINT and SIGQUIT, as system(3) does: the terminal
// sends them to the tracee too, which decides. SIGTERM and SIGHUP sent to
// stackcheck alone are passed on to PROGRAM. If stackcheck dies anyway, the
// kernel kills every tracee (PTRACE_O_EXITKILL).

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stackcheck.h"

struct tracer tr = {
	.mode = MODE_SECCOMP,
	.sysinfo = 1,
	.rootstatus = -1,
};

#define SHORTUSAGE "usage: stackcheck [-lq] [-o REPORT_FILE] [-m MODE] [--] PROGRAM [ARGS...]"

static const char usage[] =
    SHORTUSAGE "\n"
    "\n"
    "Run PROGRAM under ptrace, following every thread, fork and exec, and kill\n"
    "it as OpenBSD does when a syscall is made, or a signal handler is entered,\n"
    "with the stack pointer outside memory mapped with MAP_STACK.\n"
    "\n"
    "  -o, --output FILE   also write the KILL lines (and the summary) to FILE\n"
    "  -q, --quiet         print nothing but KILL lines\n"
    "  -m, --mode MODE     seccomp  stop at syscall entries only (default)\n"
    "                      syscall  stop at every syscall entry and exit\n"
    "                      regs     as syscall, reading registers instead of\n"
    "                               PTRACE_GET_SYSCALL_INFO\n"
    "  -l, --openbsd-libc  model OpenBSD's libc too: pthread_attr_setstack\n"
    "                      remaps the stack it is given as MAP_STACK (a shim,\n"
    "                      preloaded into dynamically linked programs)\n"
    "  -h, --help          this text\n"
    "\n"
    "Exit status: PROGRAM's own; 128+N if PROGRAM was killed by signal N;\n"
    "3 if stackcheck killed a traced process for a MAP_STACK violation;\n"
    "2 on a usage error or when PROGRAM cannot be started.\n";

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "stackcheck: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n" SHORTUSAGE " (stackcheck -h for help)\n");
	exit(XUSAGE);
}

// findprog reports whether execvp could find prog, with execvp's rules.
static int findprog(const char *prog)
{
	const char *path = getenv("PATH"), *p, *end;
	char buf[4096];

	if (strchr(prog, '/') != NULL)
		return access(prog, X_OK) == 0;
	if (path == NULL)
		path = "/bin:/usr/bin";
	for (p = path; ; p = end + 1) {
		end = strchrnul(p, ':');
		snprintf(buf, sizeof buf, "%.*s%s%s", (int)(end - p), p, end > p ? "/" : "", prog);
		if (access(buf, X_OK) == 0)
			return 1;
		if (*end == 0)
			return 0;
	}
}

static int parsemode(const char *s)
{
	if (strcmp(s, "seccomp") == 0)
		return MODE_SECCOMP;
	if (strcmp(s, "syscall") == 0)
		return MODE_SYSCALL;
	if (strcmp(s, "regs") == 0)
		return MODE_REGS;
	die("unknown mode '%s'", s);
	return -1;
}

// libcshim finds the shim -l preloads: built next to stackcheck itself.
static const char *libcshim(void)
{
	static char path[4096];
	char *slash;

	if (realpath("/proc/self/exe", path) == NULL || (slash = strrchr(path, '/')) == NULL)
		die("%s", "cannot find stackcheck's own path for -l");
	snprintf(slash + 1, sizeof path - (slash + 1 - path), "stackcheck-libc.so");
	if (access(path, R_OK) != 0)
		die("-l: %s is missing (make -C tools/stackcheck builds it)", path);
	return path;
}

static volatile sig_atomic_t nforwarded;

// forward passes SIGTERM or SIGHUP on to PROGRAM. With PROGRAM gone (its pid
// may already be reused) or on a second signal, stackcheck dies of it, and
// the kernel kills what is left of the tree (PTRACE_O_EXITKILL).
static void forward(int sig)
{
	if (tr.rootalive && nforwarded++ == 0) {
		kill(tr.root, sig);
		return;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void handlesignals(void)
{
	struct sigaction sa = { .sa_handler = forward };

	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);      // a closed stderr must not kill the tracer
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static int exitstatus(int errfd)
{
	int e = spawnerror(errfd);

	if (tr.nviolations > 0)
		return XKILLED;
	if (e != 0) {
		fprintf(stderr, "stackcheck: cannot run program: %s\n", strerror(e));
		return XUSAGE;
	}
	if (tr.rootstatus == -1) {
		fprintf(stderr, "stackcheck: lost track of the program's exit status\n");
		return 1;
	}
	if (WIFSIGNALED(tr.rootstatus))
		return 128 + WTERMSIG(tr.rootstatus);
	return WEXITSTATUS(tr.rootstatus);
}

static const struct option longopts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "mode", required_argument, NULL, 'm' },
	{ "openbsd-libc", no_argument, NULL, 'l' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	const char *outpath = NULL;
	int c, errfd, err;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "+o:qm:lh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			outpath = optarg;
			break;
		case 'q':
			tr.quiet = 1;
			break;
		case 'm':
			tr.mode = parsemode(optarg);
			break;
		case 'l':
			tr.preload = libcshim();
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return XUSAGE;
		}
	}
	if (optind >= argc)
		die("%s", "no PROGRAM given");
	if (!findprog(argv[optind]))
		die("%s: command not found or not executable", argv[optind]);
	if (outpath != NULL && (tr.out = fopen(outpath, "we")) == NULL)
		die("cannot open report file %s", outpath);
	tr.pagesz = sysconf(_SC_PAGESIZE);
	tr.sysinfo = tr.mode != MODE_REGS;

	pid = spawn(&argv[optind], tr.mode, &errfd);
	if (pid < 0) {
		fprintf(stderr, "stackcheck: cannot start %s: %s\n", argv[optind], strerror(-pid));
		return XUSAGE;
	}
	tr.root = pid;
	tr.rootalive = 1;
	handlesignals();
	err = traceloop(pid);
	tr.rootalive = 0;
	if (err < 0)
		fprintf(stderr, "stackcheck: waitpid: %s\n", strerror(-err));
	summary();
	return exitstatus(errfd);
}
