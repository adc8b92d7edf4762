"""Running programs: every run in its own process group, with a timeout,
and a guaranteed kill of the whole group afterwards, whatever happened.

On a timeout the group gets SIGABRT first (stackquake's runtime, and Go's
with GOTRACEBACK=crash, print their M and G dump on it), then SIGKILL after
a grace period. After every run, timed out or not, the group gets SIGKILL,
so nothing a test started outlives it.
"""
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

GRACE = 5	# seconds between the dump signal and SIGKILL

# Settings of the programs under test, never inherited from the caller's
# environment: each run says what it wants.
_OWN_PREFIXES = ("SQ_", "SC_", "FZ_")
_OWN_NAMES = ("GOMAXPROCS", "GODEBUG", "GOTRACEBACK", "GOGC")


@dataclass
class Run:
    """How a run ended. rc < 0: killed by that signal."""
    cmd: list
    rc: int
    stdout: str
    stderr: str
    elapsed: float
    timed_out: bool = False
    extra: dict = field(default_factory=dict)


def clean_env(extra=None, base=None):
    """The environment for a program under test: the caller's, without the
    settings programs under test read, plus extra."""
    env = {k: v for k, v in (os.environ if base is None else base).items()
           if not k.startswith(_OWN_PREFIXES) and k not in _OWN_NAMES}
    env.update(extra or {})
    return env


def killgroup(pid, sig=signal.SIGKILL):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run(cmd, env=None, timeout=60, preexec=None, stdin=None, dump_signal=signal.SIGABRT, cwd=None):
    """Run cmd (env is the whole environment; None: the caller's) in its own
    process group. stdin: None (/dev/null) or text to feed it."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                         env=env, text=True, errors="replace", cwd=cwd,
                         start_new_session=True, preexec_fn=preexec)
    timed_out = False
    try:
        try:
            out, err = p.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            killgroup(p.pid, dump_signal)
            try:
                out, err = p.communicate(timeout=GRACE)
            except subprocess.TimeoutExpired:
                killgroup(p.pid)
                out, err = p.communicate()
    finally:
        killgroup(p.pid)
        if p.poll() is None:	# interrupted (Ctrl-C, SIGTERM) before it ended
            p.kill()
            p.wait()
    return Run(list(cmd), p.returncode, out, err, time.monotonic() - t0, timed_out)


class Background:
    """A long-running program (a fuzz engine) writing to a log file, in its
    own process group; wait() ends it by the deadline, kill() at once."""

    def __init__(self, cmd, env=None, log=None, cwd=None):
        self.log = open(log, "w") if log else subprocess.DEVNULL
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                  start_new_session=True)

    def wait(self, timeout):
        """Wait up to timeout seconds, then kill the group. Returns rc."""
        try:
            self.p.wait(timeout=max(0.1, timeout))
        except subprocess.TimeoutExpired:
            self.kill()
        finally:
            killgroup(self.p.pid)
            if self.log is not subprocess.DEVNULL:
                self.log.close()
        return self.p.returncode

    def kill(self):
        killgroup(self.p.pid)
        self.p.wait()
