"""Cross-architecture checks: what only a multi-arch run can see (docs/arch.md).

- REGRESS=arm-systemstack-curg puts Go's ARM mistake back into the aarch64
  arch layer only: systemstack's "is gp the M's curg?" compares against g0.
  Detected on aarch64 (every systemstack from a G takes the bad path and
  throws); clean on x86-64, riscv64 and musl, where the variant's code is
  the fixed code byte for byte.
- MAP_STACK under qemu-user, where strace cannot run: `qemu-<arch> -strace`
  logs the guest's own mmap calls (MAP_STACK shows as 0x20000).

The arch tests build what they need themselves (not through --target), so
the detection is checked on every `make test`, whatever ARCH says.
"""
import os
import re
import subprocess

import pytest

import sqtest
from sqlib.campaign import Job

ARM = "arm-systemstack-curg"
BAD = "systemstack called from signal stack"	# the fixed code's own message, reached wrongly


def need(t):
    why = t.check()
    if why:
        pytest.skip(f"target {t.name}: {why}")
    return t


@pytest.fixture(scope="module")
def aarch64():
    return need(sqtest.target("qemu-aarch64"))


# ---- REGRESS=arm-systemstack-curg ---------------------------------------------

# Self-tests that reach systemstack from a G: startm (wakep with an idle P),
# runqputslow (a full local run queue), the syscall slow paths.
DETECTORS = [
    ("chain-P2", "tests/rt_sched", ("chain", 2000), {"SQ_MAXPROCS": "2"}, "chain"),
    ("chain-P1", "tests/rt_sched", ("chain", 2000), {"SQ_MAXPROCS": "1"}, "chain"),
    ("blocked-read", "ntests/rt_sched", ("blocked-read",), {"SQ_MAXPROCS": "2"}, "blocked-read"),
    ("nested-callback", "tests/rt_callback", ("nested",), {"SQ_MAXPROCS": "2"}, "nested"),
]


@pytest.mark.parametrize("name,prog,args,env,test", DETECTORS, ids=[d[0] for d in DETECTORS])
def test_arm_systemstack_curg_is_caught_on_aarch64(aarch64, name, prog, args, env, test):
    sqtest.build("fixed", "lib", "tests", target=aarch64).run(prog, *args, env=env).assert_pass(test)
    r = sqtest.build(ARM, "lib", "tests", target=aarch64).run(prog, *args, env=env)
    r.assert_fatal(BAD)
    # It throws from a G's systemstack, not from a signal handler.
    assert "goroutine" in r.stderr and "sighandler" not in r.stderr, r.log()


def test_arm_systemstack_curg_scenario_is_a_finding_on_aarch64(aarch64, tmp_path):
    """The harness's view: a scenario that expects clean ends in an
    unexpected fatal error, and leaves a reproducer that replays."""
    runner = sqtest.build(ARM, "lib", "scenarios", target=aarch64)
    job = Job("sc_syscall", "window", "none", seed=1, env={"SQ_MAXPROCS": "2"})
    rec = sqtest.run_job(job, runner, str(tmp_path))
    assert (rec["class"], rec["message"]) == ("unexpected-fatal", BAD), rec["stderr"][-3000:]
    assert os.path.exists(rec["repro"]) and os.path.exists(rec["log"])
    again = sqtest.run_job(Job.from_json(rec["job"]), runner)
    assert again["class"] == "unexpected-fatal", again["stderr"][-3000:]


@pytest.mark.parametrize("spec", ["local", "qemu-riscv64", "musl"])
def test_arm_systemstack_curg_is_invisible_elsewhere(spec):
    t = need(sqtest.target(spec))
    r = sqtest.build(ARM, "lib", "tests", target=t)
    for name, prog, args, env, test in DETECTORS:
        r.run(prog, *args, env=env).assert_pass(test)
    # And the gsignal check still works there.
    r.run("tests/rt_fatal", "systemstack-gsignal").assert_fatal(BAD)


