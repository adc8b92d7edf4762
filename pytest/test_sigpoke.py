"""sigpoke: a signal at every instruction of a window.

Two parts, as the tool and the runtime are two things:

  - sigpoke's own machinery, on its stand-alone target (tools/sigpoke/tests/
    sp_attach.c: a hand-rolled attach/detach, no runtime), built with the
    tool by make -C tools/sigpoke OUT=<tmp> (or OUT=$SIGPOKE_OUT). Built
    twice: sp_attach_blocked (signals blocked across the windows) has no
    unsafe instruction; in sp_attach_open the unsafe instructions are exactly
    the ones after the store of curm up to the sigaltstack call, and after
    the sigaltstack call up to the store clearing curm. Every class a poke
    can end in, the records, the picture, replays, --comm and inlined copies
    are checked there.
  - the runtime's windows, with the runtime's window program
    build/<variant>/ntests/sp_window (runtime/tests/sp_window.c, built by
    the conftest fixtures with the variant): the fixed runtime has no unsafe
    instruction anywhere in needm, dropm, minit, unminit, entersyscall,
    reentersyscall, exitsyscall (their inlined copies included), and holds
    the signals sent inside the attach/detach windows back until the
    sigprocmask that ends them; in attachsig the unsafe instructions are
    exactly the ones between storing g and the end of minit's sigaltstack
    call (attach), and between unminit's sigaltstack call and clearing g
    (detach), and each one replays.

The tests read sigpoke's records (OUT/records.jsonl, one JSON object per
line, docs/sigpoke.md), never its table or summary line. Each sweep runs once
per session and target, and takes a second or a few on the host.

Where: the host, and VM targets (sqlib/vm.py), where the guest's own kernel
traces. sigpoke and its stand-alone targets are built for the guest's arch
(the host's build for an x86-64 guest; for aarch64 the cross gcc against
Debian's arm64 libdw and capstone, dynamic like the host's: the guest's
image has those libraries, tools/vm/mkimage.py), the runtime's programs
come from the target's build (build/<variant>-aarch64/), the target copies
them in, sigpoke sweeps there and what it wrote (-o DIR, --records FILE) is
brought back here. sigpoke's waits are wall time: on a slow target (TCG)
they are stretched by its slowdown (sqlib/sigpoke.py's pace), and the tests
whose verdict depends on how much of a window a sweep reaches in that time
are xfail there, with the reason (TCG_REACH). The instruction text is
capstone's: AT&T syntax on x86-64, ARM's on aarch64; the checks that read
it know both.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest

import sqtest
from sqlib import contract, outcome, records
from sqlib import sigpoke as injector

TOOL = os.path.join(sqtest.ROOT, "tools", "sigpoke")
# A poke's two observations (docs/sigpoke.md, "Records").
DELIVERIES = {"at", "deferred", "undelivered", "notreached", "untested"}
# The classes of the project's vocabulary (sqlib.outcome) that a poke can
# end in; a finding (an unsafe instruction) is any class but the good ones.
CLASSES = {"clean", "unexpected-fatal", "crash", "hang", "wrong-result", "skipped", "harness-error"}
assert CLASSES <= set(outcome.CLASSES)
GOOD = set(outcome.GOOD)
FINDINGS = CLASSES - GOOD
POKE_KEYS = ["rec", "addr", "func", "strip", "loc", "sym", "off", "delivery", "class", "unsafe",
             "late", "delivered_at", "run", "message", "insn"]
USAGE = 2

# The runtime's windows (runtime/tests/sp_window.c runs them).
ATTACH = ["needm", "dropm", "minit", "unminit"]
SYSCALL = ["entersyscall", "reentersyscall", "exitsyscall"]
NOSIGSTACK = contract.fatal("no_sigstack")["message"]
# The stand-alone target's window and its fatal message (tests/sp_attach.c).
SA_WINDOW = "attach,detach"
SA_BROKEN = "signal arrived with curm set but off its signal stack"

# The instruction text is capstone's (docs/sigpoke.md): x86-64 in AT&T
# syntax, aarch64 in ARM's.
TP_LOAD = re.compile(r"^movq?\s+%fs:0(?:x0)?,\s*(%\w+)")      # the thread pointer into a register
STORE = re.compile(r"^movq?\s+(\$0(?:x0)?|%\w+),\s*(%fs:\S+|\((%\w+)\))$")
# aarch64: mrs x10, tpidr_el0 ... str x8, [x10, x9] (or [x10], [x10, #8]; xzr to clear)
TP_LOAD_A64 = re.compile(r"^mrs\s+x(\d+),\s*tpidr_el0$")
STORE_A64 = re.compile(r"^str\s+(xzr|x\d+),\s*\[x(\d+)(?:,\s*(?:x\d+|#\S+))?\]$")
CALL = r"(?:callq?|bl)\s"		# x86-64 call, aarch64 bl
RET = re.compile(r"^retq?\b")
# The cross compiler that builds sigpoke for a guest of another arch.
CROSS_CC = {"aarch64": "aarch64-linux-gnu-gcc"}
# How far a sweep gets within sigpoke's waits decides these tests' verdicts;
# under TCG that varies with the host's load, whatever the waits.
TCG_REACH = ("under TCG (no usable KVM here) the share of a window a sweep reaches within sigpoke's "
             "wall-time waits varies with the host's load (the previous port measured 0, 64 and 325 "
             "of 450 instructions in three runs of one sweep): near-native speed needed")


def read_records(path):
    """The records of a file (sqlib.records)."""
    with open(path) as f:
        return records.parse(f.read())


@dataclass
class Sweep:
    res: sqtest.Result
    out: str
    records: list

    def log(self):
        return self.res.log()

    @property
    def rows(self):
        return [r for r in self.records if r["rec"] == "poke"]

    @property
    def summary(self):
        s = [r for r in self.records if r["rec"] == "summary"]
        assert len(s) == 1, "one summary record" + self.log()
        return s[0]

    def strips(self):
        """strip name ("dropm@sq_callback") -> its rows, in address order."""
        out = {}
        for r in self.rows:
            out.setdefault(r["strip"], []).append(r)
        return out

    def unsafe(self):
        return [r for r in self.rows if r["class"] in FINDINGS]

    def replays(self):
        with open(os.path.join(self.out, "replay.sh")) as f:
            return [l.strip() for l in f if l.strip() and not l.startswith("#")]


class Sigpoke:
    """Runs sigpoke through the one sqtest runner, on the host or on a
    target (a guest): there the target copies sigpoke and the programs in,
    and what sigpoke writes comes back here."""

    def __init__(self, out, target):
        self.out = out
        self.tg = target
        self.runner = sqtest.Runner("fixed", target)
        self.runner.dir = out
        self.remote = target.kind in ("vm", "ssh")
        self.injector_target = target if self.remote else None	# sqlib/sigpoke.py's sweep()
        # Before the test's own options, which win (sigpoke reads the last).
        self.pace = injector.pace(target.slowdown)

    def target(self, name):
        """A stand-alone target: sp_attach_blocked or sp_attach_open."""
        return os.path.join(self.out, "sigpoke-tests", name)

    def where(self, path):
        """A local path as sigpoke sees it (on a remote target: its copy)."""
        return self.tg.remote(path) if self.remote else path

    def run(self, *args, timeout=120, brings=()):
        """sigpoke ARGS; brings: the files and directories it writes (its
        -o DIR, --records FILE), brought back here from a remote target."""
        for p in brings if self.remote else ():
            self.tg.sh(f"rm -rf {shlex.quote(p)} && mkdir -p {shlex.quote(os.path.dirname(p))}")
        res = self.runner.run("sigpoke", *self.pace, *args, timeout=timeout)
        for p in brings if self.remote else ():
            if os.path.isdir(p):
                shutil.rmtree(p)
            if res.rc in (0, 1):	# else sigpoke wrote nothing: its exit says why
                self.tg.fetch(p, os.path.dirname(p))
        return res

    def sweep(self, outdir, *args, timeout=120):
        res = self.run("-q", "-o", outdir, *args, timeout=timeout, brings=[outdir])
        assert res.rc in (0, 1), "sigpoke failed" + res.log()
        return Sweep(res, outdir, read_records(os.path.join(outdir, "records.jsonl")))


def make_sigpoke(target, out):
    """make -C tools/sigpoke for the target's arch into out: the host's
    own build for the host's arch; for another arch its cross gcc, linked
    against Debian's libdw and capstone of that arch (multiarch: mk/deps.sh
    vm), dynamic like the host's build, so the guest needs those libraries
    (tools/vm/mkimage.py puts them in)."""
    args = ["make", "--no-print-directory", "-C", TOOL, f"OUT={out}"]
    if target.arch != sqtest.HOST_ARCH:
        args += [f"ARCH={target.arch}", f"CC={CROSS_CC[target.arch]}"]
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=sqtest.make_env())


def missing_to_build(arch):
    """Why sigpoke cannot be built for arch here, or None."""
    cc = "gcc" if arch == sqtest.HOST_ARCH else CROSS_CC[arch]
    for tool in ("make", cc):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (sh mk/deps.sh build cross)"
    for header, pkg in (("elfutils/libdw.h", "libdw-dev"), ("capstone/capstone.h", "libcapstone-dev")):
        if not os.path.exists(os.path.join("/usr/include", header)):
            return f"{pkg} is not installed (sh mk/deps.sh build)"
    if arch != sqtest.HOST_ARCH:	# Debian multiarch: /usr/lib/<triple>/
        for lib, pkg in (("libdw.so", "libdw-dev"), ("libcapstone.so", "libcapstone-dev")):
            if not os.path.exists(f"/usr/lib/{arch}-linux-gnu/{lib}"):
                return f"{pkg} for {arch} is not installed (sh mk/deps.sh vm)"
    return None


@pytest.fixture(scope="session")
def sp(tmp_path_factory, target):
    """sigpoke and its stand-alone targets for the target's arch: gcc, libc,
    libdw and capstone, no runtime."""
    if not os.path.exists(os.path.join(TOOL, "arch", f"{target.arch}.c")):
        pytest.skip(f"sigpoke has no {target.arch} port (tools/sigpoke/arch/)")
    if not target.can_ptrace:
        pytest.skip(sqtest.NO_PTRACE)
    why = missing_to_build(target.arch)
    if why:
        pytest.skip(why)
    out = os.environ.get("SIGPOKE_OUT") if target.host_native else None
    out = out or str(tmp_path_factory.mktemp(f"sigpoke-{target.name}"))
    b = make_sigpoke(target, out)
    if b.returncode != 0:
        pytest.fail(f"building sigpoke for {target.arch} failed:\n{b.stdout[-4000:]}")
    s = Sigpoke(out, target)
    probe = s.run("--at", "attach", "--settle", "0", s.target("sp_attach_blocked"), "1")
    if probe.rc == 3 and "Operation not permitted" in probe.stderr:
        pytest.skip("ptrace is not permitted here" + probe.log())
    return s


@pytest.fixture
def tcg_reach(request, target):
    """xfail under TCG, with the reason (TCG_REACH): the test's verdict
    depends on how much of a window a sweep reaches in wall time. Strict on
    the host and on KVM guests."""
    if getattr(target, "accel", None) == "tcg":
        request.node.add_marker(pytest.mark.xfail(reason=TCG_REACH, strict=False))


reach_bound = pytest.mark.usefixtures("tcg_reach")


@pytest.fixture(scope="session")
def sp_window(variant_runner):
    """variant -> the runtime's window program of that variant's build."""
    if shutil.which("clang") is None:
        pytest.skip("clang is not installed")
    return lambda variant: variant_runner(variant).path(os.path.join("ntests", "sp_window"))


_sweeps = {}


def sweep(sp, tmp_path_factory, window, prog, *args, opts=()):
    """One sweep of window in prog (run with args) per distinct arguments
    and session; opts are sigpoke's further options."""
    key = (sp.tg.name, window, prog, args, tuple(opts))
    if key not in _sweeps:
        out = str(tmp_path_factory.mktemp("sweep-" + "-".join(prog.split(os.sep)[-3:])))
        _sweeps[key] = sp.sweep(out, "-w", window, *opts, prog, *args)
    return _sweeps[key]


