#!/usr/bin/env python3
"""stress.py: the runtime's stress self-test, behind `make run`.

Runs the runtime's self-test programs over and over for a time budget, each
run with a configuration drawn from one seed: number of Ps, callback
binding, the maymorestack debug mode, and fault sites armed where the fixed
runtime must tolerate them. Every run is classified (pass, fail, fatal
error, crash by signal, hang); anything but a pass is a finding and keeps
its log and a command line that replays it.

Output: a live progress line on stderr, a summary table on stdout, and
under OUT/<run-id>/: report.json, junit.xml, report.txt, logs/.
Exit status: 0 no findings, 1 findings, 2 bad usage.
"""
import argparse
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import time
from xml.sax.saxutils import escape, quoteattr

# (name, program, args, whether it is a foreign-thread test)
CASES = [
    ("chain", "rt_sched", ["chain", "2000"], False),
    ("blocked-read", "rt_sched", ["blocked-read"], False),
    ("preempt", "rt_sched", ["preempt"], False),
    ("stacks", "rt_stack", ["list"], False),
    ("callbacks", "rt_callback", ["threads", "2000"], True),
    ("stackswitch", "rt_callback", ["stackswitch"], True),
    ("nested", "rt_callback", ["nested"], False),
    ("blocking-callback", "rt_callback", ["blocking-callback"], True),
    ("attach-storm", "rt_callback", ["attach-storm", "20000"], True),
    ("prof", "rt_callback", ["prof"], False),
]

# Sites and actions the fixed runtime must survive: signals are blocked or
# handled on a good stack, spins and yields only widen windows.
SAFE_FAULTS = [
    "needm.after_setg:signal:every:SIGURG",
    "needm.before_minit:signal:every:SIGPROF",
    "dropm.after_unminit:signal:every:SIGURG",
    "minit.before_sigaltstack:signal:every:SIGURG",
    "entersyscall.poisoned:spin:every",
    "exitsyscall.enter:signal:every:SIGURG",
    "syscall.window:signal:every:SIGPROF",
    "callback.enter:yield:every",
    "systemstack.g0:signal:every:SIGURG",
    "newstack.enter:spin:every",
]

TIMEOUT = 120
FATAL_RE = re.compile(r"^fatal error: (.*)$", re.M)


def parse_budget(s):
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", s or "")
    if not m:
        raise ValueError(f"budget {s!r} is not a duration (e.g. 90s, 5m, 1h)")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def draw(rng, case):
    """One run's configuration."""
    env = {"SQ_MAXPROCS": str(rng.choice([1, 2, 2, 4]))}
    if case[3]:
        env["SQ_CALLBACK_BIND"] = rng.choice(["1", "0"])
    if rng.random() < 0.15 and case[0] in ("chain", "nested", "blocking-callback"):
        env["SQ_DEBUG"] = "maymorestack=yield"
    if rng.random() < 0.5:
        env["SQ_FAULT"] = ",".join(rng.sample(SAFE_FAULTS, rng.randint(1, 3)))
    return env


def classify(rc, out, err, timed_out, name):
    if timed_out:
        return "hang", "watchdog fired after %ds" % TIMEOUT
    m = FATAL_RE.search(err)
    if m:
        return "fatal", m.group(1)
    if rc < 0:
        return "crash", "killed by " + signal.Signals(-rc).name
    if rc != 0 or f"PASS {name}" not in out:
        line = next((l for l in out.splitlines() if l.startswith("FAIL")), f"exit status {rc}")
        return "fail", line
    return "pass", ""


def run_one(build, case, env, logdir, idx):
    name, prog, args, _ = case
    cmd = [os.path.join(build, "tests", prog)] + args
    full = dict(os.environ, **env)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         errors="replace", env=full, start_new_session=True)
    timed_out = False
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(p.pid, signal.SIGABRT)	# the runtime dumps Ms and Gs
        try:
            out, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
    try:
        os.killpg(p.pid, signal.SIGKILL)	# nothing of the run is left behind
    except ProcessLookupError:
        pass
    cls, msg = classify(p.returncode, out, err, timed_out, args[0])
    rec = {"case": name, "env": env, "cmd": cmd, "class": cls, "message": msg,
           "seconds": round(time.monotonic() - t0, 3), "rc": p.returncode,
           "replay": " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + " " +
                     " ".join(shlex.quote(c) for c in cmd)}
    if cls != "pass":
        path = os.path.join(logdir, f"{idx:05d}-{name}.log")
        with open(path, "w") as f:
            f.write(f"# replay: {rec['replay']}\n# class: {cls}: {msg}\n\n--- stdout\n{out}\n--- stderr\n{err}")
        rec["log"] = path
    return rec


