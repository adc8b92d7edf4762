"""sigpoke: a signal at every instruction of the attach/detach and syscall windows.

Builds the fixed and attachsig runtimes (through the conftest fixtures, so at
most once per session) and tools/sigpoke with its target program sp_window
(make -C tools/sigpoke OUT=<tmp> or OUT=$SIGPOKE_OUT), sweeps, and checks the
outcome of every instruction against the disassembly:

  - fixed runtime: no unsafe instruction anywhere in needm, dropm, minit,
    unminit, entersyscall, reentersyscall, exitsyscall (their inlined copies
    included); the signals sent inside the attach/detach windows are held
    back (blocked) and delivered at the sigprocmask that ends the window;
  - attachsig: the unsafe instructions are exactly the ones between storing g
    and the end of minit's sigaltstack call (attach), and between unminit's
    sigaltstack call and clearing g (detach), and each one replays.

Each sweep runs once per module and takes a few seconds.

Where: on the host's own build (x86-64), and on VM targets (sqvm.py), where
the guest's real kernel traces: sigpoke and sp_window are built for the
guest's arch (aarch64: the cross compilers, static), copied in, swept
there, and the output directory is brought back. On aarch64 a store of g
is `str xM, [xN]` through an address formed from `mrs xN, tpidr_el0`.
"""
import csv
import fcntl
import os
import re
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest

import sqtest

TOOL = os.path.join(sqtest.ROOT, "tools", "sigpoke")
UNSAFE = {"fatal", "crash", "exit", "hang"}
ATTACH = ["needm", "dropm", "minit", "unminit"]
SYSCALL = ["entersyscall", "reentersyscall", "exitsyscall"]
NOSIGSTACK = "signal arrived on a thread with no signal stack"
USAGE = 2
SUMMARY_RE = re.compile(
    r"^sigpoke: summary instructions=(?P<instructions>\d+) reached=(?P<reached>\d+) "
    r"clean=(?P<clean>\d+) deferred=(?P<deferred>\d+) undelivered=(?P<undelivered>\d+) "
    r"unsafe=(?P<unsafe>\d+) notreached=(?P<notreached>\d+) runs=(?P<runs>\d+) "
    r"seconds=(?P<seconds>[\d.]+)$", re.M)
TP_LOAD = re.compile(r"^mov\s+%fs:0x0,(%\w+)")      # the thread pointer into a register
STORE = re.compile(r"^movq?\s+(\$0x0|%\w+),(%fs:\S+|\((%\w+)\))$")
# aarch64: mrs x8, tpidr_el0; add x8, x8, #...; str x20, [x8] (or str xzr, ...)
TP_LOAD_A64 = re.compile(r"^mrs\s+(x\d+),\s*tpidr_el0")
STORE_A64 = re.compile(r"^str\s+(xzr|x\d+),\s*\[(x\d+)(?:,\s*#\S+)?\]$")
CALL = r"(?:call|bl)\s"                            # x86-64 call, aarch64 bl
OBJDUMP = {"x86_64": "objdump", "aarch64": "aarch64-linux-gnu-objdump"}
CROSS_CC = {"aarch64": "aarch64-linux-gnu-gcc"}


@dataclass
class Sweep:
    res: sqtest.Result
    out: str
    rows: list

    def log(self):
        return self.res.log()

    @property
    def summary(self):
        m = SUMMARY_RE.search(self.res.stdout)
        assert m, "no summary line" + self.log()
        return {k: float(v) if k == "seconds" else int(v) for k, v in m.groupdict().items()}

    def strips(self):
        """function (strip) name -> its rows, in address order."""
        out = {}
        for r in self.rows:
            out.setdefault(r["function"], []).append(r)
        return out

    def unsafe(self):
        return [r for r in self.rows if r["outcome"] in UNSAFE]

    def replays(self):
        with open(os.path.join(self.out, "replay.sh")) as f:
            return [l.strip() for l in f if l.strip() and not l.startswith("#")]