@pytest.fixture(scope="module")
def blocked_sweep(sp, tmp_path_factory):
    return sweep(sp, tmp_path_factory, SA_WINDOW, sp.target("sp_attach_blocked"))


@pytest.fixture(scope="module")
def open_sweep(sp, tmp_path_factory):
    return sweep(sp, tmp_path_factory, SA_WINDOW, sp.target("sp_attach_open"))


@pytest.fixture(scope="module", params=["unbound", "bound"])
def fixed_sweep(request, sp, sp_window, tmp_path_factory):
    return sweep(sp, tmp_path_factory, ",".join(ATTACH + SYSCALL), sp_window("fixed"), request.param)


@pytest.fixture(scope="module", params=["unbound", "bound"])
def attachsig_sweep(request, sp, sp_window, tmp_path_factory):
    # Only the thread that calls in: runtime Ms run minit too, signals blocked.
    return sweep(sp, tmp_path_factory, ",".join(ATTACH + SYSCALL), sp_window("attachsig"),
                 request.param, opts=("--comm", "sp-callback"))


def base(strip):
    """dropm@sq_callback -> dropm"""
    return strip.split("@")[0]


def reached(rows):
    return [r for r in rows if r["delivery"] != "notreached"]


def unsafe_run(rows):
    """(first, last) index of the unsafe rows, checked to be one unbroken run."""
    idx = [i for i, r in enumerate(rows) if r["class"] in FINDINGS]
    assert idx, "no unsafe instruction"
    assert idx == list(range(idx[0], idx[-1] + 1)), \
        "unsafe instructions are not contiguous: " + ", ".join(rows[i]["loc"] for i in idx)
    return idx[0], idx[-1]


