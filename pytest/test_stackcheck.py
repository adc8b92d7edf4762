"""stackcheck: OpenBSD's MAP_STACK rule enforced on Linux through ptrace.

Builds tools/stackcheck and its one-scenario programs once per session
(make -C tools/stackcheck OUT=<tmp>, or OUT=$STACKCHECK_OUT), runs every
scenario under stackcheck in each tracing mode, and checks the exit status
(3 for a kill), the KILL line (pid, tid, syscall or signal, an sp inside the
stack the program announced, the reason) and clean runs.

The scenario programs announce what they do as "[sctest] EVENT key=value"
lines on stderr; see tools/stackcheck/tests/sctest.h.

Where: the host, and x86-64 VM targets (sqlib/vm.py): stackcheck and its
programs, built here, are copied into the guest and trace there, on the
guest's kernel. stackcheck has no other arch yet (tools/stackcheck/arch/).
"""
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

import pytest

import sqtest

TOOL = os.path.join(sqtest.ROOT, "tools", "stackcheck")
MODES = ["seccomp", "syscall", "regs"]
KILLED = 3
USAGE = 2
TIMEOUT = 60

KILL_RE = re.compile(
    r"^stackcheck: KILL pid=(?P<pid>\d+) tid=(?P<tid>\d+) "
    r"(?:syscall=(?P<syscall>\S+)|signal=(?P<signal>\S+)) "
    r"pc=0x(?P<pc>[0-9a-f]+) sp=0x(?P<sp>[0-9a-f]+) in=(?P<where>.+) reason=(?P<reason>.+)$",
    re.M)
SUMMARY_RE = re.compile(
    r"^stackcheck: summary syscalls=(\d+) signals=(\d+) threads=(\d+) violations=(\d+)$", re.M)


@dataclass
class Kill:
    pid: int
    tid: int
    syscall: str
    signal: str
    pc: int
    sp: int
    where: str
    reason: str


def kills(res):
    return [Kill(int(m["pid"]), int(m["tid"]), m["syscall"], m["signal"], int(m["pc"], 16),
                 int(m["sp"], 16), m["where"], m["reason"]) for m in KILL_RE.finditer(res.stderr)]


def events(res, name):
    """The [sctest] NAME events, each as a dict of its key=value words."""
    out = []
    for words in res.events("sctest"):
        if words and words[0] == name:
            out.append(dict(w.split("=", 1) for w in words[1:] if "=" in w))
    return out


def stack(res, name=None):
    """(lo, hi) of the stack the program announced (the last one, or by name)."""
    st = [e for e in events(res, "STACK") if name is None or e["name"] == name]
    assert st, "program announced no stack" + res.log()
    return int(st[-1]["lo"], 16), int(st[-1]["hi"], 16)


def assert_clean(res, code=0):
    assert not res.timed_out, "timed out" + res.log()
    assert not kills(res), "unexpected KILL" + res.log()
    assert res.rc == code, f"expected exit {code}" + res.log()


def assert_killed(res, **want):
    """Exactly one KILL line, exit status 3, the program never finished."""
    assert not res.timed_out, "timed out" + res.log()
    ks = kills(res)
    assert len(ks) == 1, f"expected one KILL line, got {len(ks)}" + res.log()
    assert res.rc == KILLED, "a kill exits with status 3" + res.log()
    k = ks[0]
    for key, val in want.items():
        assert getattr(k, key) == val, f"KILL {key}={getattr(k, key)!r}, want {val!r}" + res.log()
    return k


def assert_sp_in(res, k, lo, hi):
    assert lo <= k.sp < hi, f"sp {k.sp:#x} not in [{lo:#x}, {hi:#x})" + res.log()


def nocore():
    # A kill is a real SIGSEGV: keep core files out of the working tree.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


nocore.sq_shell = "ulimit -c 0"		# the same on a remote target (sqtest.SshTarget.run)


