"""Runtime core: scheduler, syscall windows, stacks, split checks, fatal errors."""
import os
import re
import resource

import pytest

from sqtest import ROOT


# Programs built on the harness flavour (tests/) and on the normal one (ntests/).
FLAVOURS = ["tests", "ntests"]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("procs", [1, 2])
def test_10000_gs_exchange_values(fixed, procs, flavour):
    r = fixed.run(f"{flavour}/rt_sched", "chain", 10000, env={"SQ_MAXPROCS": str(procs)})
    r.assert_pass("chain")
    chain = r.events("rt")
    assert ["CHAIN", "n=10000", "value=10000"] in chain, r.log()


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("procs", [1, 2])
def test_blocked_read_does_not_stop_others(fixed, procs, flavour):
    r = fixed.run(f"{flavour}/rt_sched", "blocked-read", env={"SQ_MAXPROCS": str(procs)}, timeout=30)
    r.assert_pass("blocked-read")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_spinning_g_is_preempted(fixed, flavour):
    r = fixed.run(f"{flavour}/rt_sched", "preempt", env={"SQ_MAXPROCS": "1"}, timeout=30)
    r.assert_pass("preempt")
    ev = [e for e in r.events("rt") if e[0] == "PREEMPT"]
    assert ev and int(ev[0][2].split("=")[1]) >= 1, r.log()


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("procs", [1, 2, 4])
def test_yields_with_stealing(fixed, procs, flavour):
    r = fixed.run(f"{flavour}/rt_sched", "yield-steal", 20000, env={"SQ_MAXPROCS": str(procs)}, timeout=120)
    r.assert_pass("yield-steal")


@pytest.mark.parametrize("procs", [1, 2, 4])
def test_yield_fast_path_window_is_safe(fixed, procs):
    """yield.queued sits where a yielding G is queued but not yet saved;
    spinning there gives stealers every chance to take it too early."""
    r = fixed.run("tests/rt_sched", "yield-steal", 2000,
                  env={"SQ_MAXPROCS": str(procs), "SQ_FAULT": "yield.queued:spin:every"}, timeout=120)
    r.assert_pass("yield-steal")


def test_maymorestack_turns_every_check_into_a_yield(fixed):
    r = fixed.run("tests/rt_sched", "preempt", env={"SQ_MAXPROCS": "1", "SQ_DEBUG": "maymorestack=yield"},
                  timeout=60)
    r.assert_pass("preempt")
    ev = [e for e in r.events("rt") if e[0] == "PREEMPT"][0]
    spins, npreempt = int(ev[1].split("=")[1]), int(ev[2].split("=")[1])
    # Every call of the spinner's checked function yielded: the stopper got
    # to run after a handful of spins, not after sysmon's 10 ms.
    assert 1 <= spins <= npreempt, r.log()


def test_maymorestack_chain_stays_correct(fixed):
    r = fixed.run("tests/rt_sched", "chain", 500,
                  env={"SQ_MAXPROCS": "2", "SQ_DEBUG": "maymorestack=yield"}, timeout=120)
    r.assert_pass("chain")


def test_split_in_syscall_window_is_fatal(fixed):
    r = fixed.run("tests/rt_fatal", "split-in-syscall")
    r.assert_fatal("stack split at bad time")


def test_split_in_syscall_window_regress_caught_by_invariant(variant_runner):
    r = variant_runner("syscallsplit").run("tests/rt_fatal", "split-in-syscall")
    r.assert_no_fatal("stack split at bad time")
    r.assert_fatal("syscall window state corrupted")


STRACE_MMAP = re.compile(r"mmap\((\w+), (\d+), [^,]+, ([A-Z_|]+), -?\d+, \w+\s*\)\s*=\s*(0x[0-9a-f]+)")