def deferred_run(rows):
    """(first, last) index of the deferred rows, checked to be one unbroken run."""
    idx = [i for i, r in enumerate(rows) if r["delivery"] == "deferred"]
    assert idx == list(range(idx[0], idx[-1] + 1)), \
        "deferred instructions are not contiguous: " + ", ".join(rows[i]["loc"] for i in idx)
    return idx[0], idx[-1]


def body(rows):
    """A strip's rows up to its last return. What follows it is code the
    compiler moved out of line: on aarch64 clang puts needm's slow path
    (a new extra M, which branches back into the middle of needm) after its
    ret, inside the blocked window in execution order but past its end in
    address order. A strip without a return (an inlined copy) is all body."""
    rets = [i for i, r in enumerate(rows) if RET.match(r["insn"])]
    return rows[:rets[-1] + 1] if rets else rows


def safe_at(r):
    """Delivered right at the instruction, and the program went on."""
    return r["delivery"] == "at" and r["class"] == "clean"


def writes_tls(rows, i, clear=False):
    """Does instruction i store to a TLS slot through the thread pointer
    (the runtime's g, the stand-alone's curm; initial- or local-exec)?
    clear: the value stored is 0.
    x86-64: directly, movq %rax, %fs:(%rcx), or through the slot's address
    just formed from the thread pointer: movq %fs:0, %rcx; leaq -0x28(%rcx),
    %rcx; movq %rax, (%rcx).
    aarch64: str x8, [x10, x9] (or [x10], [x10, #off]) where x10 was last
    written by mrs x10, tpidr_el0 (any number of instructions earlier: clang
    forms the offset in between)."""
    insn = re.sub(r"\s+# .*$", "", rows[i]["insn"])	# x86-64's "# 0xADDR <sym>" note
    m = STORE_A64.match(insn)
    if m:
        return (m.group(1) == "xzr") == clear and tp_in(rows, i, int(m.group(2)))
    m = STORE.match(insn)
    if not m or (m.group(1) in ("$0", "$0x0")) != clear:
        return False
    if m.group(2).startswith("%fs:"):
        return True
    base = m.group(3)
    for r in rows[max(0, i - 3):i]:
        t = TP_LOAD.match(r["insn"])
        if t and t.group(1) == base:
            return True
    return False


def tp_in(rows, i, reg):
    """aarch64: does x<reg> hold the thread pointer at instruction i? Its
    last write before i, in the strip's order, is mrs x<reg>, tpidr_el0."""
    for r in reversed(rows[:i]):
        t = TP_LOAD_A64.match(r["insn"])
        if t and int(t.group(1)) == reg:
            return True
        if reg in a64_writes(r["insn"]):
            return False
    return False


def a64_writes(insn):
    """The general registers (numbers) an aarch64 instruction writes: its
    first operand, the first two of a load pair, none for stores, compares
    and branches, x0-x18 for a call (the ABI's caller-saved ones)."""
    mn, _, ops = insn.partition(" ")
    if mn in ("bl", "blr"):
        return set(range(19))
    if mn.startswith(("st", "cb", "tb", "b.", "prfm")) or mn in ("b", "br", "ret", "cmp", "cmn", "tst",
                                                                   "ccmp", "ccmn"):
        return set()
    dests = [o.strip() for o in ops.split(",")][:2 if mn in ("ldp", "ldnp", "ldxp", "ldaxp") else 1]
    return {int(d[1:]) for d in dests if re.fullmatch(r"[xw]\d+", d)}


def calls(row, fn):
    return re.search(rf"{CALL}.*<{fn}(@plt)?>", row["insn"]) is not None


def where(rows, i):
    return f"\n{rows[i]['loc']}: {rows[i]['insn']} ({rows[i]['delivery']}, {rows[i]['class']})"


_insides = {}


def inside(sp, prog, fn):
    """fn+OFF inside its first instruction longer than one byte (on aarch64
    the first: all are 4), from sigpoke's own --list of fn."""
    key = (sp.tg.name, prog, fn)
    if key not in _insides:
        res = sp.run("--list", "--no-inline", "-w", fn, prog)
        assert res.rc == 0, res.log()
        addrs = [int(r["addr"], 16) for r in records.of(records.parse(res.stdout), "insn")]
        wide = [a for a, b in zip(addrs, addrs[1:]) if b - a > 1]
        if not wide:
            pytest.fail(f"{fn} has only one-byte instructions" + res.log())
        _insides[key] = f"{fn}+{wide[0] - addrs[0] + 1:#x}"
    return _insides[key]


