"""Targets: the harness scenarios and the regression variants on every
selected target, the target specs, and the SSH target against an sshd that
this module starts on 127.0.0.1 itself (sqtest.py, conftest.py).

The host's own build runs its scenarios in test_harness.py; here they run
on the other targets (qemu-aarch64, qemu-riscv64, musl, ssh://...) through
the same Job and oracle (sqlib/campaign.py), with findings leaving a
log and a reproducer just as `stackquake run` does.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

import sqtest
from sqlib import outcome
from sqlib.campaign import Job

SCENARIO_MODES = sqtest.scenario_modes()
ARM = "arm-systemstack-curg"


# ---- target specs --------------------------------------------------------------

@pytest.mark.parametrize("spec,kind,arch,libc,suffix", [
    ("local", "local", sqtest.HOST_ARCH, "glibc", ""),
    ("musl", "local", sqtest.HOST_ARCH, "musl", f"-{sqtest.HOST_ARCH}-musl"),
    ("qemu-aarch64", "qemu", "aarch64", "glibc", "-aarch64"),
    ("qemu-riscv64", "qemu", "riscv64", "glibc", "-riscv64"),
    ("ssh://root@127.0.0.1:2222", "ssh", sqtest.HOST_ARCH, "glibc", ""),
    ("ssh://pi@board?arch=aarch64&key=/k", "ssh", "aarch64", "glibc", "-aarch64"),
    ("ssh://box:2200?libc=musl", "ssh", sqtest.HOST_ARCH, "musl", f"-{sqtest.HOST_ARCH}-musl"),
])
def test_target_specs(spec, kind, arch, libc, suffix):
    t = sqtest.target(spec)
    assert (t.kind, t.arch, t.libc, t.suffix) == (kind, arch, libc, suffix)
    assert t.build_dir("attachsig") == os.path.join(sqtest.BUILD, "attachsig" + suffix)
    assert t.make_vars() == [f"ARCH={arch}", f"LIBC={libc}"]
    assert t.can_ptrace == (kind != "qemu")


def test_address_space_limit_is_the_programs():
    """limit_as bounds the program: RLIMIT_AS for a local one; under
    qemu-user a reserved guest address space, since RLIMIT_AS would bound the
    emulator, which then fails in its own allocations instead of the guest."""
    rc, out, _, _ = sqtest.LOCAL.run(["sh", "-c", "ulimit -v"], limit_as=1 << 30)
    assert rc == 0 and out.split() == ["1048576"], out
    q = sqtest.target("qemu-riscv64")
    assert q.prefix() == ["qemu-riscv64"]
    assert q.prefix(1 << 30) == ["qemu-riscv64", "-R", str(1 << 30)]


@pytest.mark.parametrize("spec,msg", [
    ("qemu-sparc", "unknown target"),
    ("elsewhere", "unknown target"),
    ("ssh://", "bad ssh target"),
    ("ssh://h?arch=mips", "unknown arch"),
    ("ssh://h?port=1", "unknown port"),
])
def test_bad_target_specs(spec, msg):
    with pytest.raises(ValueError, match=msg):
        sqtest.target(spec)


def test_bad_target_option_is_a_usage_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p",
                        "no:cacheprovider", "--target=qemu-vax", "--collect-only",
                        os.path.join(sqtest.ROOT, "pytest", "test_targets.py")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120,
                       cwd=str(tmp_path))
    assert r.returncode == 4 and "unknown target 'qemu-vax'" in r.stdout, r.stdout[-2000:]


# ---- scenarios on every target -------------------------------------------------

_scen = {}


def scenarios(variant, target):
    """The runtime and the scenario programs of a variant, built for target."""
    key = (variant, target.name)
    if key not in _scen:
        _scen[key] = sqtest.build(variant, "lib", "scenarios", target=target)
    return _scen[key]


# Modes that skip under qemu-user, and why: the runtime declares no
# deadlock where it cannot count the process's threads (qemu's
# /proc/self/stat says 0 threads), and the mode says so.
SKIP_UNDER_QEMU = {("sc_locked", "deadlock"): "never declares a deadlock"}


@pytest.mark.parametrize("injector", ["none", "storm"])
@pytest.mark.parametrize("scenario,mode", SCENARIO_MODES)
def test_scenario_on_target(target, scenario, mode, injector, tmp_path):
    if target.host_native:
        pytest.skip("test_harness.py runs the scenarios on the host's own build")
    job = Job(scenario, mode, injector, seed=12345, env={"SQ_MAXPROCS": "2"})
    rec = sqtest.run_job(job, scenarios("fixed", target), str(tmp_path))
    if target.kind == "qemu" and (scenario, mode) in SKIP_UNDER_QEMU:
        assert rec["class"] == "skipped" and SKIP_UNDER_QEMU[(scenario, mode)] in rec["message"], \
            f"{rec['class']}: {rec['message']}\n{rec['command']}\n{rec['stderr'][-3000:]}"
        return
    want = "expected-fatal" if sqtest.owes_fatal(rec) else "clean"
    assert rec["class"] == want, f"{rec['class']}: {rec['message']}\n{rec['command']}\n{rec['stderr'][-3000:]}"
    assert '{"rec":"seed","seed":12345}' in rec["stdout"]


# Each regression variant through a fault-site plan that reaches its window
# (the campaign finds them by itself: test_harness.py; here a fixed plan
# keeps the emulated runs few), and what detects it; mapstack needs
# stackcheck (ptrace), which test_arch.py replaces with qemu -strace under
# emulation.
DETECT = {
    "syscallsplit": (("unexpected-fatal",), "syscall window state corrupted"),
    "stackswitch": (("unexpected-fatal",), ""),
    "attachsig": (("unexpected-fatal",), "signal arrived on a thread with no signal stack"),
    # Silent corruption: whatever it breaks first (natively "unexpected
    # signal"; under qemu or musl sometimes a plain SIGSEGV).
    "gsignal-systemstack": (("unexpected-fatal", "crash"), ""),
    ARM: (("unexpected-fatal",), "systemstack called from signal stack"),
}
PLANS = {
    "syscallsplit": [("sc_syscall", "window", "sites", ["entersyscall.poisoned:split"]),
                     ("sc_syscall", "window", "sites", ["syscall.window:split"])],
    "stackswitch": [("sc_stackswitch", "legal", "none", [])],
    "attachsig": [("sc_attachsig", "unbound", "sites", ["needm.after_setg:signal:every:SIGURG"]),
                  ("sc_attachsig", "unbound", "sites", ["dropm.after_unminit:signal:every:SIGPROF"])],
    "gsignal-systemstack": [("sc_sigstack", "self", "none", [])],
}
ARM_PLAN = [("sc_syscall", "window", "none", [])]


def plan(variant):
    return PLANS.get(variant, ARM_PLAN)


@pytest.mark.parametrize("variant", list(DETECT))
def test_regression_detected_on_target(target, variant, tmp_path):
    runner = scenarios(variant, target)
    jobs = [Job(s, m, inj, arms=arms, env={"SQ_MAXPROCS": "2"}) for s, m, inj, arms in plan(variant)]
    found = None
    for i in range(12):
        job = jobs[i % len(jobs)]
        job.seed = 1000 + i
        rec = sqtest.run_job(job, runner, str(tmp_path))
        if sqtest.outcome.is_finding(rec["class"]):
            found = rec
            break
    if variant == ARM and target.arch != "aarch64":
        assert found is None, f"{ARM} visible on {target.arch}: {found['class']}: {found['message']}"
        return
    assert found, f"{variant} not detected on {target.name} in 12 runs"
    cls, msg = DETECT[variant]
    assert found["class"] in cls and msg in found["message"], \
        f"{found['class']}: {found['message']}\n{found['stderr'][-3000:]}"
    with open(found["repro"]) as f:
        repro = json.load(f)
    assert repro["on"] == target.name and repro["class"] == found["class"]
    again = sqtest.run_job(Job.from_json(repro), runner)
    assert again["class"] in cls, again["stderr"][-3000:]


# ---- the SSH target, against our own sshd on 127.0.0.1 -------------------------

SSHD = "/usr/sbin/sshd"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sshd:
    """An sshd of our own: 127.0.0.1 only, a random high port, a temporary
    host key, one temporary authorized key, root login by key only."""

    def __init__(self, d):
        self.d = d
        self.key = os.path.join(d, "id_ed25519")
        for f in ("host_ed25519", "id_ed25519"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(d, f)], check=True)
        shutil.copy(self.key + ".pub", os.path.join(d, "authorized_keys"))
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)	# the privilege-separation directory
        self.proc, self.port = None, None

    def config(self, port):
        path = os.path.join(self.d, "sshd_config")
        with open(path, "w") as f:
            f.write(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {self.d}/host_ed25519
PidFile {self.d}/sshd.pid
AuthorizedKeysFile {self.d}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxSessions 64
MaxStartups 64
LogLevel ERROR
""")
        return path

    def start(self):
        for _ in range(5):
            port = free_port()
            cfg = self.config(port)
            log = open(os.path.join(self.d, "sshd.log"), "w")
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", cfg], stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
            self.port = port
            t = self.target()
            for _ in range(50):
                if self.proc.poll() is not None:
                    break
                if t.sh("true", timeout=10)[0] == 0:
                    return t
                time.sleep(0.1)
            self.stop()
        raise RuntimeError("sshd did not come up: " + open(os.path.join(self.d, "sshd.log")).read()[-2000:])

    def target(self, **q):
        query = "&".join(f"{k}={v}" for k, v in dict(q, key=self.key).items())
        return sqtest.target(f"ssh://root@127.0.0.1:{self.port}?{query}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    if not os.path.exists(SSHD):
        pytest.skip("openssh-server is not installed (sh mk/deps.sh ssh)")
    if not shutil.which("ssh") or not shutil.which("ssh-keygen"):
        pytest.skip("openssh-client is not installed (sh mk/deps.sh ssh)")
    if os.geteuid() != 0:
        pytest.skip("starting an sshd that root can log in to needs root")
    d = Sshd(str(tmp_path_factory.mktemp("sshd")))
    t = d.start()
    yield d, t
    t.close()
    d.stop()


def test_ssh_target_runs_self_tests(sshd):
    d, t = sshd
    assert t.check() is None
    r = sqtest.build("fixed", "lib", "tests", target=t)
    r.run("tests/rt_sched", "chain", 2000, env={"SQ_MAXPROCS": "2"}).assert_pass("chain")
    res = r.run("tests/rt_fatal", "systemstack-gsignal")
    res.assert_fatal("systemstack called from signal stack")
    assert res.extra["target"] == t.name and "ssh://" in res.log()
    # The environment goes across; a death by signal comes back as one.
    res = r.run("tests/rt_fatal", "segv", env={"SQ_CRASH": "abort"})
    assert res.rc == -6 and res.fatal == "unexpected signal", res.log()
    # An address-space limit applies over there, to the program.
    rc, out, _, _ = t.run(["sh", "-c", "ulimit -v"], limit_as=1 << 30)
    assert rc == 0 and out.split() == ["1048576"], out
    r.run("tests/rt_fatal", "stackalloc-fails", limit_as=1 << 30).assert_fatal("out of memory allocating stack")
    # The programs really ran over there, from the copies.
    rc, out, _, _ = t.sh(f"ls {t.rdir}/build/fixed/tests")
    assert rc == 0 and {"rt_sched", "rt_fatal"} <= set(out.split()), out


def test_ssh_target_timeout_kills_the_remote_process_group(sshd):
    d, t = sshd
    r = sqtest.build("fixed", "lib", "tests", target=t)
    # Foreign threads calling in for ever: SIGABRT finds no G to dump, and
    # the default action ends it (a program on Gs prints its dump first).
    res = r.run("tests/rt_callback", "attach-storm", 10**9, timeout=1)
    assert res.timed_out and res.rc == -6, res.log()
    prog = t.remote(r.path("tests/rt_callback"))
    # "[r]t_callback" matches the program, not this pgrep's own command line.
    rc, out, _, _ = t.sh(f"pgrep -f '{os.path.dirname(prog)}/[r]t_callback' || true")
    assert out.strip() == "", f"left running over there: {out}"


def test_ssh_target_scenarios_findings_come_back(sshd, tmp_path):
    """Scenarios run over there; outcomes come back and are classified
    here; a finding leaves its log and reproducer here, and the reproducer
    replays over ssh."""
    d, t = sshd
    job = Job("sc_syscall", "window", "storm", seed=5, env={"SQ_MAXPROCS": "2"})
    rec = sqtest.run_job(job, scenarios("fixed", t), str(tmp_path))
    assert rec["class"] == "clean", rec["stderr"][-3000:]
    runner = scenarios("attachsig", t)
    job = Job("sc_attachsig", "unbound", "sites", seed=9,
              arms=["needm.after_setg:signal:every:SIGURG"], env={"SQ_MAXPROCS": "2"})
    rec = sqtest.run_job(job, runner, str(tmp_path))
    assert rec["class"] == "unexpected-fatal", rec["stderr"][-3000:]
    assert rec["message"] == "signal arrived on a thread with no signal stack"
    with open(rec["repro"]) as f:
        repro = json.load(f)
    assert repro["on"] == t.name and repro["arms"] == job.arms
    assert '{"rec":"seed","seed":9}' in open(rec["log"]).read()
    again = sqtest.run_job(Job.from_json(repro), runner)
    assert again["class"] == "unexpected-fatal"


def test_ssh_target_remote_regress_run_comes_back(sshd, tmp_path):
    """`stackquake regress` run on the remote machine itself; its table,
    JSON and reproducer are brought back."""
    d, t = sshd
    rc, out, _, _ = t.sh("command -v python3")
    if rc != 0:
        pytest.skip("no python3 on the remote machine")
    runner = scenarios("attachsig", t)
    hdir = os.path.join(runner.dir, "harness")
    progs = [os.path.join(hdir, p) for p in os.listdir(hdir) if p.startswith("sc_") and "." not in p]
    lib = [os.path.join(sqtest.ROOT, "sqlib", f) for f in os.listdir(os.path.join(sqtest.ROOT, "sqlib"))
           if f.endswith(".py")]
    t.ship(progs + lib + [os.path.join(sqtest.BUILD, "contract.json"), os.path.join(sqtest.ROOT, "stackquake")])
    rc, out, err, _ = t.sh(f"cd {t.rdir} && sh stackquake regress --variants attachsig "
                           f"--budget-storm 2s --replays 2 --out {t.rdir}/out", timeout=300)
    assert rc == 0, out + err
    back = t.fetch(f"{t.rdir}/out", str(tmp_path))
    (run,) = [p for p in os.listdir(back) if p.startswith("regress-")]
    rows = json.load(open(os.path.join(back, run, "regress.json")))["rows"]
    assert rows[0]["variant"] == "attachsig" and rows[0]["detected"], rows
    repro = json.load(open(os.path.join(back, run, "attachsig.json")))
    # Usually the storm's "signal arrived on a thread with no signal stack";
    # the campaign's seed is random, and a job under the pid1 axis once got
    # there first, recorded as "crash: exit status 2".
    assert outcome.is_finding(repro["class"]) and repro["on"] == "local", repro
    assert "attachsig" in open(os.path.join(back, run, "regress.txt")).read()
