"""The scenarios against real Go runtimes: gc (Debian's Go 1.19) and gccgo 12
through the c-archive target (harness/target_go.c, mk/go.mk, docs/targets.md).

False positives are the enemy: every scenario mode Go supports must stay
clean on Go without an environment axis, and a campaign must end with no
finding that docs/findings/ does not explain. Every written-up finding
names its README and its stand-alone reproduction, and its patterns
recognise what the campaign reports of it and nothing else.

Skips with the reason where a toolchain is not installed (mk/deps.sh go)
or its scenarios cannot be built. Host only: mk/go.mk builds for the host.
"""
import json
import os
import re
import subprocess

import pytest

from sqlib import Usage, campaign, findings, outcome
from sqlib.campaign import Job
from sqtest import ROOT

SQ = os.path.join(ROOT, "stackquake")
TOOLCHAINS = {"go": ("golang-1.19-go", ["/usr/lib/go-1.19/bin/go"]),
              "gccgo": ("gccgo-12", ["/usr/bin/gccgo-12", "/usr/bin/go-12"])}

# The scenario modes Go supports that owe a clean run: every mode of every
# scenario but sc_stackswitch/outcall (it owes a refusal Go never gives:
# docs/findings/go-callback-on-switched-stack), sc_sigstack (it needs a
# fault site in the runtime) and sc_stackdepth (C run by cgo never runs on a
# goroutine's stack): skipped on Go. test_mode_lists_cover_every_mode
# keeps this list honest against the programs themselves.
CLEAN = [("sc_attachsig", "unbound"), ("sc_attachsig", "exiting"), ("sc_callblock", "mixed"),
         ("sc_locked", "stay"), ("sc_locked", "sleep"), ("sc_locked", "exit"), ("sc_locked", "asleep"),
         ("sc_mixed", "all"), ("sc_preempt", "loops"), ("sc_signest", "nest"), ("sc_stackswitch", "legal"),
         ("sc_syscall", "window"), ("sc_syscall", "ccall")]
REFUSAL_NEVER_COMES = {("sc_stackswitch", "outcall"): "go-callback-on-switched-stack"}
SKIPPED = [("sc_locked", "deadlock"), ("sc_sigstack", "self"), ("sc_sigstack", "pinger"), ("sc_stackdepth", "near"),
           ("sc_stackdepth", "over"), ("sc_stackdepth", "guard")]

_under = {}


def under(runtime):
    """The campaign's view of build/<runtime>/, built once per session and
    worker (campaign.Under runs make go-*-scenarios), or a skip."""
    if runtime not in _under:
        pkg, tools = TOOLCHAINS[runtime]
        missing = [t for t in tools if not os.access(t, os.X_OK)]
        if missing:
            _under[runtime] = f"{pkg} is not installed ({', '.join(missing)}): sh mk/deps.sh go"
        else:
            try:
                _under[runtime] = campaign.Under(runtime, "fixed", "local")
            except Usage as e:
                _under[runtime] = f"make go-scenarios cannot build the {runtime} scenarios: {e}"
    u = _under[runtime]
    if isinstance(u, str):
        pytest.skip(u)
    return u


def run(runtime, scenario, mode, injector, seed, procs):
    u = under(runtime)
    job = Job(scenario, mode, injector, seed=seed, env={"GOMAXPROCS": str(procs), "GOTRACEBACK": "crash"})
    rec = campaign.execute(job.check(u), u)
    rec["why"] = f"{rec['class']}: {rec['message']}\n{rec['command']}\n{rec['stderr'][-3000:]}"
    return rec


# ---- written-up findings ---------------------------------------------------------

FINDINGS = sorted(n for n in os.listdir(findings.DIR) if os.path.isdir(os.path.join(findings.DIR, n)))