# ---- sigpoke itself, on the stand-alone target ----

def test_builds_without_the_runtime(tmp_path):
    """The tool and its test targets are built from tools/sigpoke alone,
    plus the project's header-only record writer: no runtime header, no
    libsq, nothing under build/ but OUT."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    n = subprocess.run(["make", "-n", "-B", "--no-print-directory", "-C", TOOL, f"OUT={tmp_path}"],
                       capture_output=True, text=True, env=sqtest.make_env())
    assert n.returncode == 0, n.stdout + n.stderr
    for word in ("runtime/", "libsq", "sq_contract", "build/"):
        assert word not in n.stdout, f"{word} in sigpoke's build:\n{n.stdout}"
    for d, _, files in os.walk(TOOL):
        for f in files:
            if f.endswith((".c", ".h")):
                with open(os.path.join(d, f)) as src:
                    inc = re.findall(r'^#include "([^"]+)"', src.read(), re.M)
                assert set(inc) <= {"sigpoke.h", "../sigpoke.h", "record.h"}, (f, inc)


@pytest.mark.parametrize("args,msg", [
    (["-w", "attach,nosuchfn", "{prog}"], "unknown symbol nosuchfn"),
    (["--at", "nosuchfn+0x4", "{prog}"], "unknown symbol nosuchfn"),
    (["-w", "attach", "/nonexistent/program"], "program not found"),
    (["-w", "attach", "-s", "SIGNOPE", "{prog}"], "bad signal name SIGNOPE"),
    (["-w", "attach", "-s", "KILL", "{prog}"], "bad signal name KILL"),
    (["--at", "{inside}", "{prog}"], "not an instruction boundary"),
    (["--at", "attach+0x100000", "{prog}"], "is outside attach"),
    (["-w", "attach", "--at", "attach", "{prog}"], "exclude each other"),
    (["-w", "setcurm", "--no-inline", "{prog}"], "unknown symbol setcurm"),
    (["{prog}"], "no window"),
    ([], "no window"),
    (["-w", "attach"], "no PROGRAM"),
    (["-w", "attach", "--seed", "3", "{prog}"], "--seed draws the sample"),
    (["--at", "attach", "--sample", "3", "{prog}"], "no --sample or --seed"),
    (["-w", "attach", "--max-seconds", "0", "{prog}"], "bad --max-seconds"),
])
def test_usage_errors(sp, args, msg):
    prog = sp.target("sp_attach_blocked")
    res = sp.run(*[a.format(prog=prog, inside=inside(sp, prog, "attach")) for a in args])
    assert res.rc == USAGE, "usage errors exit 2" + res.log()
    assert msg in res.stderr and "usage: sigpoke" in res.stderr, res.log()


@reach_bound
def test_records_one_json_object_per_line(open_sweep, sp, tmp_path):
    """records.jsonl: every line a record, "rec" first; a cover record, one
    poke per instruction with every member, a summary whose counts are the
    pokes'. --records FILE writes the same records."""
    s = open_sweep
    with open(os.path.join(s.out, "records.jsonl")) as f:
        lines = f.read().splitlines()
    assert lines and all(list(json.loads(l))[0] == "rec" for l in lines), lines[:3]
    kinds = [r["rec"] for r in s.records]
    assert kinds[0] == "cover" and kinds[-1] == "summary" and set(kinds[1:-1]) == {"poke"}, kinds
    for r in s.rows:
        assert list(r) == POKE_KEYS, r
        assert r["delivery"] in DELIVERIES and r["class"] in CLASSES, r
        assert r["unsafe"] == (r["class"] in FINDINGS), r
        assert r["loc"] == f"{r['sym']}+{r['off']:#x}", r
        assert (r["delivered_at"] is None) == (r["delivery"] not in ("at", "deferred")), r
        assert (r["class"] == "skipped") == (r["delivery"] in ("notreached", "untested")), r
    sm = s.summary
    assert sm["instructions"] == len(s.rows) == s.records[0]["instructions"], sm
    for k in DELIVERIES:
        assert sm[k] == sum(r["delivery"] == k for r in s.rows), (k, sm)
    for k in CLASSES:
        assert sm[k] == sum(r["class"] == k for r in s.rows), (k, sm)
    assert sm["unsafe"] == len(s.unsafe()) and sm["reached"] == len(reached(s.rows)), sm
    # The same poke, once into -o DIR, once into --records FILE.
    loc = s.unsafe()[0]["loc"]
    res = sp.run("-q", "-o", str(tmp_path / "o"), "--records", str(tmp_path / "r.jsonl"),
                 "--at", loc, sp.target("sp_attach_open"), brings=[str(tmp_path / "o"), str(tmp_path / "r.jsonl")])
    assert res.rc == 1, res.log()
    both = [read_records(p) for p in (tmp_path / "o" / "records.jsonl", tmp_path / "r.jsonl")]
    assert both[0] == both[1] and [r["rec"] for r in both[0]] == ["poke", "summary"], both


@reach_bound
def test_blocked_no_unsafe(blocked_sweep):
    s = blocked_sweep
    assert s.res.rc == 0, "signals blocked across the windows: exit 0" + s.log()
    assert not s.unsafe(), "unsafe instructions with signals blocked" + s.log()
    assert s.summary["unsafe"] == 0 and s.summary["undelivered"] == 0, s.log()
    assert s.replays() == [], s.log()
    for f in ("attach", "detach"):
        assert len(reached(s.strips()[f])) >= 20, f"{f} barely reached" + s.log()


@reach_bound
def test_blocked_signals_wait_for_the_unblocking(blocked_sweep):
    """Inside each window the signal waits, blocked, and is delivered at the
    return of the pthread_sigmask that ends the window: one place for all."""
    s = blocked_sweep
    for f in ("attach", "detach"):
        rows = reached(body(s.strips()[f]))
        first, last = deferred_run(rows)
        assert calls(rows[first - 1], "pthread_sigmask"), \
            f"{f}: the blocked window starts after pthread_sigmask" + where(rows, first - 1)
        assert calls(rows[last], "pthread_sigmask"), \
            f"{f}: the blocked window ends at pthread_sigmask" + where(rows, last)
        assert all(safe_at(r) and r["delivered_at"] == r["loc"]
                   for r in rows[:first] + rows[last + 1:]), f + s.log()
        at = {r["delivered_at"] for r in rows[first:last + 1]}
        assert len(at) == 1 and not at & {r["loc"] for r in rows}, \
            f"{f}: deferred to one place outside the window: {at}" + s.log()
        stores = [i for i in range(len(rows)) if writes_tls(rows, i, clear=f == "detach")]
        assert stores and all(first <= i <= last for i in stores), \
            f"{f}: the store of curm lies inside the blocked window" + s.log()