class Stackcheck:
    """Runs a scenario program under stackcheck through the one sqtest runner."""

    def __init__(self, out, target=sqtest.LOCAL):
        self.bin = os.path.join(out, "stackcheck")
        self.target = target
        self.runner = sqtest.Runner("fixed", target)
        self.runner.dir = os.path.join(out, "stackcheck-tests")

    def run(self, prog, *args, mode="seccomp", opts=(), timeout=TIMEOUT):
        wrapper = [self.bin, "-m", mode, *opts, "--"]
        return self.runner.run(prog, *args, wrapper=wrapper, timeout=timeout, preexec=nocore)

    def raw(self, *argv, timeout=TIMEOUT):
        """stackcheck with exactly these arguments (usage tests, system programs)."""
        if self.target.kind != "local":
            rc, out, err, _ = self.target.run([self.bin, *argv], timeout=timeout * self.target.slowdown,
                                              preexec=nocore)
            return sqtest.Result([self.bin, *argv], {}, rc, out, err, 0.0)
        p = subprocess.run([self.bin, *argv], capture_output=True, text=True,
                           timeout=timeout, preexec_fn=nocore, start_new_session=True)
        return sqtest.Result([self.bin, *argv], {}, p.returncode, p.stdout, p.stderr, 0.0)

    def merged(self, prog, *args, mode="seccomp", timeout=TIMEOUT):
        """prog under stackcheck with stdout and stderr in one pipe, so that
        the order of the lines is the order of the writes (Result.stderr)."""
        cmd = [self.bin, "-m", mode, "--", self.runner.path(prog), *map(str, args)]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           errors="replace", timeout=timeout, preexec_fn=nocore,
                           start_new_session=True)
        return sqtest.Result(cmd + ["2>&1"], {}, p.returncode, "", p.stdout, 0.0)

    def has(self, prog):
        if not os.path.exists(self.runner.path(prog)):
            pytest.skip(f"{prog} not built (musl-gcc is not installed)")


