// spawn: start PROGRAM as a seized tracee.
//
// Order matters:
//   1. fork; the child blocks reading the go pipe;
//   2. the parent PTRACE_SEIZEs it with all options, then writes go, so the
//      child cannot exec (or install the filter) untraced;
//   3. in seccomp mode the child installs a one-instruction filter that
//      answers SECCOMP_RET_TRACE for every syscall. It must come after the
//      seize: RET_TRACE with no tracer fails every call with ENOSYS. If the
//      filter cannot be installed the child goes on without it; the tracer
//      sees no seccomp stop before the exec event and falls back;
//   4. execvp; on failure the child writes errno to the error pipe (close on
//      exec, so a successful exec closes it) and exits 127.
//
// PTRACE_O_EXITKILL: if stackcheck dies, every tracee dies with it, rather
// than running on with a filter that now fails all its syscalls.
//
// Unprivileged, installing a filter needs no_new_privs, which stops setuid
// programs from gaining privileges; root does not need it. Use -m syscall
// for such programs.

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "stackcheck.h"

enum {
	OPTIONS = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK |
	    PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_TRACESECCOMP |
	    PTRACE_O_EXITKILL,
};

static void installfilter(void)
{
	struct sock_filter trace[] = {
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
	};
	struct sock_fprog prog = { .len = 1, .filter = trace };

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0)
		return;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
		syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

// preload puts the libc shim of -l first in LD_PRELOAD; the environment
// carries it to every program the tree execs.
static void preload(const char *shim)
{
	const char *old = getenv("LD_PRELOAD");
	char buf[8192];

	if (old != NULL && *old != 0) {
		snprintf(buf, sizeof buf, "%s:%s", shim, old);
		shim = buf;
	}
	setenv("LD_PRELOAD", shim, 1);
}

// child runs in the forked child; never returns.
static void child(char **argv, int mode, int go, int err)
{
	char c;
	int e;

	if (read(go, &c, 1) != 1)
		_exit(127);
	if (tr.preload != NULL)
		preload(tr.preload);
	if (mode == MODE_SECCOMP)
		installfilter();
	execvp(argv[0], argv);
	e = errno;
	if (write(err, &e, sizeof e) < 0)
		_exit(127);
	_exit(127);
}

// spawn starts argv seized and returns its pid (or -errno); *errfd receives
// the read end of the error pipe for spawnerror.
pid_t spawn(char **argv, int mode, int *errfd)
{
	int go[2], err[2];
	pid_t pid;

	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(err, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(go[1]);
		close(err[0]);
		child(argv, mode, go[0], err[1]);
	}
	close(go[0]);
	close(err[1]);
	if (ptrace(PTRACE_SEIZE, pid, 0, OPTIONS) < 0) {
		int e = errno;
		kill(pid, SIGKILL);
		close(go[1]);
		close(err[0]);
		return -e;
	}
	if (write(go[1], "g", 1) != 1) {
		int e = errno;
		kill(pid, SIGKILL);
		return -e;
	}
	close(go[1]);
	*errfd = err[0];
	return pid;
}

// spawnerror returns the errno of a failed exec, or 0 if the exec happened.
// Call it once the child is gone: the pipe then reads either that errno or
// end-of-file.
int spawnerror(int errfd)
{
	int e;

	if (read(errfd, &e, sizeof e) != sizeof e)
		e = 0;
	close(errfd);
	return e;
}