@reach_bound
def test_open_unsafe_exactly_the_windows(open_sweep):
    s = open_sweep
    assert s.res.rc == 1, "unsafe instructions found: exit 1" + s.log()
    for r in s.unsafe():
        assert r["class"] == "unexpected-fatal" and r["message"] == SA_BROKEN, r
        assert r["delivery"] == "at" and r["delivered_at"] == r["loc"], r
    assert s.summary["unsafe"] == len(s.unsafe()) == len(s.replays()), s.log()
    rows = reached(s.strips()["attach"])
    first, last = unsafe_run(rows)
    assert writes_tls(rows, first - 1), "attach: unsafe from the store of curm on" + where(rows, first - 1)
    assert safe_at(rows[first - 1]), "curm not yet set: safe" + where(rows, first - 1)
    assert calls(rows[last], "sigaltstack"), "attach: unsafe up to the sigaltstack call" + where(rows, last)
    assert safe_at(rows[last + 1]), "the signal stack installed: safe" + where(rows, last + 1)
    rows = reached(s.strips()["detach"])
    first, last = unsafe_run(rows)
    assert calls(rows[first - 1], "sigaltstack"), \
        "detach: unsafe once the signal stack is gone" + where(rows, first - 1)
    assert safe_at(rows[first - 1]), where(rows, first - 1)
    assert writes_tls(rows, last, clear=True), "detach: unsafe up to clearing curm" + where(rows, last)
    assert safe_at(rows[last + 1]), "curm cleared: safe" + where(rows, last + 1)


@pytest.mark.parametrize("mode,cls,message", [
    ("fatal", "unexpected-fatal", SA_BROKEN),
    ("crash", "crash", "killed by SIGABRT"),
    ("exit", "wrong-result", "exit status 1"),
    ("hang", "hang", "handler did not return within 300 ms"),
])
@reach_bound
def test_every_class_of_a_poke(sp, open_sweep, tmp_path, mode, cls, message):
    """The same unsafe instruction, the handler ending the program each way
    it can: each is its class, each is unsafe (exit 1). One instruction
    earlier the same poke is clean (exit 0)."""
    rows = reached(open_sweep.strips()["detach"])
    first, _ = unsafe_run(rows)
    prog = sp.target("sp_attach_open")
    res = sp.run("-q", "-t", "300", "-o", str(tmp_path), "--at", rows[first]["loc"], prog, mode,
                 brings=[str(tmp_path)])
    assert res.rc == 1, "an unsafe poke exits 1" + res.log()
    [r] = [r for r in read_records(tmp_path / "records.jsonl") if r["rec"] == "poke"]
    assert (r["delivery"], r["class"], r["message"], r["unsafe"]) == ("at", cls, message, True), r
    res = sp.run("-q", "-t", "300", "--at", rows[first - 1]["loc"], prog, mode)
    assert res.rc == 0, "the instruction before the window is safe" + res.log()


def test_no_handler_takes_the_default_action(sp, tmp_path):
    """SIGUSR1 has no handler in sp_attach: its default action kills."""
    res = sp.run("-q", "-s", "USR1", "-o", str(tmp_path), "--at", "attach",
                 sp.target("sp_attach_blocked"), brings=[str(tmp_path)])
    assert res.rc == 1, res.log()
    [r] = [r for r in read_records(tmp_path / "records.jsonl") if r["rec"] == "poke"]
    assert (r["delivery"], r["class"], r["message"]) == ("at", "crash", "killed by SIGUSR1"), r


@reach_bound
def test_comm_picks_the_thread(sp, open_sweep, tmp_path_factory):
    """-c sp-attach: the same unsafe instructions (the worker is the one
    thread that runs the window); -c with another name: nothing reached."""
    prog = sp.target("sp_attach_open")
    named = sweep(sp, tmp_path_factory, SA_WINDOW, prog, opts=("--comm", "sp-attach"))
    assert [r["loc"] for r in named.unsafe()] == [r["loc"] for r in open_sweep.unsafe()], named.log()
    other = sweep(sp, tmp_path_factory, SA_WINDOW, prog, opts=("--comm", "nosuchthread"))
    assert other.res.rc == 0 and other.summary["reached"] == 0, other.log()
    assert all(r["delivery"] == "notreached" and r["class"] == "skipped" for r in other.rows), other.log()


@reach_bound
def test_inlined_copies_are_strips(sp, open_sweep, tmp_path_factory):
    """setcurm has no out-of-line copy: -w setcurm sweeps its copies inlined
    into attach and detach (DWARF), named by where they are, with the
    classes the whole functions' sweep found there."""
    s = sweep(sp, tmp_path_factory, "setcurm", sp.target("sp_attach_open"))
    strips = s.strips()
    assert set(strips) == {"setcurm@attach", "setcurm@detach"}, s.log()
    whole = {r["loc"]: r for r in open_sweep.rows}
    for name, rows in strips.items():
        assert all(r["func"] == "setcurm" and r["sym"] == name.split("@")[1] for r in rows), rows
        for r in rows:
            assert (r["delivery"], r["class"]) == (whole[r["loc"]]["delivery"], whole[r["loc"]]["class"]), r
    assert not any(r["unsafe"] for r in strips["setcurm@attach"]), "curm set before any stack: safe"
    i = [k for k, r in enumerate(strips["setcurm@detach"]) if writes_tls(strips["setcurm@detach"], k, True)]
    assert i and strips["setcurm@detach"][i[0]]["unsafe"], s.log()


