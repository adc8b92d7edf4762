"""sqtest: the one runner the pytest drivers use.

Runner.run starts a program in its own process group with a timeout and
returns a Result; every Result assertion failure carries the command line
and the program's output, so a CI log alone explains the failure.

Where the program runs is a Target (pytest's --target option, conftest.py;
the targets themselves are sqlib/targets.py and sqlib/vm.py, shared with
the campaign): local, musl, qemu-<arch>, vm:ARCH[?cpus=N&mem=MIB&accel=A],
ssh://[user@]host[:port][?arch=A&libc=L&key=FILE].
A target knows which build it needs, what runs a program there, and what it
cannot do; Runner.run skips the test with that reason.
"""
import fcntl
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sqlib import BUILD, ROOT, campaign, contract, outcome  # noqa: E402
from sqlib.targets import (ARCHES, HOST_ARCH, LOCAL, NO_PTRACE, LocalTarget, QemuTarget,  # noqa: E402,F401
                           SshTarget, Target, Unsupported, target)

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
        where = f" (on {self.extra['target']})" if "target" in self.extra else ""
        return (f"\n--- command{where}: {envs} {' '.join(self.cmd)}\n--- exit status: {self.rc}"
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


# ---- the runner ---------------------------------------------------------------

class Runner:
    """Programs of one build (variant x target), run on that target."""

    def __init__(self, variant="fixed", target=None):
        self.variant = variant
        self.target = target or LOCAL
        self.dir = self.target.build_dir(variant)

    def path(self, prog):
        return os.path.join(self.dir, prog)

    def run(self, prog, *args, env=None, timeout=60, wrapper=(), preexec=None, limit_as=None):
        """Run prog; a wrapper (strace, ...) or a preexec hook the target
        cannot honour skips the calling test with the reason. limit_as
        bounds the program's address space (bytes) the target's way."""
        cmd = list(wrapper) + [self.path(prog)] + [str(a) for a in args]
        if wrapper and not self.target.can_ptrace:
            _skip(f"{NO_PTRACE} ({os.path.basename(wrapper[0])})")
        if wrapper and self.target.kind in ("ssh", "vm") and not self.target.shippable(wrapper[0]):
            _skip(f"{os.path.basename(wrapper[0])} is a host tool; not run over ssh")
        t0 = time.monotonic()
        try:
            rc, out, err, timed_out = self.target.run(cmd, env, timeout * self.target.slowdown, preexec,
                                                      limit_as)
        except Unsupported as e:
            _skip(str(e))
        res = Result(self.target.prefix(limit_as) + cmd, env or {}, rc, out, err, time.monotonic() - t0, timed_out)
        if not self.target.host_native:
            res.extra["target"] = self.target.name
        return res


def _skip(reason):
    import pytest
    pytest.skip(reason)


def make_env():
    """The environment for make: no ARCH/LIBC or MAKEFLAGS inherited from an
    outer `make test ARCH=...`; every build says what it wants."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "ARCH", "LIBC", "REGRESS"):
        env.pop(k, None)
    return env


def build(variant="fixed", *targets, target=None):
    """Build a variant (the runtime and its test programs) for a target
    (default: the host); returns its Runner."""
    tg = target or LOCAL
    # One make at a time (the lock below), so it may use every core.
    args = ["make", "--no-print-directory", f"-j{os.cpu_count() or 2}", "-C", ROOT] + tg.make_vars()
    if variant != "fixed":
        args.append(f"REGRESS={variant}")
    args += list(targets) or ["all"]
    os.makedirs(BUILD, exist_ok=True)
    # pytest-xdist workers share build/: one make at a time.
    with open(os.path.join(BUILD, ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=make_env())
    if r.returncode != 0:
        raise RuntimeError(f"build of {variant} for {tg.name} failed:\n{' '.join(args)}\n{r.stdout[-4000:]}")
    return Runner(variant, tg)


# ---- scenarios on a target ------------------------------------------------------

# Variants whose window is where a preemption signal lands and what runs on
# the M before the G comes back: no arm or schedule pins it, so a finding
# replays at a rate the machine's load sets (10/10 idle, 2/10 seen in CI),
# and the register it names differs from run to run.
SIGNAL_TIMED = {"asyncpreempt-fxsave"}

def variants(arch=HOST_ARCH):
    """The regression variants an arch build can show (the contract's)."""
    return contract.variants(arch)


def scenario_modes():
    """(scenario, mode) pairs, from the scenario sources: what the programs
    say of themselves once built (--describe) is the campaign's business;
    test parametrization happens before anything is built, so it reads the
    sc_info each program declares."""
    out = []
    hdir = os.path.join(ROOT, "harness")
    for f in sorted(os.listdir(hdir)):
        if f.startswith("sc_") and f.endswith(".c"):
            m = re.search(r'static const sc_info info = \{\s*"([^"]+)",\s*"[^"]*",\s*"([^"]+)"',
                          open(os.path.join(hdir, f)).read())
            if m:
                out += [(m.group(1), mode) for mode in m.group(2).split("|")]
    return out


def owes_fatal(rec):
    """Whether the run declared that it must end in a fatal error (its
    expect record): such a mode must end so, every other mode clean."""
    from sqlib import records
    e = records.first(records.parse(rec["stdout"]), "expect") or {}
    return e.get("outcome") == "fatal"


def under(runner, runtime="sq"):
    """The campaign's view of a runner's build (sqlib.campaign.Under), made
    once per runner."""
    key = "_under_" + runtime
    if not hasattr(runner, key):
        setattr(runner, key, campaign.Under(runtime, runner.variant, runner.target))
    return getattr(runner, key)


def run_job(job, runner, outdir=None):
    """Run a harness scenario Job (sqlib.campaign) on the runner's target
    and classify it with the campaign's oracle. A finding leaves its log and
    a reproducer (the Job, the target, the command) under outdir; the record
    says where."""
    u = under(runner)
    if job.injector == "stackcheck" and not runner.target.host_native:
        _skip(f"stackcheck: {NO_PTRACE}" if not runner.target.can_ptrace
              else f"stackcheck runs on the host only, not on {runner.target.name}")
    rec = campaign.execute(job.check(u), u)
    rec["target"] = runner.target.name
    if outdir and outcome.is_finding(rec["class"]):
        os.makedirs(os.path.join(outdir, "repro"), exist_ok=True)
        os.makedirs(os.path.join(outdir, "logs"), exist_ok=True)
        base = f"{job.scenario}-{job.mode}-{runner.variant}-{job.seed}"
        rec["repro"] = os.path.join(outdir, "repro", base + ".json")
        rec["log"] = os.path.join(outdir, "logs", base + ".log")
        with open(rec["repro"], "w") as f:
            json.dump(campaign.reproducer(rec, u), f, indent=1)
        with open(rec["log"], "w") as f:
            f.write(f"# {rec['command']}\n# on {runner.target.name}\n# {rec['class']}: {rec['message']}\n\n"
                    f"--- stdout\n{rec['stdout']}\n--- stderr\n{rec['stderr']}")
    return rec