@pytest.mark.parametrize("name", FINDINGS)
def test_finding_is_written_up(name):
    """finding.json parses and names its targets, its upstream report (or
    null: none found), a README and a stand-alone reproduction that exist;
    its patterns compile."""
    d = os.path.join(findings.DIR, name)
    with open(os.path.join(d, "finding.json")) as f:
        fj = json.load(f)
    assert fj["targets"] and set(fj["targets"]) <= set(campaign.RUNTIMES), fj
    assert fj["upstream"] is None or re.fullmatch(r"golang/go#\d+", fj["upstream"]), fj
    readme = os.path.join(d, fj["readme"])
    assert os.path.isfile(readme), readme
    text = open(readme).read()
    for part in ("**What.**", "**Run.**", "**Replay rate.**", "**Affected.**", "**Upstream.**"):
        assert part in text, f"{readme}: no {part} section"
    if fj["upstream"]:
        assert fj["upstream"] in text, f"{readme} does not cite {fj['upstream']}"
    assert fj["reproduction"], fj
    for p in fj["reproduction"]:
        assert os.path.isfile(os.path.join(d, p)), f"{name}: reproduction {p} missing"
    assert fj["match"]
    for r in fj["match"]:
        re.compile(r)


# What the campaigns report ("<class>: <message> @ <label>", from their
# report.json) and which finding each is, per target; and near misses that
# must stay unknown. None: no finding may swallow it.
REPORTED = [
    ("go", "unexpected-fatal: morestack on g0 @ sc_stackswitch/outcall/none", "go-callback-on-switched-stack"),
    ("go", "wrong-result: FAIL sc_stackswitch @ sc_stackswitch/outcall/storm", "go-callback-on-switched-stack"),
    ("gccgo", "wrong-result: FAIL sc_stackswitch @ sc_stackswitch/outcall/none", "go-callback-on-switched-stack"),
    ("go", "wrong-result: FAIL sc_stackswitch @ sc_stackswitch/legal/none", None),
    ("go", "unexpected-fatal: morestack on g0 @ sc_syscall/ccall/storm", None),
    ("go", "hang: watchdog: no progress for 20s @ sc_stackswitch/outcall/none", None),
    ("go", "wrong-result: environment axis handlers: host Urgent I/O condition handler called 0 times, "
           "109 sent (want at least 1) @ sc_signest/nest/none{env handlers,altstack}",
     "go-carchive-sigurg-not-chained"),
    ("go", "wrong-result: environment axis handlers-nostack: host Urgent I/O condition handler called 0 times, "
           "22 sent (want at least 1) @ sc_stackswitch/legal/none{env thread-exit,handlers-nostack}",
     "go-carchive-sigurg-not-chained"),
    ("gccgo", "wrong-result: environment axis handlers-oneshot: host Urgent I/O condition handler called 0 times, "
              "1 sent (want exactly 1 per send) @ sc_signest/nest/none{env handlers-oneshot}",
     "go-carchive-sigurg-not-chained"),
    ("gccgo", "wrong-result: environment axis handlers-oneshot: host Urgent I/O condition handler called 113 times, "
              "1 sent (want exactly 1 per send) @ sc_signest/nest/none{env handlers-oneshot,sigmask}",
     "go-sigfwd-ignores-sa-resethand"),
    ("gccgo", "wrong-result: environment axis handlers-oneshot: host Urgent I/O condition handler called 2 times, "
              "1 sent (want exactly 1 per send) @ sc_syscall/window/none{env handlers-oneshot}", None),
    ("gccgo", "wrong-result: environment axis handlers-oneshot: host Profiling timer expired handler called 0 times, "
              "1 sent (want exactly 1 per send) @ sc_signest/nest/none{env handlers-oneshot}", None),
    ("go", "wrong-result: environment axis handlers: host Profiling timer expired handler called 0 times, "
           "12 sent (want at least 1) @ sc_signest/nest/none{env handlers}", None),
    ("go", "wrong-result: environment axis handlers: host Alarm clock handler called 0 times, "
           "300 sent (want at least 1) @ sc_syscall/window/none{env handlers}", None),
    ("go", "unexpected-fatal: unexpected signal during runtime execution @ "
           "sc_callblock/mixed/none{env segv-sent-go,preinit}", "go-sent-sigsegv-reported-as-fault"),
    ("gccgo", "unexpected-fatal: unexpected signal during runtime execution @ sc_attachsig/exiting/none{env bus-sent}",
     "go-sent-sigsegv-reported-as-fault"),
    ("go", "unexpected-fatal: unexpected signal during runtime execution @ sc_syscall/window/none{env pid1,segv-sent}",
     "go-sent-sigsegv-reported-as-fault"),
    # gccgo, the signal on a goroutine in runtime code (unlockOSThread from a
    # callback's CgocallBackDone): sigpanic's "unexpected fault address" with
    # the sender's PID as the address (CI, 2026-12-03).
    ("gccgo", "unexpected-fatal: unexpected fault address 0x1cd2 @ sc_locked/asleep/none{env segv-sent-go}",
     "go-sent-sigsegv-reported-as-fault"),
    ("gccgo", "unexpected-fatal: unexpected fault address 0x1cd2 @ sc_locked/asleep/none", None),
    # gc, the signal inside reentersyscall (cgocall's entersyscall: throwsplit
    # set), where the handler throws at once instead of arranging sigpanic:
    # Go's bare "SIGSEGV: segmentation violation" header (campaign, 2026-12-04).
    ("go", "unexpected-fatal: SIGSEGV: segmentation violation @ sc_locked/asleep/none{env segv-sent-go}",
     "go-sent-sigsegv-reported-as-fault"),
    ("go", "unexpected-fatal: SIGBUS: bus error @ sc_syscall/window/none{env bus-sent}",
     "go-sent-sigsegv-reported-as-fault"),
    ("go", "unexpected-fatal: SIGSEGV: segmentation violation @ sc_locked/asleep/none", None),
    ("go", "unexpected-fatal: SIGSEGV: segmentation violation @ sc_mixed/all/none{env segv-called}", None),
    ("go", "unexpected-fatal: unexpected signal during runtime execution @ sc_syscall/window/none{env segv-called}",
     None),
    ("go", "unexpected-fatal: unexpected signal during runtime execution @ sc_mixed/all/storm", None),
    ("go", "unexpected-fatal: malloc during signal @ sc_attachsig/unbound/none{env segv-sent}", None),
    ("go", "wrong-result: environment axis exit-in-callback: the process went on to exit normally @ "
           "sc_stackswitch/legal/none{env exit-in-callback}", "go-pthread-exit-in-callback"),
    ("go", "wrong-result: environment axis exit-in-callback: the process went on to exit normally @ "
           "sc_callblock/mixed/none{env pid1,exit-in-callback}", "go-pthread-exit-in-callback"),
    ("gccgo", "wrong-result: environment axis exit-in-callback: the process went on to exit normally @ "
              "sc_callblock/mixed/none{env exit-in-callback}", None),
    ("go", "crash: killed by SIGSEGV @ sc_callblock/mixed/none{env exit-in-callback}", None),
    ("gccgo", "unexpected-fatal: malloc during signal @ sc_attachsig/exiting/storm", "gccgo-sigurg-malloc-during-signal"),
    ("gccgo", "unexpected-fatal: malloc during signal @ sc_signest/nest/none{env handlers}",
     "gccgo-sigurg-malloc-during-signal"),
    ("go", "unexpected-fatal: malloc during signal @ sc_attachsig/exiting/storm", None),
    ("gccgo", "invariant: thread-state: after a callback: the thread had no signal stack; once detached it has "
              "[0x7f4aadfac038,+0x8fc8) @ sc_attachsig/unbound/storm", "gccgo-cgocallbackdone-deferring-race"),
    ("gccgo", "invariant: thread-state: after a callback: the thread had no signal stack; once detached it has "
              "[0x7f4aadfac038,+0x8fc8) @ sc_attachsig/exiting/none", "gccgo-cgocallbackdone-deferring-race"),
    # The same race under the sigmask axis: minit's unblocked mask stays too,
    # and the oracle compares the mask first (campaign, 2026-12-03).
    ("gccgo", "invariant: thread-state: after a callback: Stack fault is unblocked, it was blocked before the "
              "thread called in @ sc_stackswitch/legal/storm{env sigmask}", "gccgo-cgocallbackdone-deferring-race"),
    ("gccgo", "invariant: thread-state: after a callback: Stack fault is unblocked, it was blocked before the "
              "thread called in @ sc_attachsig/unbound/none{env preinit,sigmask}", "gccgo-cgocallbackdone-deferring-race"),
    ("gccgo", "invariant: thread-state: after a callback: Stack fault is unblocked, it was blocked before the "
              "thread called in @ sc_attachsig/unbound/storm", None),
    ("gccgo", "invariant: thread-state: after a callback: Profiling timer expired is unblocked, it was blocked "
              "before the thread called in @ sc_attachsig/unbound/storm{env sigmask}", None),
    ("go", "invariant: thread-state: after a callback: Stack fault is unblocked, it was blocked before the "
           "thread called in @ sc_stackswitch/legal/storm{env sigmask}", None),
    ("go", "invariant: thread-state: after a callback: the thread had no signal stack; once detached it has "
           "[0xc000100000,+0x8000) @ sc_attachsig/unbound/storm", None),
    ("gccgo", "invariant: thread-state: after a callback: the thread had no signal stack; once detached it has "
              "[0x7f4aadfac038,+0x4000) @ sc_attachsig/unbound/storm", None),
    ("gccgo", "invariant: thread-state: after a callback: the thread's own signal stack [0x7f4aadfac038,+0x8fc8) "
              "is replaced @ sc_attachsig/unbound/storm", None),
    ("gccgo", "wrong-result: FAIL sc_syscall @ sc_syscall/window/none{env handlers-plain}", None),
    # gccgo's badsignal path for a SIGURG on a thread between callbacks, on the
    # thread's own 8 KiB signal stack: the pattern below it overwritten, or the
    # kernel's SIGSEGV when a third frame no longer fits (campaign, 2026-12-04).
    ("gccgo", "wrong-result: environment axis altstack-small: a signal handler wrote 1488 bytes below the "
              "thread's own 8192-byte sigaltstack @ sc_callblock/mixed/storm{env altstack-small}",
     "gccgo-sigurg-badsignal-overflows-sigaltstack"),
    ("gccgo", "crash: killed by SIGSEGV @ sc_callblock/mixed/storm{env altstack-small}",
     "gccgo-sigurg-badsignal-overflows-sigaltstack"),
    ("gccgo", "crash: killed by SIGSEGV @ sc_attachsig/exiting/storm{env preinit,altstack-small}",
     "gccgo-sigurg-badsignal-overflows-sigaltstack"),
    ("go", "wrong-result: environment axis altstack-small: a signal handler wrote 1488 bytes below the "
           "thread's own 8192-byte sigaltstack @ sc_callblock/mixed/storm{env altstack-small}", None),
    ("gccgo", "wrong-result: environment axis altstack: a signal handler wrote 1488 bytes below the "
              "thread's own 65536-byte sigaltstack @ sc_callblock/mixed/storm{env altstack}", None),
    ("gccgo", "crash: killed by SIGSEGV @ sc_callblock/mixed/none{env altstack-small}", None),
    ("gccgo", "crash: killed by SIGSEGV @ sc_callblock/mixed/storm{env altstack}", None),
    ("sq", "crash: killed by SIGSEGV @ sc_callblock/mixed/storm{env altstack-small}", None),
    ("sq", "unexpected-fatal: morestack on g0 @ sc_stackswitch/outcall/none", None),
]