def check_picture_and_table(s):
    svg = ET.parse(os.path.join(s.out, "window.svg")).getroot()
    ns = {"s": "http://www.w3.org/2000/svg"}
    strips = svg.findall("s:g[@class='function']", ns)
    assert [g.get("id") for g in strips] == [f"fn-{f}" for f in s.strips()], s.log()
    for g, (f, rows) in zip(strips, s.strips().items()):
        cells = g.findall("s:rect[@class='insn']", ns)
        assert [c.get("data-loc") for c in cells] == [r["loc"] for r in rows], f
        for c, r in zip(cells, rows):
            assert (c.get("data-delivery"), c.get("data-class")) == (r["delivery"], r["class"]), f
            if r["class"] == "unexpected-fatal":
                assert c.get("fill") == "#d62728", "unsafe cells are red"
            if r["delivery"] == "notreached":
                assert c.get("fill") == "#c7c7c7", "unreached cells are grey"
    with open(os.path.join(s.out, "table.txt")) as f:
        table = f.read()
    assert s.unsafe(), s.log()
    for r in s.unsafe():
        assert re.search(rf"^{re.escape(r['strip'])}\s+{re.escape(r['loc'])}\s+"
                         rf"{r['addr']}\s+at\s+unexpected-fatal\s", table, re.M), r


@reach_bound
def test_picture_and_table(open_sweep):
    check_picture_and_table(open_sweep)


# ---- the runtime's windows: fixed, nothing unsafe ----

@reach_bound
def test_fixed_no_unsafe(fixed_sweep):
    s = fixed_sweep
    assert s.res.rc == 0, "fixed runtime: exit 0, no unsafe instruction" + s.log()
    assert not s.unsafe(), "unsafe instructions in the fixed runtime" + s.log()
    assert s.summary["unsafe"] == 0 and s.summary["undelivered"] == 0, s.log()
    assert s.replays() == [], s.log()
    n = {f: len(reached(rows)) for f, rows in s.strips().items()}
    for f in ("needm", "minit"):
        assert n.get(f, 0) >= 10, f"{f} barely reached: {n}" + s.log()
    # The window's way out and back in run inlined (into syscall_on_g,
    # sq_ccall and cgocallbackg); any copy will do.
    for f in ("dropm", "reentersyscall", "exitsyscall"):
        assert any(base(c) == f and k >= 10 for c, k in n.items()), \
            f"no copy of {f} reached: {n}" + s.log()


@reach_bound
def test_fixed_attach_detach_keep_signals_open(fixed_sweep):
    """needm and dropm block nothing and leave the thread's mask alone: a
    signal poked at any of their instructions is handled right there, and
    the run goes on. That holds because g goes in only after minit has
    installed the signal stack, and comes out before unminit removes it."""
    s = fixed_sweep
    for f, strip in s.strips().items():
        if base(f) not in ("needm", "dropm"):
            continue
        assert not any(calls(r, "os_sigprocmask") for r in strip), f"{f} changes the mask" + s.log()
        rows = reached(strip)
        for i, r in enumerate(rows):
            assert safe_at(r), f"{f}: not handled at the instruction" + where(rows, i)
    rows = s.strips()["needm"]
    stores = [i for i in range(len(rows)) if writes_tls(rows, i)]
    inits = [i for i, r in enumerate(rows) if calls(r, "minit")]
    assert stores and inits, "needm: no store of g or no call of minit" + s.log()
    assert min(stores) > max(inits), "needm stores g before minit" + where(rows, min(stores))
    assert all(safe_at(rows[i]) for i in stores), "the store of g was poked and survived" + s.log()
    seen = 0
    for f, rows in s.strips().items():
        clears = [i for i in range(len(rows)) if writes_tls(rows, i, clear=True)]
        uninits = [i for i, r in enumerate(rows) if calls(r, "unminit")]
        if base(f) != "dropm" or not clears or not uninits:
            continue
        seen += 1
        assert max(clears) < min(uninits), f"{f} clears g after unminit" + where(rows, max(clears))
    assert seen, "no copy of dropm that clears g and calls unminit" + s.log()


# ---- the runtime's windows: attachsig, the unsafe instructions exactly ----

@reach_bound
def test_attachsig_unsafe_only_in_attach_detach(attachsig_sweep):
    s = attachsig_sweep
    assert s.res.rc == 1, "unsafe instructions found: exit 1" + s.log()
    bad = s.unsafe()
    assert bad, s.log()
    assert {r["func"] for r in bad} <= set(ATTACH), "unsafe instructions outside attach/detach" + s.log()
    for r in bad:
        assert r["class"] == "unexpected-fatal" and r["message"] == NOSIGSTACK, r
        assert r["delivery"] == "at" and r["delivered_at"] == r["loc"], "delivered right there: not blocked" + str(r)
    assert s.summary["unsafe"] == len(bad) == len(s.replays()), s.log()


@reach_bound
def test_attachsig_needm_between_g_and_sigaltstack(attachsig_sweep):
    s = attachsig_sweep
    rows = s.strips()["needm"]
    first, last = unsafe_run(rows)
    assert writes_tls(rows, first - 1), \
        "the first unsafe instruction must follow the store of g" + where(rows, first - 1)
    assert safe_at(rows[first - 1]), "g not yet set: safe" + where(rows, first - 1)
    assert calls(rows[last], "minit"), "needm's unsafe run ends at the call of minit" + where(rows, last)
    assert safe_at(rows[last + 1]), "after minit: safe" + where(rows, last + 1)


@reach_bound
def test_attachsig_minit_until_sigaltstack(attachsig_sweep):
    s = attachsig_sweep
    rows = s.strips()["minit"]
    first, last = unsafe_run(rows)
    assert first == 0, "all of minit before the sigaltstack call is unsafe" + where(rows, 0)
    assert calls(rows[last], "os_sigaltstack"), \
        "minit's unsafe run ends at the sigaltstack call" + where(rows, last)
    assert rows[last + 1]["class"] not in FINDINGS, where(rows, last + 1)


