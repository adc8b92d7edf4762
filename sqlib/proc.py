"""Running programs: every run in its own process group, with a timeout,
and a guaranteed kill of the whole group afterwards, whatever happened.

On a timeout the group gets SIGABRT first (stackquake's runtime, and Go's
with GOTRACEBACK=crash, print their M and G dump on it), then SIGKILL after
a grace period. After every run, timed out or not, the group gets SIGKILL,
so nothing a test started outlives it.
"""
import os
import selectors
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


def run(cmd, env=None, timeout=60, preexec=None, stdin=None, dump_signal=signal.SIGABRT, cwd=None,
        progress=None, limit=None):
    """Run cmd (env is the whole environment; None: the caller's) in its own
    process group. stdin: None (/dev/null) or text to feed it.

    Without progress, timeout bounds the whole run. With progress (a
    predicate on output lines), timeout is how long the program may go
    without printing a line progress accepts: a loaded machine slows a run
    down but does not make it a hang; limit (default 10 x timeout) still
    bounds the whole run."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                         env=env, cwd=cwd, start_new_session=True, preexec_fn=preexec)
    timed_out = False
    try:
        if progress is None:
            try:
                out, err = p.communicate(stdin.encode() if stdin else None, timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                killgroup(p.pid, dump_signal)
                try:
                    out, err = p.communicate(timeout=GRACE)
                except subprocess.TimeoutExpired:
                    killgroup(p.pid)
                    out, err = p.communicate()
        else:
            out, err, timed_out = _watch(p, timeout, limit or 10 * timeout, progress, dump_signal)
    finally:
        killgroup(p.pid)
        if p.poll() is None:	# interrupted (Ctrl-C, SIGTERM) before it ended
            p.kill()
            p.wait()
    return Run(list(cmd), p.returncode, out.decode(errors="replace"), err.decode(errors="replace"),
               time.monotonic() - t0, timed_out)


def _watch(p, quiet, limit, progress, dump_signal):
    """Read p's output until it ends; a hang is quiet seconds without a
    progress line on stderr, or the whole run past limit seconds."""
    bufs = {p.stdout: bytearray(), p.stderr: bytearray()}
    sel = selectors.DefaultSelector()
    for f in bufs:
        os.set_blocking(f.fileno(), False)
        sel.register(f, selectors.EVENT_READ)
    start = last = time.monotonic()
    scanned = {f: 0 for f in bufs}
    timed_out, killed_at = False, None
    while sel.get_map():
        now = time.monotonic()
        if killed_at is None and (now - last > quiet or now - start > limit):
            timed_out, killed_at = True, now
            killgroup(p.pid, dump_signal)
        if killed_at is not None and now - killed_at > GRACE:
            killgroup(p.pid)
            killed_at = float("inf")
        for key, _ in sel.select(timeout=0.25):
            chunk = key.fileobj.read(65536)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            bufs[key.fileobj] += chunk
        for f in bufs:
            buf = bufs[f]
            end = buf.rfind(b"\n") + 1
            if end > scanned[f]:
                if any(progress(l) for l in buf[scanned[f]:end].decode(errors="replace").splitlines()):
                    last = time.monotonic()
                scanned[f] = end
    p.wait()
    return bytes(bufs[p.stdout]), bytes(bufs[p.stderr]), timed_out


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
