"""sqtest: the one runner the pytest drivers use.

Runner.run starts a program in its own process group with a timeout and
returns a Result; every Result assertion failure carries the command line
and the program's output, so a CI log alone explains the failure.
"""
import fcntl
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
VARIANTS = ["mapstack", "syscallsplit", "stackswitch", "attachsig", "gsignal-systemstack"]
FATAL_RE = re.compile(r"^fatal error: (.*)$", re.M)


@dataclass
class Result:
    cmd: list
    env: dict
    rc: int
    stdout: str
    stderr: str
    elapsed: float
    timed_out: bool = False
    extra: dict = field(default_factory=dict)

    def log(self, limit=6000):
        envs = " ".join(f"{k}={v}" for k, v in sorted(self.env.items()))
        out = self.stdout[-limit:]
        err = self.stderr[-limit:]
        return (f"\n--- command: {envs} {' '.join(self.cmd)}\n--- exit status: {self.rc}"
                f"{' (timed out)' if self.timed_out else ''}\n--- stdout:\n{out}\n--- stderr:\n{err}")

    @property
    def fatal(self):
        m = FATAL_RE.search(self.stderr)
        return m.group(1) if m else None

    def assert_pass(self, name=None):
        assert not self.timed_out, "timed out" + self.log()
        assert self.rc == 0, "expected exit 0" + self.log()
        if name:
            assert f"PASS {name}" in self.stdout, f"no PASS {name}" + self.log()

    def assert_fatal(self, msg):
        assert not self.timed_out, "timed out" + self.log()
        assert self.fatal == msg, f"expected fatal error {msg!r}, got {self.fatal!r}" + self.log()
        assert self.rc == 2, "fatal errors exit with status 2" + self.log()

    def assert_no_fatal(self, msg):
        assert self.fatal != msg, f"unexpected fatal error {msg!r}" + self.log()

    def events(self, tag):
        """The [tag] lines on stderr, split into words."""
        pre = f"[{tag}] "
        return [l[len(pre):].split() for l in self.stderr.splitlines() if l.startswith(pre)]


class Runner:
    def __init__(self, variant="fixed"):
        self.variant = variant
        self.dir = os.path.join(BUILD, variant)

    def path(self, prog):
        return os.path.join(self.dir, prog)

    def run(self, prog, *args, env=None, timeout=60, wrapper=(), preexec=None):
        cmd = list(wrapper) + [self.path(prog)] + [str(a) for a in args]
        full = dict(os.environ)
        full.update(env or {})
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=full, text=True, errors="replace",
                             start_new_session=True, preexec_fn=preexec)
        timed_out = False
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            # Ask for the runtime's dump first, then make sure nothing is left.
            try:
                os.killpg(p.pid, signal.SIGABRT)
                out, err = p.communicate(timeout=5)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
                out, err = p.communicate()
        return Result(cmd, env or {}, p.returncode, out, err, time.monotonic() - t0, timed_out)


def build(variant="fixed", *targets):
    """Build a variant (the runtime and its test programs); returns the Runner."""
    args = ["make", "--no-print-directory", "-C", ROOT]
    if variant != "fixed":
        args.append(f"REGRESS={variant}")
    args += list(targets) or ["all"]
    os.makedirs(BUILD, exist_ok=True)
    # pytest-xdist workers share build/: one make at a time.
    with open(os.path.join(BUILD, ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"build of {variant} failed:\n{r.stdout[-4000:]}")
    return Runner(variant)