@pytest.mark.parametrize("runtime,line,name", REPORTED, ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(REPORTED)])
def test_finding_patterns_are_tight(runtime, line, name):
    head, _, label = line.rpartition(" @ ")
    cls, _, msg = head.partition(": ")
    k = findings.recognise(runtime, cls, msg, label)
    assert (k["name"] if k else None) == name, line


def test_fatal_line_split_by_an_event_line():
    """Go writes "fatal error: " and the message with separate writes; a
    scenario's [sc] line (one write) can land between them. The oracle
    reads the fatal error, not the event line."""
    table = outcome.FatalTable([{"key": "UNEXPECTED_SIGNAL", "prefix": "fatal error: ",
                                 "message": "unexpected signal during runtime execution", "class": "crash"}])
    err = ("fatal error: [sc] CALLS ok=600 bad=0\nunexpected signal during runtime execution\n"
           "[signal SIGBUS: bus error code=0xfffffffffffffffa addr=0x702e pc=0x55f4498fda93]\n")
    assert outcome.classify(-6, '{"rec":"expect","outcome":"clean"}\n', err, False, table) == \
        ("unexpected-fatal", "unexpected signal during runtime execution")


# ---- no false positives ----------------------------------------------------------

@pytest.mark.parametrize("runtime", ["go", "gccgo"])
def test_mode_lists_cover_every_mode(runtime):
    """Every scenario mode the programs offer is in exactly one list here;
    the skipped ones say so on Go."""
    u = under(runtime)
    listed = CLEAN + list(REFUSAL_NEVER_COMES) + SKIPPED
    assert sorted(listed) == sorted(u.modes()) and len(set(listed)) == len(listed), u.modes()
    for s, m in SKIPPED:
        rec = run(runtime, s, m, "none", 1, 2)
        assert rec["class"] == "skipped" and rec["message"], rec["why"]
        # Under a fault axis too, and the axis judges nothing (no envcheck
        # record): the mode never ran, and there is no fault to wait for.
        rec = campaign.execute(Job(s, m, "none", seed=1, axes="segv-sent").check(u), u)
        assert rec["class"] == "skipped" and '"envcheck"' not in rec["stdout"], rec