@reach_bound
def test_attachsig_dropm_between_sigaltstack_and_g(attachsig_sweep):
    s = attachsig_sweep
    copies = {f: rows for f, rows in s.strips().items()
              if base(f) == "dropm" and any(r["class"] in FINDINGS for r in rows)}
    assert copies, "no unsafe instruction in any copy of dropm" + s.log()
    for f, rows in copies.items():
        first, last = unsafe_run(rows)
        assert calls(rows[first - 1], "unminit"), \
            f"{f}: unsafe only once unminit removed the signal stack" + where(rows, first - 1)
        assert writes_tls(rows, last, clear=True), \
            f"{f}: the last unsafe instruction is the one clearing g" + where(rows, last)
        assert rows[last + 1]["class"] not in FINDINGS, where(rows, last + 1)


@reach_bound
def test_attachsig_syscall_windows_clean(attachsig_sweep):
    s = attachsig_sweep
    for f, rows in s.strips().items():
        if base(f) in SYSCALL:
            assert not any(r["class"] in FINDINGS for r in rows), f + s.log()


@reach_bound
def test_attachsig_picture_and_table(attachsig_sweep):
    check_picture_and_table(attachsig_sweep)


@reach_bound
def test_replay_unsafe_and_its_neighbour(sp, attachsig_sweep, tmp_path):
    s = attachsig_sweep
    cmd = [c for c in s.replays() if " --at needm+" in c][0]
    argv = shlex.split(cmd)
    assert argv[0] == sp.where(os.path.join(sp.out, "sigpoke")), cmd
    opts, prog = argv[1:argv.index("--")], argv[argv.index("--"):]
    res = sp.run(*opts, "-o", str(tmp_path / "unsafe"), *prog, brings=[str(tmp_path / "unsafe")])
    assert res.rc == 1, "a replay of an unsafe instruction exits 1" + res.log()
    assert f"fatal error: {NOSIGSTACK}" in open(tmp_path / "unsafe" / "logs" / "run-001.log").read()
    # One instruction earlier g is not set yet: the same poke is harmless.
    rows = s.strips()["needm"]
    first, _ = unsafe_run(rows)
    at = opts.index("--at") + 1
    if opts[at] == rows[first]["loc"]:
        opts[at] = rows[first - 1]["loc"]
        res = sp.run(*opts, *prog)
        assert res.rc == 0, "the instruction storing g is safe" + res.log()


@reach_bound
def test_sigprof_finds_the_same_needm_window(sp, sp_window, tmp_path_factory):
    prog = sp_window("attachsig")
    urg = sweep(sp, tmp_path_factory, ",".join(ATTACH + SYSCALL), prog, "unbound",
                opts=("--comm", "sp-callback"))
    prof = sweep(sp, tmp_path_factory, "needm", prog, "unbound",
                 opts=("--comm", "sp-callback", "-s", "SIGPROF"))
    assert prof.res.rc == 1, prof.log()
    want = [r["loc"] for r in urg.unsafe() if r["strip"] == "needm"]
    assert [r["loc"] for r in prof.unsafe()] == want, prof.log()
    assert all(r["message"] == NOSIGSTACK for r in prof.unsafe()), prof.log()


# ---- the runtime's own test programs ----

@reach_bound
@pytest.mark.parametrize("variant", ["fixed", "attachsig"])
def test_rt_callback_threads(sp, variant_runner, variant, tmp_path):
    """8 threads calling in, harness flavour."""
    prog = variant_runner(variant).path(os.path.join("tests", "rt_callback"))
    s = sp.sweep(str(tmp_path), "-E", "SQ_CALLBACK_BIND=0", "-w", ",".join(ATTACH),
                 prog, "threads", "1000000")
    if variant == "fixed":
        assert s.res.rc == 0 and not s.unsafe(), s.log()
        assert s.summary["deferred"] > 0, "signals blocked across attach/detach" + s.log()
    else:
        assert s.res.rc == 1 and s.unsafe(), s.log()
        assert {r["func"] for r in s.unsafe()} <= set(ATTACH), s.log()
        assert all(r["message"] == NOSIGSTACK for r in s.unsafe()), s.log()


@reach_bound
def test_yield_fast_path_is_signal_safe(sp, fixed, tmp_path):
    """The yield fast path switches g to the next G and only then detaches
    the old one: a signal handler finds its M through g. With the two
    stores the other way round, three instructions of sq_yield are unsafe
    (the handler dereferences a G with no M); sweep every one of them."""
    prog = fixed.path(os.path.join("tests", "rt_sched"))
    s = sp.sweep(str(tmp_path), "-w", "sq_yield", "-E", "SQ_MAXPROCS=1", prog, "yield-steal", "200000")
    assert s.summary["reached"] > 50, s.log()
    assert s.summary["unsafe"] == 0, s.log()


# ---- bounds: --list, --max-seconds, --sample/--seed ----

def test_list_prints_the_window_without_running(sp, open_sweep):
    """--list: the window's instructions as records, the sweep's own, and
    PROGRAM never runs (an argument it would reject is never seen)."""
    res = sp.run("--list", "-w", SA_WINDOW, sp.target("sp_attach_open"), "not-a-mode")
    assert res.rc == 0, res.log()
    recs = records.parse(res.stdout)
    insns = records.of(recs, "insn")
    assert [(r["addr"], r["strip"], r["loc"], r["insn"]) for r in insns] == \
        [(r["addr"], r["strip"], r["loc"], r["insn"]) for r in open_sweep.rows], res.log()
    w = records.first(recs, "window")
    assert w and w["instructions"] == len(insns) and w["setup_ms"] >= 0, res.log()


def test_max_seconds_leaves_the_rest_untested(sp, tmp_path):
    """A deadline inside the cover run (its first phase lasts --cover ms,
    and the deadline comes as many ms after sigpoke starts): nothing is
    poked, everything is untested, not "not reached", and the summary says
    the sweep was cut. Exit 0: nothing unsafe was found."""
    s = sp.sweep(str(tmp_path), "--max-seconds", "0.1", "--cover", "100", "-w", SA_WINDOW,
                 sp.target("sp_attach_open"))
    assert s.res.rc == 0, s.log()
    sm = s.summary
    assert sm["cut"] is True and sm["untested"] == sm["instructions"] == len(s.rows), s.log()
    assert all(r["message"] == "not poked: --max-seconds ran out" for r in s.rows), s.log()