def mappings(log):
    """The mmap calls of an strace -f log, in the order they completed:
    (lo, hi, has_map_stack). A call another thread interrupted is split
    into "<unfinished ...>" and "<... mmap resumed>" lines: join them."""
    out, pending = [], {}
    for line in log.splitlines():
        m = re.match(r"(\d+)\s+(.*)$", line)
        if not m:
            continue
        pid, rest = m.groups()
        if rest.endswith("<unfinished ...>"):
            pending[pid] = rest[: -len("<unfinished ...>")]
            continue
        if rest.startswith("<... mmap resumed>"):
            rest = pending.pop(pid, "") + rest[len("<... mmap resumed>"):]
        m = STRACE_MMAP.search(rest)
        if m:
            lo = int(m.group(4), 16)
            out.append((lo, lo + int(m.group(2)), "MAP_STACK" in m.group(3)))
    return out


def stack_mapped_with(maps, lo, hi):
    """Whether the last mapping to cover [lo, hi) carried MAP_STACK."""
    last = None
    for mlo, mhi, stk in maps:
        if mlo <= lo and hi <= mhi:
            last = stk
    return last


@pytest.mark.parametrize("variant,expect", [("fixed", True), ("mapstack", False)])
def test_every_runtime_stack_is_map_stack(variant_runner, have, tmp_path, variant, expect):
    strace = have("strace")
    log = tmp_path / "strace.log"
    r = variant_runner(variant).run("tests/rt_stack", "list",
                                    wrapper=[strace, "-f", "-e", "trace=mmap", "-o", str(log)])
    r.assert_pass("list")
    maps = mappings(log.read_text())
    stacks = [(e[1], int(e[2], 16), int(e[3], 16)) for e in r.events("rt") if e[0] == "STACK"]
    assert len(stacks) >= 10, r.log()
    for kind, lo, hi in stacks:
        got = stack_mapped_with(maps, lo, hi)
        assert got is not None, f"{kind} stack {lo:#x}-{hi:#x} not mapped by an mmap in the log" + r.log()
        assert got == expect, f"{kind} stack {lo:#x}-{hi:#x}: MAP_STACK={got}, want {expect}" + r.log()


def test_overflow_is_reported_not_segv(fixed):
    r = fixed.run("tests/rt_fatal", "overflow")
    r.assert_fatal("stack overflow")
    assert "runtime: goroutine 1 stack exceeds 262144-byte limit" in r.stderr, r.log()


def test_overflow_into_guard_page(fixed):
    r = fixed.run("tests/rt_fatal", "overflow-guardpage")
    r.assert_fatal("stack overflow")
    assert "ran into its guard page" in r.stderr, r.log()
    assert "runtime: goroutine 1 stack exceeds 262144-byte limit" in r.stderr, r.log()


@pytest.mark.parametrize("size,limit", [(128 << 10, 128 << 10), (1000000, 1003520)])
def test_overflow_names_the_gs_own_size(fixed, size, limit):
    """A G spawned with its own stack size overflows at that size, and the
    message says so (Go: "goroutine stack exceeds N-byte limit"), the size
    rounded up to pages."""
    r = fixed.run("tests/rt_fatal", "overflow-spawned", size)
    r.assert_fatal("stack overflow")
    assert f"runtime: goroutine 2 stack exceeds {limit}-byte limit" in r.stderr, r.log()


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("procs", [1, 2])
def test_deep_recursion_on_a_larger_per_spawn_stack(fixed, procs, flavour):
    r = fixed.run(f"{flavour}/rt_sched", "spawn-stack", env={"SQ_MAXPROCS": str(procs)})
    r.assert_pass("spawn-stack")


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("procs", [1, 2])
def test_sleep_parks_the_g_not_the_m(fixed, procs, flavour):
    r = fixed.run(f"{flavour}/rt_sched", "sleep", env={"SQ_MAXPROCS": str(procs)})
    r.assert_pass("sleep")


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("procs", [1, 2])
def test_mutex_excludes_and_parks(fixed, procs, flavour):
    r = fixed.run(f"{flavour}/rt_sched", "mutex", env={"SQ_MAXPROCS": str(procs)}, timeout=60)
    r.assert_pass("mutex")


def test_mid_names_the_m(fixed):
    r = fixed.run("tests/rt_sched", "mid")
    r.assert_pass("mid")