@pytest.mark.parametrize("procs", [1, 4])
@pytest.mark.parametrize("injector", ["none", "storm"])
@pytest.mark.parametrize("scenario,mode", CLEAN)
def test_clean_on_gc(scenario, mode, injector, procs):
    for seed in (1, 2):
        rec = run("go", scenario, mode, injector, seed, procs)
        assert rec["class"] == "clean", rec["why"]


@pytest.mark.parametrize("scenario,mode", CLEAN)
def test_clean_on_gccgo(scenario, mode):
    """gccgo's runs take ten times gc's: one seed, GOMAXPROCS 1 and 4 with
    no injector; under the storm a run may meet gccgo's own SIGURG crash
    (docs/findings/gccgo-sigurg-malloc-during-signal) or, where C threads call
    in, its detach race (docs/findings/gccgo-cgocallbackdone-deferring-race),
    never anything else. The detach race needs no injector, only C threads
    calling in: a CI run met it under `none` (sc_attachsig/unbound,
    GOMAXPROCS=4, seed 1: 7 runs in 150 with two busy loops beside them)."""
    for procs in (1, 4):
        rec = run("gccgo", scenario, mode, "none", 1, procs)
        if rec["class"] != "clean":
            k = findings.recognise("gccgo", rec["class"], rec["message"], rec["label"])
            assert k and k["name"] == "gccgo-cgocallbackdone-deferring-race", rec["why"]
    rec = run("gccgo", scenario, mode, "storm", 1, 4)
    if rec["class"] != "clean":
        k = findings.recognise("gccgo", rec["class"], rec["message"], rec["label"])
        assert k and k["name"] in ("gccgo-sigurg-malloc-during-signal",
                                   "gccgo-cgocallbackdone-deferring-race"), rec["why"]