def chosen(s):
    return [r["loc"] for r in s.rows if not r["message"].startswith("not in the sample")]


def test_sample_is_drawn_from_the_seed(sp, tmp_path):
    """--sample N --seed S pokes N instructions that the seed alone picks:
    the same seed, the same ones; the rest are untested."""
    prog = sp.target("sp_attach_open")
    a, b, c = (sp.sweep(str(tmp_path / d), "--sample", "8", "--seed", seed, "-w", SA_WINDOW, prog)
               for d, seed in (("a", "5"), ("b", "5"), ("c", "6")))
    assert len(chosen(a)) == 8 and chosen(a) == chosen(b), a.log() + b.log()
    assert chosen(a) != chosen(c), "another seed, another sample" + c.log()
    assert a.summary["sample"] == 8 and a.summary["seed"] == 5, a.log()
    assert a.summary["untested"] == len(a.rows) - 8, a.log()
    assert all(r["loc"] in chosen(a) for r in a.rows if r["delivery"] not in ("untested", "notreached")), a.log()


# ---- the campaign's injector: sqlib/sigpoke.py ----

BUDGET = 20	# seconds per sweep: a whole window takes 1-5 here (docs/sigpoke.md)


def injector_bin(sp):
    return os.path.join(sp.out, "sigpoke")


def budget(sp):
    """BUDGET, or on a slow target (paced) 3x: its cover run alone takes
    two stretched phases (sqlib/sigpoke.py's pace), 20 s under TCG."""
    return BUDGET * 3 if sp.pace else BUDGET


def test_windows_are_the_contracts(sp, sp_window):
    """The injector's windows are the contract's (SQ_WINDOWS); each one's
    functions are in the runtime's window program, and its mode runs."""
    ws = injector.windows()
    assert list(ws) == [w["name"] for w in contract.windows()]
    assert {"attach", "detach", "syscall", "sighandler"} <= set(ws)
    prog = sp_window("fixed")
    for w in ws.values():
        res = sp.run("--list", "-w", ",".join(w.functions), prog)
        assert res.rc == 0 and records.of(records.parse(res.stdout), "insn"), w.name + res.log()
        argv = injector.program(os.path.dirname(os.path.dirname(prog)), w)
        assert argv == [prog, w.mode], argv
        sqtest.Runner("fixed", sp.tg).run(os.path.join("ntests", "sp_window"), w.mode, 200).assert_pass()


@reach_bound
@pytest.mark.parametrize("name", list(injector.windows()))
def test_fixed_bounded_sweep_finds_nothing(sp, sp_window, tmp_path, name):
    """A bounded sweep of each window of the fixed runtime: no finding, and
    the sweep did poke (it is no sweep of nothing)."""
    bdir = os.path.dirname(os.path.dirname(sp_window("fixed")))
    f = injector.sweep(injector.program(bdir, name), {}, name, budget(sp), str(tmp_path),
                       sigpoke=injector_bin(sp), target=sp.injector_target)
    log = f"\n{' '.join(f.command)}\n{f.run.stderr[-3000:]}"
    assert f == [], "\n".join(x.command() + f"  # {x.cls}: {x.message}" for x in f) + log
    assert f.summary["reached"] > 0 and f.summary["unsafe"] == 0, f.summary
    assert "--max-seconds" in f.command, f.command


@reach_bound
def test_attachsig_attach_finding_replays(sp, sp_window, tmp_path):
    """The attach window of attachsig: findings, each an unsafe instruction
    of needm or minit with its class and message, and a reproducer, the one
    sigpoke command (--at LOC) that pokes it again: unsafe again."""
    bdir = os.path.dirname(os.path.dirname(sp_window("attachsig")))
    argv = injector.program(bdir, "attach")
    f = injector.sweep(argv, {}, "attach", budget(sp), str(tmp_path), sigpoke=injector_bin(sp),
                       target=sp.injector_target)
    assert f, f"no finding\n{' '.join(f.command)}\n{f.run.stderr[-3000:]}"
    for x in f:
        assert (x.cls, x.message) == ("unexpected-fatal", NOSIGSTACK), x
        assert x.func in ("needm", "minit") and x.loc.split("+")[0] in ("needm", "minit"), x
        assert x.reproducer == [injector_bin(sp), "--at", x.loc, "--signal", "SIGURG",
                                "--comm", "sp-callback"] + sp.pace + ["--"] + argv, x.reproducer
        assert x.addr.startswith("0x") and x.insn and os.path.exists(x.log), x
    x = f[len(f) // 2]
    assert injector.replay(x) == ("unexpected-fatal", NOSIGSTACK), x.command()
    rec = x.record()
    assert rec["class"] == x.cls and rec["command"] == x.command() and "fatal error: " in rec["stderr"], rec
    assert rec["signature"] == x.signature() and x.loc in rec["label"], rec


def test_sweep_failure_is_one_harness_error(sp, tmp_path):
    """sigpoke that cannot sweep (no such program) is a finding too: class
    harness-error, the sweep's own command its reproducer."""
    f = injector.sweep(["/nonexistent/program"], {}, "attach", budget(sp), str(tmp_path),
                       sigpoke=injector_bin(sp), target=sp.injector_target)
    assert len(f) == 1 and f[0].cls == "harness-error", f
    assert "program not found" in f[0].message and f[0].reproducer == f.command, f[0]


@reach_bound
def test_seeded_injector_sweep(sp, tmp_path):
    """A seeded sweep through the injector pokes a sample drawn from the
    caller's seed; the environment goes to the program with -E, so the
    reproducers stand alone."""
    w = injector.Window("sa", ("attach", "detach"), "", "", "the stand-alone target")
    prog = [sp.target("sp_attach_open")]
    f = injector.sweep(prog, {"SA_NOTHING": "1"}, w, budget(sp), str(tmp_path), seed=11, sample=35,
                       sigpoke=injector_bin(sp), target=sp.injector_target)
    assert f and f.summary["seed"] == 11 and f.summary["sample"] == 35, f.summary
    assert all(x.message == SA_BROKEN for x in f), f
    assert all(x.reproducer[-4:] == ["-E", "SA_NOTHING=1", "--", prog[0]] for x in f), f[0].reproducer
