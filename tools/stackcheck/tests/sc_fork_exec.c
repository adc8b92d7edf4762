// sc_fork_exec: processes made by fork, vfork (posix_spawn) and exec.
//
//   exec       fork + exec of this program in "child" mode (a syscall on a
//              MAP_STACK stack, then exit 0), and posix_spawn of the same
//              (glibc: clone(CLONE_VM|CLONE_VFORK) on a MAP_STACK stack): clean
//   child-bad  fork, and the child (no exec) makes a syscall on a malloc'd
//              stack: the child is killed, the parent reports and exits 0;
//              stackcheck still exits 3
//   child      the exec'd side of "exec"

#include <spawn.h>
#include <sys/wait.h>

#include "sctest.h"

extern char **environ;

enum { STACKSIZE = 64 * 1024 };

static int waitchild(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) < 0)
		sc_fail("waitpid");
	if (WIFSIGNALED(st))
		sc_event("CHILD pid=%d signaled=%d", (int)pid, WTERMSIG(st));
	else
		sc_event("CHILD pid=%d exited=%d", (int)pid, WEXITSTATUS(st));
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int child(void)
{
	char *stk = sc_map(STACKSIZE, MAP_STACK);

	sc_call_on_stack(sc_top(stk, STACKSIZE), sc_getpid, NULL);
	sc_event("CHILD-DONE pid=%d", (int)getpid());
	return 0;
}

static int forkexec(char *self)
{
	char *args[] = { self, "child", NULL };
	pid_t pid = fork();
	int rc;

	if (pid < 0)
		sc_fail("fork");
	if (pid == 0) {
		execv("/proc/self/exe", args);
		_exit(127);
	}
	if ((rc = waitchild(pid)) != 0)
		return rc;
	if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ) != 0)
		sc_fail("posix_spawn");
	return waitchild(pid);
}

static void childbad(void)
{
	pid_t pid = fork();

	if (pid < 0)
		sc_fail("fork");
	if (pid == 0) {
		char *stk = malloc(STACKSIZE);
		sc_stack_event("malloc", stk, STACKSIZE);
		sc_call_on_stack(sc_top(stk, STACKSIZE), sc_getpid, NULL);
		_exit(0);
	}
	waitchild(pid);
}

int main(int argc, char **argv)
{
	static const char *const modes[] = { "exec", "child-bad", "child", NULL };
	const char *mode = sc_mode(argc, argv, modes);

	if (strcmp(mode, "child") == 0)
		return child();
	if (strcmp(mode, "exec") == 0 && forkexec(argv[0]) != 0)
		return SC_SETUP;
	if (strcmp(mode, "child-bad") == 0)
		childbad();
	sc_event("DONE");
	return 0;
}
