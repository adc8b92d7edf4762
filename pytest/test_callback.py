"""Signals, signal stacks, and foreign threads calling in (attach/detach)."""
import re
import signal

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
    or emulated), and the fatal path ends the process even with a storm of
    signals landing in it (a hang here was the fatal path spinning on its
    own print lock under qemu-riscv64, docs/arch.md)."""
    r = variant_runner("attachsig").run("tests/rt_callback", "attach-storm", 100000, timeout=60)
    r.assert_fatal("signal arrived on a thread with no signal stack")


# Between "g installed" and "signal stack ready", and the mirror on detach.
UNSAFE = ["needm.after_setg", "needm.before_minit", "dropm.after_unminit"]
# g and the signal stack are both whole (or both gone) here.
SAFE = ["needm.after_minit", "dropm.before_unminit", "dropm.after_clearg"]


BINDS = pytest.mark.parametrize("bind", ["1", "0"], ids=["bound", "unbound"])


@BINDS
@pytest.mark.parametrize("how", ["ccall", "direct"])
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_no_false_deadlock_while_a_c_thread_may_call_in(fixed, bind, how, flavour):
    """The main G starts a C thread (from sq_ccall's C, or straight from the
    G) that calls in a moment later, and blocks on a channel until it does:
    every M is idle meanwhile, but a thread the runtime does not own exists,
    so no deadlock (the other direction is test_fatal.py's
    deadlock-after-callback: once that thread is gone, it is one)."""
    r = fixed.run(f"{flavour}/rt_callback", "late-caller", how, env={"SQ_CALLBACK_BIND": bind, "SQ_MAXPROCS": "1"})
    r.assert_pass("late-caller")


@BINDS
def test_a_threads_callback_g_between_two_callbacks(fixed, bind):
    """A thread makes a callback, waits in its own C, then makes another and
    exits. While it waits its callback G is the thread's, not a goroutine:
    sq_stats counts none, the quiescent check finds nothing, and the dump
    shows it (bound) still in its window, as Go's extra M's goroutine; an
    unbound thread has detached, and its G is dead. After the exit the M is
    free with its G dead: the quiescent check passes again."""
    r = fixed.run("tests/rt_callback", "between-callbacks", "dump", env={"SQ_CALLBACK_BIND": bind})
    r.assert_pass("between-callbacks")
    ev = [e for e in r.events("rt") if e[0] == "BETWEEN"][0]
    assert ev[1:4] == ["gcount=0", "check=0", "after=0"], r.log()
    gs = [l for l in r.stderr.splitlines() if l.startswith("goroutine ")]
    if bind == "1":
        assert len(gs) == 1 and "[syscall, in C between callbacks]" in gs[0], r.log()
        assert gs[0].endswith(" throwsplit locked"), r.log()
    else:
        assert gs == [], r.log()


@BINDS
@pytest.mark.parametrize("procs", [1, 2])
def test_callback_g_is_locked_to_its_thread(fixed, bind, procs):
    """A callback's G that blocks comes back on its thread's M; a lock count
    it leaves behind ends with the callback (as Go's cgocallbackg locks and
    unlocks around the call)."""
    r = fixed.run("tests/rt_callback", "callback-lock", env={"SQ_CALLBACK_BIND": bind, "SQ_MAXPROCS": str(procs)})
    r.assert_pass("callback-lock")


@BINDS
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_threads_keep_their_own_signal_stacks(fixed, bind, flavour):
    """Threads with signal stacks of their own call in under SIGPROF and
    SIGURG, and put in new ones between callbacks: after each callback the
    one they installed last is in place, and no signal lands on a stack the
    runtime does not accept."""
    r = fixed.run(f"{flavour}/rt_callback", "own-sigstack", 2000, env={"SQ_CALLBACK_BIND": bind}, timeout=120)
    r.assert_pass("own-sigstack")


@BINDS
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_signals_after_a_thread_takes_its_own_signal_stack_away(fixed, bind, flavour):
    """A thread takes its signal stack away between callbacks (as Rust's std
    does at thread exit, before the key destructor detaches a bound M) and
    takes the runtime's signals and a host's on the stack it is on: each is
    handled there, the host's handler gets every SIGUSR1, and nothing is
    fatal."""
    r = fixed.run(f"{flavour}/rt_callback", "own-sigstack-gone", 200, env={"SQ_CALLBACK_BIND": bind}, timeout=120)
    r.assert_pass("own-sigstack-gone")
    gone = [e for e in r.events("rt") if e[0] == "GONE"][0]
    assert gone[1:] == ["rounds=800", "signals=4000", "host-usr1=800"], r.log()


@BINDS
@pytest.mark.parametrize("how", [(), ("reinstall",)], ids=["adopted", "reinstalled"])
def test_gsignal_follows_the_threads_own_stack(fixed, bind, how):
    """A program's handler recursing without end on a thread's own signal
    stack: "morestack on gsignal" with exactly that stack's bounds, whether
    the stack was there at attach (adopted) or put in between callbacks
    (adjusted for the signal)."""
    r = fixed.run("tests/rt_callback", "own-sigstack-bounds", *how, env={"SQ_CALLBACK_BIND": bind})
    r.assert_fatal("morestack on gsignal")
    alt = [e for e in r.events("rt") if e[0] == "ALTSTACK"][0]
    m = re.search(r"runtime: morestack on gsignal: sp=\S+ stack=\[(0x[0-9a-f]+),(0x[0-9a-f]+)\)", r.stderr)
    assert m and (int(m.group(1), 16), int(m.group(2), 16)) == (int(alt[1], 16), int(alt[2], 16)), r.log()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_check_holds_while_threads_attach(fixed, flavour):
    """sq_check(0) from a thread of its own, 20000 times, while four threads
    attach and detach: extra Ms between states are accounted for."""
    r = fixed.run(f"{flavour}/rt_callback", "check-attach", 20000, timeout=120)
    r.assert_pass("check-attach")


def test_sigprof_on_c_only_threads_is_counted(fixed):
    r = fixed.run("tests/rt_callback", "prof-external", timeout=60)
    r.assert_pass("prof-external")


@BINDS
def test_host_sigurg_and_sigprof_handlers_are_chained(fixed, bind):
    """Handlers installed before the runtime get SIGURG (not the runtime's
    own requests) and SIGPROF (while the runtime does not profile) on a
    thread attached to the runtime, as they would on any other; while the
    runtime profiles, SIGPROF is its own."""
    r = fixed.run("tests/rt_callback", "host-handlers", env={"SQ_CALLBACK_BIND": bind}, timeout=60)
    r.assert_pass("host-handlers")


@BINDS
def test_fault_in_a_bound_threads_own_c_goes_to_the_host(fixed, bind):
    r = fixed.run("tests/rt_callback", "fault-bound", env={"SQ_CALLBACK_BIND": bind})
    assert r.rc == 7 and "[rt] HOST SIGSEGV" in r.stderr and r.fatal is None, r.log()


@BINDS
def test_fault_in_a_bound_threads_own_c_without_host_handler(fixed, bind):
    r = fixed.run("tests/rt_callback", "fault-bound", "nohandler", env={"SQ_CALLBACK_BIND": bind})
    assert r.rc == -signal.SIGSEGV and r.fatal is None, r.log()
    if bind == "1":	# unbound, the thread has no g: the runtime does not look
        assert "in code the runtime does not run" in r.stderr, r.log()


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGBUS], ids=["SIGSEGV", "SIGBUS"])
def test_sent_crash_signal_is_not_a_fault(fixed, sig):
    """A crash signal sent with tgkill: no "fatal error" claiming a fault,
    a line saying who sent it and the dump, then death by the signal."""
    r = fixed.run("tests/rt_callback", "sent-crash", int(sig))
    assert r.rc == -sig and r.fatal is None, r.log()
    assert re.search(rf"runtime: signal {sig.name} sent by pid \d+ uid \d+ \(si_code -6\)", r.stderr), r.log()
    assert "goroutine 1 [running]" in r.stderr, "no dump" + r.log()


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