class Sigpoke:
    """Runs sigpoke through the one sqtest runner, on the host or in a guest."""

    def __init__(self, out, target, variant_runner):
        self.out = out
        self.tg = target
        self.arch = target.arch
        self.runner = sqtest.Runner("fixed", target)
        self.runner.dir = out
        self.variant_runner = variant_runner
        self.remote = target.kind != "local"
        # The waits sigpoke counts in wall time (its cover phases, the wait
        # for a thread to reach an instruction, for a delivery), stretched
        # on a slow target: under TCG a 100 ms cover phase ends before the
        # program's threads start (6 of 265 instructions reached).
        sd = target.slowdown
        self.pace = [] if sd <= 2 else ["--cover", str(300 * sd), "--reach", str(1000 * sd), "-t", str(2000 * sd)]

    def target(self, variant):
        return os.path.join(self.out, "sigpoke-target", variant, "sp_window")

    def where(self, path):
        """A local path as the program sees it (in the guest: its copy)."""
        return self.tg.remote(path) if self.remote else path

    def run(self, *args, timeout=120, outdir=None):
        """sigpoke ARGS; with outdir (its -o), the directory comes back here."""
        if outdir and self.remote:
            self.tg.sh(f"rm -rf {shlex.quote(outdir)}")
        res = self.runner.run("sigpoke", *self.pace, *args, timeout=timeout)
        if outdir and self.remote:
            shutil.rmtree(outdir, ignore_errors=True)
            self.tg.fetch(outdir, os.path.dirname(outdir))
        return res

    def sweep(self, outdir, *args, timeout=120):
        res = self.run("-q", "-o", outdir, *args, timeout=timeout, outdir=outdir)
        assert res.rc in (0, 1), "sigpoke failed" + res.log()
        with open(os.path.join(outdir, "results.tsv")) as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        return Sweep(res, outdir, rows)


