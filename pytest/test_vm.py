"""VM targets (sqlib/vm.py): specs and pools without a guest, then a short smoke
on one x86-64 guest that `make test` runs every time.

The smoke boots vm:x86_64 (KVM where it is usable, else TCG: sqlib/vm.py says
why) and checks what a test relies on: a pass, a fatal error, a death by
signal, the environment going across, a timeout killed in the guest; then
that a guest which panics is killed and its test gets the console, and
that no QEMU outlives its owner (close(), and the owner's SIGKILL through
PDEATHSIG, checked on a stand-in child: no second boot). Skips with
the reason where /dev/kvm is missing: the whole suite runs on the pool in
`make test-vms` (docs/vm.md).
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import sqtest
from sqlib import proc, vm as sqvm

HERE = os.path.dirname(os.path.abspath(__file__))
# Under xdist, one worker runs the module: one smoke guest, not one per worker.
pytestmark = pytest.mark.xdist_group("vm-smoke")


# ---- specs and pools -----------------------------------------------------------

@pytest.mark.parametrize("spec,name,arch,cpus,suffix", [
    ("vm:x86_64", "vm-x86_64", "x86_64", 1, ""),
    ("vm:x86_64?cpus=4", "vm-x86_64-c4", "x86_64", 4, ""),
    ("vm:aarch64", "vm-aarch64", "aarch64", 2, "-aarch64"),
    ("vm:aarch64?cpus=1&mem=512&name=arm", "arm", "aarch64", 1, "-aarch64"),
])
def test_vm_specs(spec, name, arch, cpus, suffix):
    t = sqtest.target(spec)
    assert (t.kind, t.name, t.arch, t.cpus, t.suffix) == ("vm", name, arch, cpus, suffix)
    assert t.build_dir("fixed") == os.path.join(sqtest.BUILD, "fixed" + suffix)
    assert t.can_ptrace


@pytest.mark.parametrize("spec,msg", [
    ("vm:sparc", "bad vm target"),
    ("vm:x86_64?disk=1", "unknown disk"),
    ("vm:x86_64?accel=hvf", "accel is auto, kvm or tcg"),
])
def test_bad_vm_specs(spec, msg):
    with pytest.raises(ValueError, match=msg):
        sqtest.target(spec)


def test_pool_file_names_the_guests():
    """The pool make test-vms uses: two x86-64 guests (1 and 4 vCPUs), one aarch64."""
    import conftest
    ts = [sqtest.target(s) for s in conftest.pool_specs(os.path.join(HERE, "vm-pool.txt"))]
    assert [(t.kind, t.arch, t.cpus) for t in ts] == [("vm", "x86_64", 1), ("vm", "x86_64", 4),
                                                      ("vm", "aarch64", 2)]
    assert len({t.name for t in ts}) == 3, "each guest its own name (test ids, xdist groups)"


def test_stale_guest_swept(tmp_path):
    """A pidfile whose owner is gone: its QEMU (here a stand-in carrying the
    tag on its command line) is killed and the files removed; a live
    owner's guest is left alone."""
    tag = f"sqvm:stale-test:{os.getpid()}"
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", tag], start_new_session=True)
    child = subprocess.Popen(["true"])
    child.wait()		# a pid that is no longer alive
    for owner, name in ((child.pid, "gone"), (os.getpid(), "mine")):
        with open(tmp_path / f"{name}-{owner}.json", "w") as f:
            json.dump({"qemu": p.pid, "owner": owner, "tag": tag}, f)
    (tmp_path / f"gone-{child.pid}.console").write_text("x")
    try:
        assert sqvm.sweep_stale(str(tmp_path)) == [p.pid]
        assert p.wait(timeout=10) == -signal.SIGKILL
        assert sorted(os.listdir(tmp_path)) == [f"mine-{os.getpid()}.json"]
    finally:
        proc.killgroup(p.pid, signal.SIGKILL)


# ---- the smoke: one x86-64 guest -------------------------------------------------

def smoke_target():
    why = sqvm.kvm_unusable()
    if why and "missing" in why:
        pytest.skip(f"VM smoke: {why}")
    t = sqtest.target("vm:x86_64?name=vm-smoke")
    why = t.check()
    if why and "not installed" in why:
        pytest.skip(f"VM smoke: {why}")
    if why:
        pytest.fail(f"the smoke guest did not come up: {why}")
    return t


@pytest.fixture(scope="module")
def guest():
    t = smoke_target()
    yield t
    t.close()


def qemu_pids(tag):
    out = subprocess.run(["pgrep", "-f", tag], stdout=subprocess.PIPE, text=True).stdout
    return [int(p) for p in out.split()]


def test_smoke_guest_runs_the_tests(guest):
    assert guest.boots and guest.accel in ("kvm", "tcg")
    r = sqtest.build("fixed", "lib", "tests", target=guest)
    r.run("tests/rt_sched", "chain", 2000, env={"SQ_MAXPROCS": "2"}).assert_pass("chain")
    res = r.run("tests/rt_fatal", "systemstack-gsignal")
    res.assert_fatal("systemstack called from signal stack")
    assert res.extra["target"] == "vm-smoke"
    res = r.run("tests/rt_fatal", "segv", env={"SQ_CRASH": "abort"})
    assert res.rc == -6 and res.fatal == "unexpected signal", res.log()
    rc, out, _, _ = guest.run(["sh", "-c", "uname -m; cat /proc/sys/kernel/osrelease"])
    assert rc == 0 and out.split()[0] == "x86_64" and out.split()[1] != os.uname().release, out


def test_smoke_timeout_is_killed_in_the_guest(guest):
    r = sqtest.build("fixed", "lib", "tests", target=guest)
    res = r.run("tests/rt_callback", "attach-storm", 10**9, timeout=1)
    assert res.timed_out and res.rc == -6, res.log()
    rc, out, _, _ = guest.sh("pgrep -f '/[r]t_callback' || true")
    assert out.strip() == "", f"left running in the guest: {out}"


def test_smoke_panic_fails_the_test_with_the_console(guest):
    """Last in the module: the guest panics, the test gets a GuestFailure
    with the console, and QEMU is gone (the next run would boot again)."""
    tag = guest.tag
    with pytest.raises(sqvm.GuestFailure, match=r"(?s)failed.*console.*Kernel panic"):
        guest.run(["sh", "-c", "echo c > /proc/sysrq-trigger; sleep 30"], timeout=20)
    assert not guest.alive() and qemu_pids(tag) == []


def test_no_guest_outlives_its_owner():
    """The owner SIGKILLed (no atexit, no handler runs): PDEATHSIG ends the
    child QEMU would be, started the way VmTarget.boot starts QEMU."""
    code = ("import subprocess, sys, time; sys.path.insert(0, %r); from sqlib import vm as sqvm; "
            "p = subprocess.Popen(['sleep', '600'], start_new_session=True, preexec_fn=sqvm._die_with_parent); "
            "print(p.pid, flush=True); time.sleep(600)" % os.path.dirname(HERE))
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        child = int(owner.stdout.readline())
        assert sqvm._pid_alive(child)
        os.killpg(owner.pid, signal.SIGKILL)	# the child has a session of its own
        owner.wait()
        for _ in range(100):
            if not sqvm._pid_alive(child) or open(f"/proc/{child}/stat").read().split()[2] == "Z":
                break
            time.sleep(0.05)
        else:
            pytest.fail("the child outlived its owner")
    finally:
        proc.killgroup(owner.pid, signal.SIGKILL)
