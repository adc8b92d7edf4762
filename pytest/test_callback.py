"""Signals, signal stacks, and foreign threads calling in (attach/detach)."""
import pytest


FLAVOURS = ["tests", "ntests"]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("bind", ["1", "0"], ids=["bound", "unbound"])
def test_8_threads_x_10000_callbacks(fixed, bind, flavour):
    r = fixed.run(f"{flavour}/rt_callback", "threads", 10000, env={"SQ_CALLBACK_BIND": bind}, timeout=120)
    r.assert_pass("threads")
    ev = dict(kv.split("=") for kv in [e for e in r.events("rt") if e[0] == "CALLBACKS"][0][1:])
    assert ev["calls"] == "80000" and ev["badmask"] == "0", r.log()
    assert ev["extram"] == ev["extram_total"], "extra Ms not all back on the list" + r.log()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_stack_switch_between_callbacks(fixed, flavour):
    r = fixed.run(f"{flavour}/rt_callback", "stackswitch")
    r.assert_pass("stackswitch")
    froms = [e[1] for e in r.events("rt") if e[0] == "CALLBACK"]
    want = ["from=pthread", "from=ucontext-1", "from=ucontext-2",
            "from=boost-1", "from=boost-2", "from=pthread-again"]
    if ["SKIP", "ucontext:"] in [e[:2] for e in r.events("rt")]:	# musl has no ucontext
        want = [w for w in want if "ucontext" not in w]
    assert froms == want, r.log()


def test_stack_switch_regress_fails_through_runtime_checks(variant_runner):
    r = variant_runner("stackswitch").run("tests/rt_callback", "stackswitch")
    assert r.rc == 2, r.log()
    assert r.fatal in ("morestack on g0", "invariant violated"), r.log()


def test_callback_inside_ccall_after_stack_switch(fixed):
    r = fixed.run("tests/rt_callback", "ccall-switch")
    r.assert_fatal("callback with sp out of bounds")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_callback_inside_ccall_on_the_same_g(fixed, flavour):
    r = fixed.run(f"{flavour}/rt_callback", "nested", env={"SQ_MAXPROCS": "2"})
    r.assert_pass("nested")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_callbacks_that_block(fixed, flavour):
    r = fixed.run(f"{flavour}/rt_callback", "blocking-callback", env={"SQ_MAXPROCS": "1"})
    r.assert_pass("blocking-callback")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_attach_detach_under_signal_storm(fixed, flavour):
    r = fixed.run(f"{flavour}/rt_callback", "attach-storm", 100000, timeout=300)
    r.assert_pass("attach-storm")
    ev = dict(kv.split("=") for kv in [e for e in r.events("rt") if e[0] == "STORM"][0][1:])
    assert int(ev["cycles"]) == 100000, r.log()
    # The storm really ran alongside, and SIGUSR1 reached the program's handler.
    assert int(ev["signals"]) > 1000 and int(ev["usr1"]) > 0, r.log()


def test_attach_storm_regress_attachsig_is_caught(variant_runner):
    """The storm finds the variant's window (in well under a second, native
    or emulated). Up to three runs: under qemu-riscv64 about one run in ten
    of the variant hangs instead, before printing anything (the fixed
    runtime did not in 16 runs; not yet explained, docs/arch.md), and a
    hang is not the finding this test is about."""
    runs = []
    for _ in range(3):
        r = variant_runner("attachsig").run("tests/rt_callback", "attach-storm", 100000, timeout=20)
        runs.append(r)
        if not r.timed_out:
            break
    assert not all(x.timed_out for x in runs), "every run hung" + runs[-1].log()
    r.assert_fatal("signal arrived on a thread with no signal stack")


# Between "g installed" and "signal stack ready", and the mirror on detach.
UNSAFE = ["needm.after_setg", "needm.before_minit", "dropm.after_unminit"]
# g and the signal stack are both whole (or both gone) here.
SAFE = ["needm.after_minit", "dropm.before_unminit", "dropm.after_clearg"]


@pytest.mark.parametrize("site", UNSAFE + SAFE)
def test_signal_at_attach_sites(fixed, variant_runner, site):
    """A signal raised inside the attach/detach window waits on the fixed
    runtime; without the fix it lands in the window, and only the unsafe
    points of the window are fatal."""
    env = {"SQ_FAULT": f"{site}:signal:every:SIGURG", "SQ_CALLBACK_BIND": "0"}
    fixed.run("tests/rt_callback", "threads", 100, env=env).assert_pass("threads")
    r = variant_runner("attachsig").run("tests/rt_callback", "threads", 100, env=env)
    if site in UNSAFE:
        r.assert_fatal("signal arrived on a thread with no signal stack")
    else:
        r.assert_pass("threads")


def test_systemstack_from_signal_handler(fixed, variant_runner):
    fixed.run("tests/rt_fatal", "systemstack-gsignal").assert_fatal("systemstack called from signal stack")
    r = variant_runner("gsignal-systemstack").run("tests/rt_fatal", "systemstack-gsignal")
    r.assert_no_fatal("systemstack called from signal stack")


def test_sigsegv_in_g_dumps_and_exits_2(fixed):
    r = fixed.run("tests/rt_fatal", "segv")
    r.assert_fatal("unexpected signal")
    assert "signal SIGSEGV" in r.stderr and "goroutine 1 [running]" in r.stderr, r.log()


def test_handler_installed_before_runtime_still_runs(fixed):
    fixed.run("tests/rt_callback", "forward").assert_pass("forward")


def test_sigprof_samples_are_counted(fixed):
    r = fixed.run("tests/rt_callback", "prof", timeout=60)
    r.assert_pass("prof")
