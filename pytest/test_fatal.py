"""Every entry of the fatal-error table is produced on purpose by a test."""
import os
import re

import pytest

from sqlib import contract

# (program, subcommand, extra args, env, message); callback and syscall-window
# entries are produced in test_callback.py and test_core.py.
CASES = [
    ("split-in-syscall", (), {}, "stack split at bad time"),
    ("morestack-g0", (), {}, "morestack on g0"),
    ("morestack-gsignal", (), {}, "morestack on gsignal"),
    ("overflow", (), {}, "stack overflow"),
    ("misuse", ("gstatus",), {}, "bad g status transition"),
    ("systemstack-gsignal", (), {}, "systemstack called from signal stack"),
    ("misuse", ("mcall-g0",), {}, "mcall called on g0"),
    ("misuse", ("mcall-return",), {}, "mcall function returned"),
    ("misuse", ("syscall-bounds",), {}, "entersyscall inconsistent"),
    ("misuse", ("stackfree",), {}, "freeing a stack that was not allocated"),
    ("deadlock", (), {}, "all goroutines are asleep - deadlock!"),
    ("misuse", ("schedlock",), {}, "schedule: holding locks"),
    ("misuse", ("pstate",), {}, "bad p state"),
    # a fault inside the dump ends the process (it used to wait forever for
    # the print lock the dump held)
    ("misuse", ("dump-fault",), {}, "invariant violated"),
    ("no-sigstack", (), {}, "signal arrived on a thread with no signal stack"),
    ("handler-off-sigstack", (), {}, "signal handler not running on the signal stack"),
    ("segv", (), {}, "unexpected signal"),
    ("callback-on-g", (), {}, "callback from a goroutine stack"),
    ("misuse", ("newm",), {"SQ_MAXPROCS": "2"}, "cannot create thread"),
    ("main-twice", (), {}, "sq_main called twice"),
    ("not-init", (), {}, "runtime not initialized"),
    ("yield-foreign", (), {}, "bad argument to runtime call"),
    ("leak", (), {}, "invariant violated"),
    ("deadlock-after-callback", (), {"SQ_CALLBACK_BIND": "1"}, "all goroutines are asleep - deadlock!"),
    ("deadlock-after-callback", (), {"SQ_CALLBACK_BIND": "0"}, "all goroutines are asleep - deadlock!"),
    ("thread-exit", (), {"SQ_CALLBACK_BIND": "1"}, "thread exited with runtime frames on its stack"),
    ("thread-exit", (), {"SQ_CALLBACK_BIND": "0"}, "thread exited with runtime frames on its stack"),
    ("goexit-callback", (), {}, "goexit inside a callback"),
    ("goexit-nested", (), {}, "goexit inside a callback"),
    ("goexit-main", (), {}, "no goroutines (main called sq_goexit) - deadlock!"),
    ("goexit-main", ("locked",), {}, "no goroutines (main called sq_goexit) - deadlock!"),
    ("mutex-unlocked", (), {}, "bad argument to runtime call"),
]
ELSEWHERE = {
    "syscall window state corrupted": "test_core.py::test_split_in_syscall_window_regress_caught_by_invariant",
    "callback with sp out of bounds": "test_callback.py::test_callback_inside_ccall_after_stack_switch",
    "out of memory allocating stack": "test_fatal.py::test_stack_allocation_failure",
}


# Declared only where the OS can count the process's threads: qemu-user
# emulates /proc/self/stat with no thread count (and runs a thread of its
# own), so there the runtime cannot rule out a thread that may call in and,
# like Go in a cgo program, declares no deadlock (docs/runtime.md).
NEEDS_THREAD_COUNT = {"deadlock", "deadlock-after-callback", "goexit-main"}


def _id(c):
    return "-".join([c[0]] + list(c[1]) + [f"{k}={v}" for k, v in c[2].items()])


@pytest.mark.parametrize("sub,args,env,msg", CASES, ids=[_id(c) for c in CASES])
def test_fatal(fixed, sub, args, env, msg):
    if sub in NEEDS_THREAD_COUNT and fixed.target.kind == "qemu":
        pytest.skip("qemu-user cannot count the process's threads: no deadlock is declared there")
    r = fixed.run("tests/rt_fatal", sub, *args, env=env, timeout=60)
    r.assert_fatal(msg)
    # The dump follows the message.
    assert re.search(r"^current: ", r.stderr, re.M), "no dump" + r.log()


def test_handler_off_the_signal_stack_says_so(fixed):
    """The runtime's handler called by a handler without SA_ONSTACK: the
    state line shows sp outside both gsignal and the installed stack."""
    r = fixed.run("tests/rt_fatal", "handler-off-sigstack")
    r.assert_fatal("signal handler not running on the signal stack")
    assert re.search(r"runtime: signal SIGPROF on M\d+ .* sigaltstack=\[", r.stderr), r.log()


def test_deadlock_is_not_declared_while_a_timer_is_pending(fixed):
    """The main G sleeping alone is no deadlock (Go's checkdead looks at
    timers too); rt_sched sleep ends with exactly that."""
    r = fixed.run("tests/rt_sched", "sleep", env={"SQ_MAXPROCS": "1"})
    r.assert_pass("sleep")


def test_stack_allocation_failure(fixed):
    r = fixed.run("tests/rt_fatal", "stackalloc-fails", limit_as=1 << 30, timeout=60)
    r.assert_fatal("out of memory allocating stack")


def test_every_table_entry_is_covered():
    """Every row of the contract's fatal table (SQ_FATALS) is produced on
    purpose by a test; docs/fatal-errors.md is generated from the same rows
    (test_contract.py checks it is up to date)."""
    msgs = [f["message"] for f in contract.fatals()]
    assert len(msgs) >= 20
    covered = {c[3] for c in CASES} | set(ELSEWHERE)
    assert set(msgs) == covered, f"not covered: {set(msgs) - covered}; stale: {covered - set(msgs)}"