def junit(path, records, elapsed):
    fails = [r for r in records if r["class"] != "pass"]
    with open(path, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        f.write(f'<testsuite name="stackquake.stress" tests="{len(records)}" failures="{len(fails)}" '
                f'time="{elapsed:.1f}">\n')
        for i, r in enumerate(records):
            f.write(f'  <testcase classname="stress.{r["case"]}" name={quoteattr(f"run{i}")} '
                    f'time="{r["seconds"]}">')
            if r["class"] != "pass":
                f.write(f'<failure message={quoteattr(r["class"] + ": " + r["message"])}>'
                        f'{escape(r["replay"])}</failure>')
            f.write("</testcase>\n")
        f.write("</testsuite>\n")


def summary(records, elapsed, seed, build):
    lines = [f"stackquake stress self-test: build={build} seed={seed} runs={len(records)} "
             f"time={elapsed:.0f}s", ""]
    lines.append(f"{'case':<20}{'runs':>6}{'pass':>6}{'fail':>6}{'fatal':>7}{'crash':>7}{'hang':>6}")
    for name in dict.fromkeys(r["case"] for r in records):
        rs = [r for r in records if r["case"] == name]
        c = {k: sum(r["class"] == k for r in rs) for k in ("pass", "fail", "fatal", "crash", "hang")}
        lines.append(f"{name:<20}{len(rs):>6}{c['pass']:>6}{c['fail']:>6}{c['fatal']:>7}"
                     f"{c['crash']:>7}{c['hang']:>6}")
    finds = {}
    for r in records:
        if r["class"] != "pass":
            finds.setdefault((r["class"], r["message"]), []).append(r)
    lines.append("")
    if not finds:
        lines.append("findings: none")
    for (cls, msg), rs in finds.items():
        lines.append(f"finding: {cls}: {msg} ({len(rs)} runs)")
        lines.append(f"  replay: {rs[0]['replay']}")
        lines.append(f"  log:    {rs[0]['log']}")
    return "\n".join(lines) + "\n", finds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build/fixed")
    ap.add_argument("--budget", default="60s", help="time to spend, e.g. 90s, 5m")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--out", default="out")
    a = ap.parse_args()
    try:
        budget = parse_budget(a.budget)
    except ValueError as e:
        print(f"stress: {e}", file=sys.stderr)
        return 2
    if not os.path.isdir(os.path.join(a.build, "tests")):
        print(f"stress: {a.build}/tests not found: run make first", file=sys.stderr)
        return 2
    seed = a.seed if a.seed is not None else int(os.environ.get("SQ_SEED", time.time_ns() % 1000000007))
    rng = random.Random(seed)
    runid = time.strftime("run-%Y%m%d-%H%M%S")
    outdir = os.path.join(a.out, runid)
    logdir = os.path.join(outdir, "logs")
    os.makedirs(logdir, exist_ok=True)
    print(f"stress: seed={seed} budget={budget:.0f}s out={outdir}", file=sys.stderr)
    records, t0, stopped = [], time.monotonic(), False
    tty = sys.stderr.isatty()
    try:
        while time.monotonic() - t0 < budget:
            case = CASES[len(records) % len(CASES)]
            rec = run_one(a.build, case, draw(rng, case), logdir, len(records))
            records.append(rec)
            bad = sum(r["class"] != "pass" for r in records)
            line = (f"[{time.monotonic() - t0:6.1f}s/{budget:.0f}s] runs={len(records)} "
                    f"findings={bad} last={rec['case']}:{rec['class']}")
            if tty:
                print("\r" + line.ljust(78), end="", file=sys.stderr, flush=True)
            elif len(records) % 10 == 0 or rec["class"] != "pass":
                print(line, file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        stopped = True
        print("\nstress: interrupted; writing what was found so far", file=sys.stderr)
    if tty:
        print(file=sys.stderr)
    elapsed = time.monotonic() - t0
    text, finds = summary(records, elapsed, seed, a.build)
    with open(os.path.join(outdir, "report.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(outdir, "report.json"), "w") as f:
        json.dump({"seed": seed, "build": a.build, "budget": budget, "elapsed": elapsed,
                   "interrupted": stopped, "runs": records,
                   "findings": [{"class": c, "message": m, "runs": len(rs), "replay": rs[0]["replay"]}
                                for (c, m), rs in finds.items()]}, f, indent=1)
    junit(os.path.join(outdir, "junit.xml"), records, elapsed)
    print(text, end="")
    print(f"report: {outdir}/report.txt, report.json, junit.xml")
    return 1 if finds else 0


if __name__ == "__main__":
    sys.exit(main())