@pytest.mark.parametrize("runtime", ["go", "gccgo"])
def test_outcall_is_the_known_finding(runtime):
    (s, m), name = next(iter(REFUSAL_NEVER_COMES.items()))
    rec = run(runtime, s, m, "none", 1, 2)
    k = findings.recognise(runtime, rec["class"], rec["message"], rec["label"])
    assert k and k["name"] == name, rec["why"]


# ---- the campaign -----------------------------------------------------------------

@pytest.mark.parametrize("runtime,budget", [("go", "30s"), ("gccgo", "30s")])
def test_campaign_has_no_unknown_findings(runtime, budget, tmp_path):
    """A short campaign with every injector Go takes and the environment
    axes: whatever it finds is written up in docs/findings/."""
    under(runtime)
    r = subprocess.run([SQ, "run", "--target", runtime, "--budget", budget, "--seed", "11", "--derandomize", "0",
                        "--out", str(tmp_path)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    rep = json.loads(next(tmp_path.glob("run-*/report.json")).read_text())
    assert rep["target"] == runtime and len(rep["runs"]) >= 15, r.stdout
    assert all(f["known"] for f in rep["findings"]), r.stdout
    axes = {x for run_ in rep["runs"] for x in run_["job"]["axes"].split(",") if x}
    assert axes and {run_["job"]["injector"] for run_ in rep["runs"]} == {"none", "storm"}, r.stdout