def make_sigpoke(target, variant_runner, out):
    """make -C tools/sigpoke for the target's arch: the host's own build as
    it is; a cross arch with its cross compiler, static, against
    build/<variant>-<arch>/libsq.a (through a directory of links named as
    the Makefile expects them)."""
    args = ["make", "--no-print-directory", "-C", TOOL, f"OUT={out}", "VARIANTS=fixed attachsig"]
    if target.arch != sqtest.HOST_ARCH:
        links = os.path.join(out, "sqbuild")
        os.makedirs(links, exist_ok=True)
        for v in ("fixed", "attachsig"):
            if not os.path.islink(os.path.join(links, v)):
                os.symlink(variant_runner(v).dir, os.path.join(links, v))
        args += [f"ARCH={target.arch}", f"CC={CROSS_CC[target.arch]}", "LDFLAGS=-static", f"SQBUILD={links}",
                 f"TCC=clang --target={target.arch}-linux-gnu -static"]
    # The target links build/<variant>/libsq.a: no make of the runtime meanwhile.
    with open(os.path.join(sqtest.BUILD, ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="session")
def sp(tmp_path_factory, target, variant_runner):
    if not os.path.exists(os.path.join(TOOL, "arch", f"{target.arch}.c")):
        pytest.skip(f"sigpoke has no {target.arch} port (tools/sigpoke/arch/)")
    if not target.can_ptrace:
        pytest.skip(sqtest.NO_PTRACE)
    for tool in ("make", OBJDUMP[target.arch], "clang") + ((CROSS_CC[target.arch],)
                                                          if target.arch != sqtest.HOST_ARCH else ()):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    for v in ("fixed", "attachsig"):
        variant_runner(v)
    out = os.environ.get("SIGPOKE_OUT") if target.host_native else None
    out = out or str(tmp_path_factory.mktemp(f"sigpoke-{target.name}"))
    b = make_sigpoke(target, variant_runner, out)
    if b.returncode != 0:
        pytest.fail(f"building sigpoke failed:\n{b.stdout[-4000:]}")
    s = Sigpoke(out, target, variant_runner)
    probe = s.run("--at", "main", "--settle", "0", s.target("fixed"), "1")
    if probe.rc == 3 and "Operation not permitted" in probe.stderr:
        pytest.skip("ptrace is not permitted here" + probe.log())
    return s


# The aarch64 port's first runs on a real kernel (a VM target) find what
# x86-64 never showed: under TCG, sweeps reach too few instructions within
# sigpoke's wall-time waits (reached 0, 64 or 325 of 450 in three runs of
# the same sweep), and the window checks assume x86-64's code layout
# (needm's blocked window ends at a `b` after the sigprocmask call, not at
# it). x86-64 guests under TCG show the first half too. Open, for
# sigpoke's owner (docs/vm.md): not failures of the target.
TCG_OPEN = ("sigpoke under TCG on a loaded host: its waits are wall time, and sweeps reach a varying "
            "share of the window (needm 85 of its instructions, minit none); near-native speed (KVM) needed")
A64_OPEN = ("sigpoke's aarch64 port on a real kernel: sweeps under TCG reach too few instructions, "
            "and the window checks assume x86-64's layout (docs/vm.md)")


@pytest.fixture(autouse=True)
def _aarch64_sweeps_open(request):
    cs = getattr(request.node, "callspec", None)
    t = cs.params.get("target") if cs else None
    if request.node.name.startswith("test_usage_errors") or t is None:
        return
    if t.arch == "aarch64":
        request.node.add_marker(pytest.mark.xfail(reason=A64_OPEN, strict=False))
    elif t.slowdown > 2:
        request.node.add_marker(pytest.mark.xfail(reason=TCG_OPEN, strict=False))


_sweeps = {}


def sweep(sp, tmp_path_factory, variant, mode, window, *extra):
    """One sweep per distinct arguments and session."""
    key = (variant, mode, window, extra)
    if key not in _sweeps:
        out = str(tmp_path_factory.mktemp(f"sweep-{variant}-{mode}"))
        _sweeps[key] = sp.sweep(out, "-w", window, *extra, sp.target(variant), mode)
    return _sweeps[key]


@pytest.fixture(scope="module", params=["unbound", "bound"])
def fixed_sweep(request, sp, tmp_path_factory):
    return sweep(sp, tmp_path_factory, "fixed", request.param, ",".join(ATTACH + SYSCALL))


@pytest.fixture(scope="module", params=["unbound", "bound"])
def attachsig_sweep(request, sp, tmp_path_factory):
    # Only the thread that calls in: runtime Ms run minit too, signals blocked.
    return sweep(sp, tmp_path_factory, "attachsig", request.param,
                 ",".join(ATTACH + SYSCALL), "--comm", "sp-callback")


def base(function):
    """dropm@sq_callback -> dropm"""
    return function.split("@")[0]


def unsafe_run(rows):
    """(first, last) index of the unsafe rows, checked to be one unbroken run."""
    idx = [i for i, r in enumerate(rows) if r["outcome"] in UNSAFE]
    assert idx == list(range(idx[0], idx[-1] + 1)), \
        "unsafe instructions are not contiguous: " + ", ".join(rows[i]["location"] for i in idx)
    return idx[0], idx[-1]


def writes_g(rows, i, clear=False):
    if rows[i]["instruction"].startswith(("str", "mrs", "stp")) or TP_LOAD_A64.match(rows[i]["instruction"]):
        return writes_g_a64(rows, i, clear)
    return writes_g_x86(rows, i, clear)


def writes_g_a64(rows, i, clear):
    """aarch64: str xM, [xN] with xN formed from tpidr_el0 a few instructions
    earlier (mrs xN, tpidr_el0; add xN, xN, #...)."""
    m = STORE_A64.match(re.sub(r"\s*//.*$", "", rows[i]["instruction"]))
    if not m or (m.group(1) == "xzr") != clear:
        return False
    base = m.group(2)
    for r in rows[max(0, i - 6):i]:
        t = TP_LOAD_A64.match(r["instruction"])
        if t and t.group(1) == base:
            return True
    return False


def writes_g_x86(rows, i, clear=False):
    """Does instruction i store to the thread's g (a %fs-relative TLS slot,
    initial-exec)? Either directly, mov %rax,%fs:(%rcx), or through the slot's
    address just formed from the thread pointer: mov %fs:0x0,%rcx;
    lea -0x28(%rcx),%rcx; mov %rax,(%rcx). clear: the value stored is 0."""
    m = STORE.match(re.sub(r"\s+#.*$", "", rows[i]["instruction"]))
    if not m or (m.group(1) == "$0x0") != clear:
        return False
    if m.group(2).startswith("%fs:"):
        return True
    base = m.group(3)
    for r in rows[max(0, i - 3):i]:
        t = TP_LOAD.match(r["instruction"])
        if t and t.group(1) == base:
            return True
    return False


def where(rows, i):
    return f"\n{rows[i]['location']}: {rows[i]['instruction']} ({rows[i]['outcome']})"


# ---- usage ----

def inside(prog, fn, arch=sqtest.HOST_ARCH):
    """fn+OFF inside its first instruction longer than one byte."""
    if arch == "aarch64":
        return f"{fn}+0x2"	# every instruction is 4 bytes
    d = subprocess.run([OBJDUMP[arch], "-d", f"--disassemble={fn}", prog],
                       capture_output=True, text=True, check=True).stdout
    ins = re.findall(r"^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)", d, re.M)
    start = int(ins[0][0], 16)
    for a, raw in ins:
        if len(raw.split()) > 1:
            return f"{fn}+{int(a, 16) - start + 1:#x}"
    pytest.fail(f"{fn} has only one-byte instructions")

@pytest.mark.parametrize("args,msg", [
    (["-w", "needm,nosuchfn", "{fixed}"], "unknown symbol nosuchfn"),
    (["--at", "nosuchfn+0x4", "{fixed}"], "unknown symbol nosuchfn"),
    (["-w", "needm", "/nonexistent/program"], "program not found"),
    (["-s", "SIGNOPE", "{fixed}"], "bad signal name SIGNOPE"),
    (["-s", "KILL", "{fixed}"], "bad signal name KILL"),
    (["--at", "{inside}", "{fixed}"], "not an instruction boundary"),
    (["--at", "needm+0x100000", "{fixed}"], "is outside needm"),
    (["-w", "needm", "--at", "needm", "{fixed}"], "exclude each other"),
    ([], "no PROGRAM"),
])
def test_usage_errors(sp, args, msg):
    fixed = sp.target("fixed")
    res = sp.run(*[a.format(fixed=fixed, inside=inside(fixed, "needm", sp.arch)) for a in args])
    assert res.rc == USAGE, "usage errors exit 2" + res.log()
    assert msg in res.stderr and "usage: sigpoke" in res.stderr, res.log()


# ---- fixed: nothing unsafe ----

def test_fixed_no_unsafe(fixed_sweep):
    s = fixed_sweep
    assert s.res.rc == 0, "fixed runtime: exit 0, no unsafe instruction" + s.log()
    assert not s.unsafe(), "unsafe instructions in the fixed runtime" + s.log()
    assert s.summary["unsafe"] == 0 and s.summary["undelivered"] == 0, s.log()
    assert s.replays() == [], s.log()
    reached = {f: sum(r["outcome"] != "notreached" for r in rows)
               for f, rows in s.strips().items()}
    for f in ("needm", "minit", "reentersyscall", "exitsyscall"):
        assert reached.get(f, 0) >= 10, f"{f} barely reached: {reached}" + s.log()
    assert any(base(f) == "dropm" and n >= 10 for f, n in reached.items()), \
        f"no copy of dropm reached: {reached}" + s.log()


def test_fixed_attach_detach_hold_signals_back(fixed_sweep):
    """Inside needm and dropm's windows the signal waits, blocked, until the
    sigprocmask that ends the window, and is then handled on the signal stack."""
    s = fixed_sweep
    for f, rows in s.strips().items():
        if base(f) not in ("needm", "dropm"):
            continue
        reached = [r for r in rows if r["outcome"] != "notreached"]
        if not any(r["outcome"] == "deferred" for r in reached):
            continue
        idx = [i for i, r in enumerate(reached) if r["outcome"] == "deferred"]
        assert idx == list(range(idx[0], idx[-1] + 1)), f"{f}: deferred not contiguous" + s.log()
        first, last = idx[0], idx[-1]
        assert re.search(CALL + r".*<os_sigprocmask>", reached[first - 1]["instruction"]), \
            f"{f}: the blocked window must start after sigprocmask" + where(reached, first - 1)
        assert re.search(CALL + r".*<os_sigprocmask>", reached[last]["instruction"]), \
            f"{f}: the blocked window must end at sigprocmask" + where(reached, last)
        for r in reached[first:last + 1]:
            assert r["delivered_at"].startswith("os_sigprocmask+"), r
    rows = s.strips()["needm"]
    stores = [i for i in range(len(rows)) if writes_g(rows, i)]
    assert stores and all(rows[i]["outcome"] == "deferred" for i in stores), \
        "the store of g lies inside needm's blocked window" + s.log()


# ---- attachsig: the unsafe instructions, exactly ----

def test_attachsig_unsafe_only_in_attach_detach(attachsig_sweep):
    s = attachsig_sweep
    assert s.res.rc == 1, "unsafe instructions found: exit 1" + s.log()
    bad = s.unsafe()
    assert bad, s.log()
    assert {base(r["function"]) for r in bad} <= set(ATTACH), \
        "unsafe instructions outside attach/detach" + s.log()
    for r in bad:
        assert r["outcome"] == "fatal" and r["detail"] == NOSIGSTACK, r
        assert r["delivered_at"] == r["location"], "delivered right there: not blocked" + str(r)
    assert s.summary["unsafe"] == len(bad) == len(s.replays()), s.log()


def test_attachsig_needm_between_g_and_sigaltstack(attachsig_sweep):
    s = attachsig_sweep
    rows = s.strips()["needm"]
    first, last = unsafe_run(rows)
    assert writes_g(rows, first - 1), \
        "the first unsafe instruction must follow the store of g" + where(rows, first - 1)
    assert rows[first - 1]["outcome"] == "clean", "g not yet set: safe" + where(rows, first - 1)
    assert re.search(CALL + r".*<minit>", rows[last]["instruction"]), \
        "needm's unsafe run ends at the call of minit" + where(rows, last)
    assert rows[last + 1]["outcome"] == "clean", "after minit: safe" + where(rows, last + 1)


def test_attachsig_minit_until_sigaltstack(attachsig_sweep):
    s = attachsig_sweep
    rows = s.strips()["minit"]
    first, last = unsafe_run(rows)
    assert first == 0, "all of minit before the sigaltstack call is unsafe" + where(rows, 0)
    assert re.search(CALL + r".*<os_sigaltstack>", rows[last]["instruction"]), \
        "minit's unsafe run ends at the sigaltstack call" + where(rows, last)
    assert rows[last + 1]["outcome"] not in UNSAFE, where(rows, last + 1)


def test_attachsig_dropm_between_sigaltstack_and_g(attachsig_sweep):
    s = attachsig_sweep
    copies = {f: rows for f, rows in s.strips().items()
              if base(f) == "dropm" and any(r["outcome"] in UNSAFE for r in rows)}
    assert copies, "no unsafe instruction in any copy of dropm" + s.log()
    for f, rows in copies.items():
        first, last = unsafe_run(rows)
        assert re.search(CALL + r".*<unminit>", rows[first - 1]["instruction"]), \
            f"{f}: unsafe only once unminit removed the signal stack" + where(rows, first - 1)
        assert writes_g(rows, last, clear=True), \
            f"{f}: the last unsafe instruction is the one clearing g" + where(rows, last)
        assert rows[last + 1]["outcome"] not in UNSAFE, where(rows, last + 1)


def test_attachsig_syscall_windows_clean(attachsig_sweep):
    s = attachsig_sweep
    for f, rows in s.strips().items():
        if base(f) in SYSCALL:
            assert not any(r["outcome"] in UNSAFE for r in rows), f + s.log()


def test_picture_and_table(attachsig_sweep):
    s = attachsig_sweep
    svg = ET.parse(os.path.join(s.out, "window.svg")).getroot()
    ns = {"s": "http://www.w3.org/2000/svg"}
    strips = svg.findall("s:g[@class='function']", ns)
    assert [g.get("id") for g in strips] == [f"fn-{f}" for f in s.strips()], s.log()
    for g, (f, rows) in zip(strips, s.strips().items()):
        cells = g.findall("s:rect[@class='insn']", ns)
        assert [c.get("data-loc") for c in cells] == [r["location"] for r in rows], f
        for c, r in zip(cells, rows):
            assert c.get("data-outcome") == r["outcome"], f
            if r["outcome"] == "fatal":
                assert c.get("fill") == "#d62728", "unsafe cells are red"
            if r["outcome"] == "notreached":
                assert c.get("fill") == "#c7c7c7", "unreached cells are grey"
    with open(os.path.join(s.out, "table.txt")) as f:
        table = f.read()
    for r in s.unsafe():
        assert re.search(rf"^{re.escape(r['function'])}\s+{re.escape(r['location'])}\s+"
                         rf"{r['address']}\s+fatal\s", table, re.M), r


def test_replay_unsafe_and_its_neighbour(sp, attachsig_sweep, tmp_path):
    s = attachsig_sweep
    cmd = [c for c in s.replays() if " --at needm+" in c][0]
    argv = shlex.split(cmd)
    assert argv[0] == sp.where(os.path.join(sp.out, "sigpoke")), cmd
    opts, prog = argv[1:argv.index("--")], argv[argv.index("--"):]
    res = sp.run(*opts, "-o", str(tmp_path / "unsafe"), *prog, outdir=str(tmp_path / "unsafe"))
    assert res.rc == 1, "a replay of an unsafe instruction exits 1" + res.log()
    assert f"fatal error: {NOSIGSTACK}" in open(tmp_path / "unsafe" / "logs" / "run-001.log").read()
    # One instruction earlier g is not set yet: the same poke is harmless.
    rows = s.strips()["needm"]
    first, _ = unsafe_run(rows)
    at = opts.index("--at") + 1
    if opts[at] == rows[first]["location"]:
        opts[at] = rows[first - 1]["location"]
        res = sp.run(*opts, *prog)
        assert res.rc == 0, "the instruction storing g is safe" + res.log()


def test_sigprof_finds_the_same_needm_window(sp, tmp_path_factory):
    urg = sweep(sp, tmp_path_factory, "attachsig", "unbound", ",".join(ATTACH + SYSCALL),
                "--comm", "sp-callback")
    prof = sweep(sp, tmp_path_factory, "attachsig", "unbound", "needm",
                 "--comm", "sp-callback", "-s", "SIGPROF")
    assert prof.res.rc == 1, prof.log()
    want = [r["location"] for r in urg.unsafe() if r["function"] == "needm"]
    assert [r["location"] for r in prof.unsafe()] == want, prof.log()
    assert all(r["detail"] == NOSIGSTACK for r in prof.unsafe()), prof.log()


# ---- the runtime's own test program, 8 threads, harness flavour ----

@pytest.mark.parametrize("variant", ["fixed", "attachsig"])
def test_rt_callback_threads(sp, variant, tmp_path):
    prog = sp.variant_runner(variant).path("tests/rt_callback")
    s = sp.sweep(str(tmp_path), "-E", "SQ_CALLBACK_BIND=0", "-w", ",".join(ATTACH),
                 prog, "threads", "1000000")
    if variant == "fixed":
        assert s.res.rc == 0 and not s.unsafe(), s.log()
        assert s.summary["deferred"] > 0, "signals blocked across attach/detach" + s.log()
    else:
        assert s.res.rc == 1 and s.unsafe(), s.log()
        assert {base(r["function"]) for r in s.unsafe()} <= set(ATTACH), s.log()
        assert all(r["detail"] == NOSIGSTACK for r in s.unsafe()), s.log()


def test_yield_fast_path_is_signal_safe(sp, tmp_path):
    """The yield fast path switches g to the next G and only then detaches
    the old one: a signal handler finds its M through g. With the two
    stores the other way round, three instructions of sq_yield are unsafe
    (the handler dereferences a G with no M); sweep every one of them."""
    prog = sp.variant_runner("fixed").path("tests/rt_sched")
    s = sp.sweep(str(tmp_path), "-w", "sq_yield", "-E", "SQ_MAXPROCS=1", prog, "yield-steal", "200000")
    summary = s.summary
    assert summary["reached"] > 50, s.log()
    assert summary["unsafe"] == 0, s.log()