@pytest.fixture(scope="session")
def sc(tmp_path_factory, target):
    if target.arch != "x86_64" or platform.machine() != "x86_64":
        pytest.skip(f"stackcheck supports x86-64 only, not {target.arch}")
    if not target.can_ptrace:
        pytest.skip(sqtest.NO_PTRACE)
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = os.environ.get("STACKCHECK_OUT") or str(tmp_path_factory.mktemp("stackcheck"))
    b = subprocess.run(["make", "--no-print-directory", "-C", TOOL, f"OUT={out}"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if b.returncode != 0:
        pytest.fail(f"building stackcheck failed:\n{b.stdout[-4000:]}")
    s = Stackcheck(out, target)
    probe = s.raw("/bin/true")
    if probe.rc != 0 and "Operation not permitted" in probe.stderr:
        pytest.skip("ptrace is not permitted here" + probe.log())
    return s


mode = pytest.mark.parametrize("mode", MODES)


# ---- 1. malloc'd stack ----

@mode
@pytest.mark.parametrize("variant,death", [
    ("plain", "SIGSEGV"),       # dies of the SIGSEGV, as on OpenBSD
    ("handled", "SIGKILL"),     # a SIGSEGV handler must not save it
    ("blocked", "SIGSEGV"),     # blocked SIGSEGV is unblocked first
])
def test_malloc_stack_killed(sc, mode, variant, death):
    res = sc.run("sc_malloc_stack", variant, mode=mode)
    k = assert_killed(res, syscall="getpid", reason="not MAP_STACK", signal=None)
    assert k.tid == k.pid, "the main thread made the call" + res.log()
    assert_sp_in(res, k, *stack(res))
    assert k.where.endswith("[heap]"), "a small malloc'd stack is heap" + res.log()
    assert not events(res, "DONE") and not events(res, "HANDLER"), res.log()
    assert f"stackcheck: note pid={k.pid} killed by {death}" in res.stderr, res.log()


# ---- 2. mmap'd stacks ----

@mode
@pytest.mark.parametrize("variant", ["stack", "reserve", "deep"])
def test_mmap_stack_clean(sc, mode, variant):
    res = sc.run("sc_mmap_stack", variant, mode=mode)
    assert_clean(res)
    assert events(res, "DONE"), res.log()


@mode
def test_mmap_plain_killed(sc, mode):
    res = sc.run("sc_mmap_stack", "plain", mode=mode)
    k = assert_killed(res, syscall="getpid", reason="not MAP_STACK")
    lo, hi = stack(res)
    assert_sp_in(res, k, lo, hi)
    assert k.where.endswith("rw-p [anon]"), res.log()


# ---- 3. pthread_attr_setstack ----

@mode
def test_setstack_mapstack_clean(sc, mode):
    res = sc.run("sc_setstack", "keep", mode=mode)
    assert_clean(res)
    assert events(res, "THREAD"), res.log()


@mode
@pytest.mark.parametrize("variant", ["remap", "malloc"])
def test_setstack_killed_in_thread(sc, mode, variant):
    res = sc.run("sc_setstack", variant, mode=mode)
    k = assert_killed(res, reason="not MAP_STACK")
    main = int(events(res, "MAIN")[0]["tid"])
    assert k.pid == main and k.tid != main, "the new thread is the one killed" + res.log()
    assert_sp_in(res, k, *stack(res))
    assert k.syscall is not None, res.log()
    assert not events(res, "THREAD"), "the thread body must never run" + res.log()


# ---- 4. the top edge ----

@mode
def test_clone_first_sp_at_top_killed(sc, mode):
    res = sc.run("sc_clone_edge", "top", mode=mode)
    k = assert_killed(res, syscall="getpid", reason="not MAP_STACK")
    lo, hi = stack(res)
    assert k.sp == hi, f"SP must be exactly the top {hi:#x}" + res.log()
    cloned = events(res, "CLONED")
    if cloned:      # the parent may be killed before it prints
        assert k.tid == int(cloned[0]["tid"]), res.log()
    assert k.tid != k.pid, res.log()


@mode
def test_clone_first_sp_inside_clean(sc, mode):
    assert_clean(sc.run("sc_clone_edge", "inside", mode=mode))


# ---- 5. signal stacks and signal delivery ----

@mode
@pytest.mark.parametrize("variant", ["mapstack", "malloc"])
def test_sigaltstack_clean(sc, mode, variant):
    res = sc.run("sc_sigaltstack", variant, mode=mode)
    assert_clean(res)
    assert events(res, "HANDLER") == [{"onalt": "1"}], "handler ran on the altstack" + res.log()


@mode
def test_sigaltstack_remapped_killed(sc, mode):
    res = sc.run("sc_sigaltstack", "remapped", mode=mode)
    k = assert_killed(res, signal="SIGUSR1", syscall=None, reason="sigaltstack not MAP_STACK")
    assert_sp_in(res, k, *stack(res, "altstack"))
    assert not events(res, "HANDLER"), res.log()


@mode
def test_signal_on_plain_stack_killed(sc, mode):
    res = sc.run("sc_sigaltstack", "spin-nostack", mode=mode)
    k = assert_killed(res, signal="SIGUSR1", reason="not MAP_STACK")
    assert_sp_in(res, k, *stack(res, "spin"))
    assert k.tid == k.pid, res.log()


@mode
def test_signal_onstack_from_plain_stack_clean(sc, mode):
    # The handler switches to a MAP_STACK signal stack: the interrupted one
    # is never used, so it is not checked.
    assert_clean(sc.run("sc_sigaltstack", "spin-onstack", mode=mode))


# ---- 6. mremap, munmap, MAP_FIXED ----

@mode
@pytest.mark.parametrize("variant", ["move", "grow", "split-bottom"])
def test_remap_clean(sc, mode, variant):
    res = sc.run("sc_mremap", variant, mode=mode)
    assert_clean(res)
    assert events(res, "DONE"), res.log()


@mode
@pytest.mark.parametrize("variant", ["old", "refill", "split-top"])
def test_remap_killed(sc, mode, variant):
    res = sc.run("sc_mremap", variant, mode=mode)
    k = assert_killed(res, syscall="getpid", reason="not MAP_STACK")
    assert_sp_in(res, k, *stack(res))


# ---- 7. processes and threads ----

@mode
def test_fork_exec_clean(sc, mode):
    res = sc.run("sc_fork_exec", "exec", mode=mode)
    assert_clean(res)
    assert [e["exited"] for e in events(res, "CHILD")] == ["0", "0"], res.log()
    assert len(events(res, "CHILD-DONE")) == 2, res.log()


@mode
def test_forked_child_killed(sc, mode):
    res = sc.run("sc_fork_exec", "child-bad", mode=mode)
    k = assert_killed(res, syscall="getpid")
    child = events(res, "CHILD")
    assert child and child[0]["pid"] == str(k.pid), "the child is killed" + res.log()
    assert child[0]["signaled"] == "11", "with SIGSEGV" + res.log()
    assert events(res, "DONE"), "the parent lives on" + res.log()


@mode
def test_threads_clean(sc, mode):
    res = sc.run("sc_threads", "8", "2000", mode=mode)
    assert_clean(res)
    assert events(res, "SIGNALS") == [{"handled": "8"}], res.log()
    m = SUMMARY_RE.search(res.stderr)
    assert m and int(m[3]) >= 9 and int(m[4]) == 0, res.log()


@mode
@pytest.mark.parametrize("rep", range(3))
def test_threads_stress_clean(sc, mode, rep):
    assert_clean(sc.run("sc_threads", "48", "400", mode=mode))


@mode
def test_exec_from_thread(sc, mode):
    res = sc.run("sc_thread_exec", "run", mode=mode)
    assert_clean(res, code=5)
    main, child = events(res, "MAIN"), events(res, "CHILD")
    assert child and child[0]["pid"] == main[0]["pid"] == child[0]["tid"], \
        "the exec'd image runs as the old leader" + res.log()


@mode
@pytest.mark.parametrize("seed", range(1, 6))
def test_fork_race_no_hang(sc, mode, seed):
    # Forks interrupted by exit_group lose their clone events: the children
    # must still be released, unreported, and stackcheck must not hang.
    res = sc.run("sc_fork_race", str(seed), mode=mode)
    assert_clean(res)


# ---- the kill stops the whole process first ----

WRITER_RE = re.compile(r"^w\d+ \d+$")
RACE_RUNS = 8


@mode
@pytest.mark.parametrize("prog", ["sc_kill_race", "sc_kill_race_musl"])
@pytest.mark.parametrize("how", ["syscall", "signal", "thread"])
def test_no_write_after_the_kill_line(sc, mode, prog, how):
    """OpenBSD kills the process at the violation: no other thread's write
    may come after the KILL line. Four writers write in a loop while
    another thread breaks the rule (main at a syscall, main at a signal's
    delivery, a new thread at its first syscall); stdout and stderr share
    one pipe, so the order there is the order of the writes. Before
    stackcheck stopped every thread ahead of the kill, about three runs in
    four had writes after the line, with glibc and with musl
    (docs/stackcheck.md, "The kill")."""
    sc.has(prog)
    leaks = []
    for _ in range(RACE_RUNS):
        res = sc.merged(prog, how, 4, mode=mode)
        k = assert_killed(res, reason="not MAP_STACK")
        assert (k.tid == k.pid) == (how != "thread"), "the right thread broke the rule" + res.log()
        lines = res.stderr.splitlines()
        at = next(i for i, l in enumerate(lines) if l.startswith("stackcheck: KILL"))
        assert any(WRITER_RE.match(l) for l in lines[:at]), "the writers were running" + res.log()
        after = [l for l in lines[at + 1:] if WRITER_RE.match(l)]
        if after:
            leaks.append(f"{len(after)} writes after the KILL line" + res.log(limit=1500))
    assert not leaks, f"{len(leaks)} of {RACE_RUNS} runs leaked:\n" + "\n".join(leaks)


# ---- -l: OpenBSD's libc as well as its kernel ----

@mode
@pytest.mark.parametrize("prog", ["sc_setstack", "sc_setstack_musl"])
@pytest.mark.parametrize("variant", ["malloc", "remap"])
def test_openbsd_libc_remaps_a_user_stack(sc, mode, prog, variant):
    """A thread on a malloc'd (or remapped) stack given to
    pthread_attr_setstack: killed by the kernel model alone, but OpenBSD's
    libc remaps that stack MAP_STACK, so with -l it runs, as there."""
    sc.has(prog)
    res = sc.run(prog, variant, mode=mode)
    assert_killed(res, reason="not MAP_STACK")
    assert not events(res, "THREAD"), res.log()
    res = sc.run(prog, variant, mode=mode, opts=("-l",))
    assert_clean(res)
    assert events(res, "THREAD") and events(res, "DONE"), "the thread ran" + res.log()


def test_openbsd_libc_needs_its_shim(sc, tmp_path):
    alone = tmp_path / "stackcheck"
    shutil.copy(sc.bin, alone)
    p = subprocess.run([str(alone), "-l", "/bin/true"], capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == USAGE and "stackcheck-libc.so is missing" in p.stderr, p.stderr


# ---- exit status, report file, quiet mode, usage ----

@pytest.mark.parametrize("args,code", [
    (("code", "0"), 0), (("code", "9"), 9),
    (("signal", "6"), 128 + 6), (("signal", "9"), 128 + 9),
])
def test_exit_status(sc, args, code):
    if sc.target.kind != "local" and code > 128:
        # Over ssh the remote shell's $? cannot tell exit(134) from SIGABRT,
        # and SshTarget reports a status above 128 as the signal.
        code = -(code - 128)
    assert_clean(sc.run("sc_exit", *args), code=code)


def test_report_file(sc, tmp_path):
    path = tmp_path / "report.txt"
    if sc.target.kind != "local":		# written in the guest, brought back
        sc.target.sh(f"mkdir -p {tmp_path}")
    res = sc.run("sc_mmap_stack", "plain", opts=("-o", str(path)))
    assert_killed(res)
    if sc.target.kind != "local":
        sc.target.fetch(str(path), str(tmp_path))
    text = path.read_text()
    kill_lines = [l for l in res.stderr.splitlines() if l.startswith("stackcheck: KILL")]
    assert [l for l in text.splitlines() if l.startswith("stackcheck: KILL")] == kill_lines
    m = SUMMARY_RE.search(text)
    assert m and m[4] == "1", text


def test_quiet(sc):
    res = sc.run("sc_mmap_stack", "plain", opts=("-q",))
    assert_killed(res)
    lines = [l for l in res.stderr.splitlines() if l.startswith("stackcheck:")]
    assert len(lines) == 1 and lines[0].startswith("stackcheck: KILL"), res.log()
    clean = sc.run("sc_mmap_stack", "stack", opts=("-q",))
    assert_clean(clean)
    assert "stackcheck:" not in clean.stderr, clean.log()


def test_summary(sc):
    res = sc.run("sc_mmap_stack", "stack")
    assert_clean(res)
    m = SUMMARY_RE.search(res.stderr)
    assert m, res.log()
    assert int(m[1]) > 10 and m[3] == "1" and m[4] == "0", res.log()


@pytest.mark.parametrize("argv,msg", [
    ((), "no PROGRAM given"),
    (("-x", "/bin/true"), "usage:"),
    (("-m", "fast", "/bin/true"), "unknown mode"),
    (("-o",), "usage:"),
    (("/nonexistent/program",), "not found"),
    (("no-such-command-stackcheck",), "not found"),
    ((os.path.abspath(__file__),), "not executable"),
    (("/",), "cannot run program"),     # passes access(X_OK), execve fails
])
def test_usage_errors(sc, argv, msg):
    res = sc.raw(*argv)
    assert res.rc == USAGE, res.log()
    assert msg in res.stderr, res.log()


def test_sigterm_forwarded(sc):
    if sc.target.kind != "local":
        pytest.skip("signals the local stackcheck process directly")
    p = subprocess.Popen([sc.bin, "-q", "sleep", "30"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        raise
    assert p.returncode == 128 + signal.SIGTERM, err


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help(sc, flag):
    res = sc.raw(flag)
    assert res.rc == 0 and "Exit status" in res.stdout and not res.stderr, res.log()
    assert res.stdout == sc.raw("-h").stdout, "--help is -h" + res.log()


# ---- ordinary programs are clean ----

@mode
@pytest.mark.parametrize("argv,stdout", [
    (["/bin/true"], ""),
    (["ls", "/"], None),
    (["sh", "-c", "echo hi | cat"], "hi\n"),
])
def test_system_programs_clean(sc, mode, argv, stdout):
    res = sc.raw("-m", mode, *argv)
    assert_clean(res)
    if stdout is not None:
        assert res.stdout == stdout, res.log()