def _skipped(r):
    m = __import__("re").search(r"^SKIP \S+: (.*)$", r.stdout, __import__("re").M)
    if m and r.rc == 0:
        pytest.skip(m.group(1))


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("procs", [1, 2])
def test_tight_loop_is_preempted_asynchronously(fixed, procs, flavour):
    """A loop with no calls (so no split check) gives way with one P: only
    a signal can preempt it (Go's TestAsyncPreempt shape)."""
    r = fixed.run(f"{flavour}/rt_sched", "preempt-tight", env={"SQ_MAXPROCS": str(procs)}, timeout=60)
    _skipped(r)
    r.assert_pass("preempt-tight")


@pytest.mark.parametrize("procs", [1, 2])
@pytest.mark.parametrize("case", ["preempt-g", "preempt-notify", "preempt-after"])
def test_harness_preemption_calls(fixed, case, procs):
    """The calls the fuzz interpreter's `tight` loop is asked and ended
    with, each on a loop with no calls under preempt=off (only the request
    under test can end it). preempt-g, sq_harness_preempt_g: the request
    by goroutine id is honoured wherever the G runs; an id nobody has, or
    an ended goroutine's, is -ESRCH. preempt-notify,
    sq_harness_preempt_notify: the loop spins on a word the runtime sets
    when the G honours the request; a replaced registration's word stays
    clear. preempt-after, sq_harness_preempt_after: with no other thread
    asking, the request a timer delivers to the G's own thread preempts
    the loop asynchronously; a plain thread's call is -EINVAL."""
    r = fixed.run("tests/rt_sched", case,
                  env={"SQ_MAXPROCS": str(procs), "SQ_DEBUG": "preempt=off"}, timeout=60)
    _skipped(r)
    r.assert_pass(case)


@pytest.mark.parametrize("variant", ["fixed", "hostonstack"])
def test_no_async_preemption_inside_a_programs_signal_handler(variant_runner, variant):
    """A plain SIGALRM handler installed before the runtime, running on a
    G's thread while the runtime asks for that G three times: the runtime
    gave the handler SA_ONSTACK, so the requests find it off the G's stack
    and are not safe points. The variant leaves the handler on the G's
    stack, where the G used to be rescheduled inside it (a campaign's
    "killed by SIGSEGV": its sigreturn ran on another thread)."""
    r = variant_runner(variant).run("tests/rt_sched", "host-handler",
                                    env={"SQ_MAXPROCS": "1", "SQ_DEBUG": "preempt=off"}, timeout=60)
    _skipped(r)
    if variant == "fixed":
        r.assert_pass("host-handler")
    else:
        assert r.rc == 1 and "preempted asynchronously inside the program's signal handler" in r.stdout, r.log()


# sq_lockosthread / sq_goexit, in the shapes of Go's own tests (rt_lock.c).
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("procs", [1, 2])
@pytest.mark.parametrize("test", ["lock-main", "lock-other", "nesting", "exit-thread", "goexit"])
def test_lockosthread_and_goexit(fixed, test, procs, flavour):
    r = fixed.run(f"{flavour}/rt_lock", test, env={"SQ_MAXPROCS": str(procs)}, timeout=120)
    r.assert_pass(test)


@pytest.mark.parametrize("action", ["spin", "yield", "signal"])
@pytest.mark.parametrize("procs", [1, 2])
def test_timer_wakeup_reaches_an_idle_locked_m(fixed, procs, action):
    """findrunnable.idle holds a spinning M between putting its P idle and
    no longer counting as spinning; a timer that fires there, on sysmon,
    queues the sleeper globally and wakes nobody unless that M looks at
    the global queue once more (a lost wakeup once seen under qemu)."""
    r = fixed.run("tests/rt_lock", "lock-sleep", 300,
                  env={"SQ_MAXPROCS": str(procs), "SQ_FAULT": f"findrunnable.idle:{action}:every"}, timeout=60)
    r.assert_pass("lock-sleep")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_locked_g_exiting_on_the_main_thread(fixed, flavour):
    r = fixed.run(f"{flavour}/rt_lock", "exit-main", env={"SQ_MAXPROCS": "1"})
    r.assert_pass("exit-main")


def test_stacksize_is_configurable(fixed):
    # 64 KiB stacks overflow at a tenth of the depth: same message.
    r = fixed.run("tests/rt_fatal", "overflow", env={"SQ_STACKSIZE": str(64 << 10)})
    r.assert_fatal("stack overflow")
    m = re.search(r"stack=\[0x([0-9a-f]+),0x([0-9a-f]+)\)", r.stderr)
    assert m and int(m.group(2), 16) - int(m.group(1), 16) == 64 << 10, r.log()