def text_sections(obj):
    """The bytes of every executable section of an object file."""
    out = subprocess.run(["objdump", "-h", obj], stdout=subprocess.PIPE, text=True, check=True).stdout
    # The runtime's code is in its own section (sq_rt_text, runtime.h); asm.S too.
    names = re.findall(r"^\s*\d+\s+(\.text\S*|sq_rt_text)\s", out, re.M)
    data = {}
    for n in names:
        dump = subprocess.run(["objdump", "-s", "-j", n, obj], stdout=subprocess.PIPE, text=True,
                              check=True).stdout
        data[n] = dump.split("\n", 3)[-1]	# drop the header that names the file
    return data


@pytest.mark.parametrize("flavour", ["obj", "hobj"])
def test_arm_systemstack_curg_is_the_fixed_code_on_x86_64(flavour):
    """On x86-64 the variant is invisible by construction: its machine code
    is the fixed runtime's, byte for byte (the mistake lives in
    arch/aarch64/arch.h only)."""
    if sqtest.HOST_ARCH != "x86_64":
        pytest.skip(f"the host is {sqtest.HOST_ARCH}")
    fixed = sqtest.build("fixed", "lib")
    arm = sqtest.build(ARM, "lib")
    objs = sorted(f for f in os.listdir(os.path.join(fixed.dir, flavour)) if f.endswith(".o"))
    assert "proc.o" in objs
    for o in objs:
        a = text_sections(os.path.join(fixed.dir, flavour, o))
        assert a, f"{flavour}/{o}: no code sections found"
        b = text_sections(os.path.join(arm.dir, flavour, o))
        assert a == b, f"{flavour}/{o}: the {ARM} build's code differs from fixed on x86-64"


# ---- MAP_STACK under qemu-user ------------------------------------------------

QEMU_MMAP = re.compile(r"\bmmap\((0x[0-9a-f]+),(\d+),[^,]+,([A-Za-z_|0-9x]+),")


def qemu_map_stack_spans(log):
    """(lo, hi, has_map_stack) of each mmap at an explicit address that
    qemu -strace logged. Lines of different threads interleave and qemu
    prints some return values wrongly, so only the arguments are used: the
    runtime remaps each stack in place, at its own address, with MAP_FIXED."""
    out = []
    for m in QEMU_MMAP.finditer(log):
        lo = int(m.group(1), 16)
        if lo:
            out.append((lo, lo + int(m.group(2)), "0x20000" in m.group(3) or "MAP_STACK" in m.group(3)))
    return out


@pytest.mark.parametrize("variant,expect", [("fixed", True), ("mapstack", False)])
def test_every_runtime_stack_is_map_stack_under_qemu(target, variant_runner, tmp_path, variant, expect):
    """test_core's strace check, for targets where strace cannot run."""
    if target.kind != "qemu":
        pytest.skip("test_core.py checks MAP_STACK with strace on this target")
    prog = variant_runner(variant).path("tests/rt_stack")
    log = tmp_path / "qemu.strace"
    p = subprocess.run([target.emu, "-strace", "-D", str(log), prog, "list"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=300)
    r = sqtest.Result([target.emu, "-strace", "-D", str(log), prog, "list"], {}, p.returncode, p.stdout,
                      p.stderr, 0.0)
    r.assert_pass("list")
    stacks = [(e[1], int(e[2], 16), int(e[3], 16)) for e in r.events("rt") if e[0] == "STACK"]
    assert len(stacks) >= 10, r.log()
    spans = qemu_map_stack_spans(log.read_text(errors="replace"))
    for kind, lo, hi in stacks:
        cover = [stk for mlo, mhi, stk in spans if mlo <= lo and hi <= mhi]
        if expect:
            assert cover and cover[-1], f"{kind} stack {lo:#x}-{hi:#x}: not remapped MAP_STACK" + r.log()
        else:
            assert not any(cover), f"{kind} stack {lo:#x}-{hi:#x}: MAP_STACK in the mapstack variant" + r.log()