def test_bad_maxprocs_is_a_clear_error(fixed):
    r = fixed.run("tests/rt_sched", "chain", 10, env={"SQ_MAXPROCS": "lots"})
    r.assert_fatal("bad argument to runtime call")
    assert "SQ_MAXPROCS=lots" in r.stderr, r.log()


def test_bad_fault_spec_is_a_clear_error(fixed):
    r = fixed.run("tests/rt_sched", "chain", 10, env={"SQ_FAULT": "entersyscall.poisoned:explode"})
    r.assert_fatal("bad argument to runtime call")
    assert "unknown action" in r.stderr, r.log()


def test_picker_makes_schedules_replay(fixed):
    env = {"SQ_MAXPROCS": "1", "SQ_DEBUG": "preempt=off"}
    def schedule(seed):
        r = fixed.run("tests/rt_sched", "picker", seed, env=env)
        r.assert_pass("picker")
        return [e for e in r.events("rt") if e[0] == "SCHEDULE"][0][2]
    a, b, c = schedule(11), schedule(11), schedule(12)
    assert a == b, "same picks, different schedule"
    assert a != c, "different picks, same schedule"


# ---- the harness API (sq_harness.h): the scheduler as a harness drives it ----

@pytest.mark.parametrize("flavour", FLAVOURS)
def test_harness_calls_exist_in_harness_builds_only(fixed, flavour):
    r = fixed.run(f"{flavour}/rt_harness", "flavour")
    r.assert_pass("flavour")
    assert f"harness={1 if flavour == 'tests' else 0}" in r.stderr, r.log()


def test_harness_retake_idles_a_p_nobody_waits_for(fixed):
    """The P a bound thread leaves in Psyscall goes straight to the idle
    list: quiet at once, no spinning M started to find nothing."""
    fixed.run("tests/rt_harness", "retake").assert_pass("retake")


@pytest.mark.parametrize("procs", [1, 2])
def test_harness_quiet_after_gs_finish(fixed, procs):
    r = fixed.run("tests/rt_harness", "quiet", env={"SQ_MAXPROCS": str(procs)})
    r.assert_pass("quiet")
    assert ["WAIT", "quiet", "after", "the", "gate"] in r.events("rt"), r.log()


@pytest.mark.parametrize("procs", [1, 2])
def test_harness_retake_mine_from_an_outcall(fixed, procs):
    r = fixed.run("tests/rt_harness", "retake-mine", env={"SQ_MAXPROCS": str(procs)})
    r.assert_pass("retake-mine")


@pytest.mark.parametrize("procs", [1, 2])
def test_held_sysmon_retakes_nothing(fixed, procs):
    r = fixed.run("tests/rt_harness", "hold", env={"SQ_MAXPROCS": str(procs)})
    r.assert_pass("hold")


def test_harness_tick_retakes_for_work_only(fixed):
    fixed.run("tests/rt_harness", "tick").assert_pass("tick")


def test_check_self_sees_a_window_without_throwsplit(fixed):
    r = fixed.run("tests/rt_harness", "check-self")
    r.assert_pass("check-self")
    ev = [e for e in r.events("rt") if e[0] == "CHECKSELF"]
    assert ev and "throwsplit" in " ".join(ev[0]), r.log()


def test_harness_attached_says_what_a_thread_is(fixed):
    fixed.run("tests/rt_harness", "attached").assert_pass("attached")


def test_harness_dump(fixed):
    r = fixed.run("tests/rt_harness", "dump")
    r.assert_pass("dump")
    assert re.search(r"^current: M\d+ on g0", r.stderr, re.M), r.log()
    assert re.search(r"^M\d+ tid=\d+ .*extra\(attached\)", r.stderr, re.M), r.log()


def test_harness_restores_the_programs_sigabrt_handler(fixed):
    r = fixed.run("tests/rt_harness", "sigabrt")
    r.assert_pass("sigabrt")
    assert ["ABRT", "caught"] in r.events("rt"), r.log()
