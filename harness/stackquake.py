#!/usr/bin/env python3
"""stackquake: run the harness scenarios, classify every run, keep findings.

  stackquake run [--variant V] [--budget 3m] [--seed N] [--out out]
      the default campaign: every scenario x injector against one build,
      live progress, a summary table, and under OUT/<run>/ report.txt,
      report.json, junit.xml, logs/ and repro/ (one reproducer per finding)
  stackquake regress [--budget-storm 30s] [--replays 10] [--variants a,b]
      for each regression variant: the fault-site plan until the first
      detection, then the storm baseline on the same variant, then replays
      of the reproducer; prints the regression table
  stackquake repro FILE [--times N]
      replay a reproducer; exit 0 when every replay lands in its class
  stackquake list
      scenarios, modes, injectors and variants

Outcome classes: clean, expected-fatal, unexpected-fatal, crash, hang,
invariant, wrong-result, stackcheck-kill. Anything but the first two is a
finding. Exit status: 0 no findings (run) / every variant detected
(regress); 1 findings / a variant not detected; 2 bad usage.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = ["mapstack", "syscallsplit", "stackswitch", "attachsig", "gsignal-systemstack"]
# Variants whose mistake lives in one arch's code: only that arch's runs
# can see them (`regress` skips them elsewhere, saying so).
ARCH_VARIANTS = {"arm-systemstack-curg": "aarch64"}
# Cross builds (docs/arch.md): SQ_EMU prefixes every scenario command (e.g.
# qemu-aarch64) and SQ_BUILD_SUFFIX names the build dirs (e.g. -aarch64).
EMU = os.environ.get("SQ_EMU", "").split()
BUILD_SUFFIX = os.environ.get("SQ_BUILD_SUFFIX", "")
INJECTORS = ["none", "storm", "sites", "stackcheck"]
CLEAN, EXPECTED = "clean", "expected-fatal"
GOOD = (CLEAN, EXPECTED)

# name -> modes, campaign iterations (small: a run should take about a second)
SCENARIOS = {
    "sc_stackswitch": {"modes": ["legal", "outcall"], "iters": 300},
    "sc_attachsig": {"modes": ["unbound", "exiting"], "iters": 3000},
    "sc_syscall": {"modes": ["window", "ccall"], "iters": 500},
    "sc_sigstack": {"modes": ["self", "pinger"], "iters": 20},
    "sc_callblock": {"modes": ["mixed"], "iters": 200},
    "sc_signest": {"modes": ["nest"], "iters": 1000},
    "sc_mixed": {"modes": ["all"], "iters": 200},
}

# Fault-site actions the campaign arms, and what a correct runtime does when
# one fires: nothing visible, except where the action is itself illegal
# there, which the runtime must then refuse with the given fatal error.
ACTIONS = ["signal:SIGURG", "signal:SIGPROF", "spin", "yield", "split", "systemstack"]
WINDOW_SITES = {"entersyscall.poisoned", "syscall.window", "exitsyscall.enter", "exitsyscall.slow"}


def allowed_fatals(arms):
    """Fatal errors a correct runtime owes us for these armed specs."""
    out = set()
    for spec in arms:
        site, action = spec.split(":")[:2]
        if action == "split" and site in WINDOW_SITES:
            out.add("stack split at bad time")
        if action == "systemstack" and site == "sighandler.dispatch":
            out.add("systemstack called from signal stack")
    return out


def legal(site, action):
    """Site x action pairs that test something. systemstack from g0 or a G
    is an ordinary call; it is only interesting from the signal handler."""
    if action == "systemstack":
        return site == "sighandler.dispatch"
    return True


def self_feeding(site, action):
    """A signal raised from every run of the signal handler raises the next
    one: a livelock by construction, so that pair only fires once."""
    return site == "sighandler.dispatch" and action.startswith("signal")


FATAL_RE = re.compile(r"^fatal error: (.*)$", re.M)
EXPECT_RE = re.compile(r"^\[sc\] EXPECT (.*)$", re.M)
HITS_RE = re.compile(r"^\[sc\] HITS (\S+) (\d+)$", re.M)
KILL_RE = re.compile(r"^stackcheck: KILL .*$", re.M)
DETAIL_RE = re.compile(r"^runtime: (.*)$", re.M)


class Usage(Exception):
    pass


def parse_duration(s):
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", s or "")
    if not m:
        raise Usage(f"{s!r} is not a duration (e.g. 90s, 5m, 1h)")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def build_dir(variant):
    if variant not in ["fixed"] + VARIANTS + list(ARCH_VARIANTS):
        raise Usage(f"unknown variant {variant!r}; one of: fixed, {', '.join(VARIANTS + list(ARCH_VARIANTS))}")
    d = os.path.join(ROOT, "build", variant + BUILD_SUFFIX)
    if not os.path.isdir(os.path.join(d, "harness")):
        raise Usage(f"{d}/harness not built: run make{'' if variant == 'fixed' else ' REGRESS=' + variant}")
    return d


# ---- one run ---------------------------------------------------------------

class Job:
    """Everything that determines a run: replaying a Job replays the run."""

    def __init__(self, scenario, mode, injector, variant="fixed", seed=1, arms=(), env=None,
                 iters=None, timeout=20):
        if scenario not in SCENARIOS:
            raise Usage(f"unknown scenario {scenario!r}; one of: {', '.join(SCENARIOS)}")
        if mode not in SCENARIOS[scenario]["modes"]:
            raise Usage(f"{scenario}: unknown mode {mode!r}")
        if injector not in INJECTORS:
            raise Usage(f"unknown injector {injector!r}")
        self.scenario, self.mode, self.injector, self.variant = scenario, mode, injector, variant
        self.seed, self.arms = int(seed), list(arms)
        self.env = dict(env or {})
        self.iters = iters if iters is not None else SCENARIOS[scenario]["iters"]
        self.timeout = timeout

    def to_json(self):
        return {"scenario": self.scenario, "mode": self.mode, "injector": self.injector,
                "variant": self.variant, "seed": self.seed, "arms": self.arms, "env": self.env,
                "iters": self.iters, "timeout": self.timeout}

    @classmethod
    def from_json(cls, d):
        try:
            return cls(d["scenario"], d["mode"], d["injector"], d.get("variant", "fixed"),
                       d.get("seed", 1), d.get("arms", []), d.get("env", {}), d.get("iters"),
                       d.get("timeout", 20))
        except (KeyError, TypeError, ValueError) as e:
            raise Usage(f"malformed reproducer: {e}")

    def argv(self, bdir):
        inj = "storm" if self.injector == "storm" else ("sites" if self.arms else "none")
        cmd = EMU + [os.path.join(bdir, "harness", self.scenario), "--seed", str(self.seed),
                     "--iters", str(self.iters), "--mode", self.mode, "--injector", inj]
        if self.injector == "stackcheck":
            if EMU:
                raise Usage("stackcheck cannot trace a program under qemu-user")
            sc = os.path.join(ROOT, "build", "tools", "stackcheck")
            if not os.path.exists(sc):
                raise Usage("build/tools/stackcheck not built: run make")
            cmd = [sc, "-q", "--"] + cmd
        return cmd

    def environ(self):
        env = dict(self.env)
        if self.arms:
            env["SQ_FAULT"] = ",".join(self.arms)
        if self.injector == "stackcheck":
            env["SC_MAPSTACK"] = "1"
        return env

    def command(self, bdir):
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.environ().items()))
        return (env + " " if env else "") + " ".join(shlex.quote(a) for a in self.argv(bdir))

    def label(self):
        return f"{self.scenario}/{self.mode}/{self.injector}" + (f"[{','.join(self.arms)}]" if self.arms else "")


def signature(cls, message, stderr):
    """What makes two findings the same: class, message, and the first
    detail line the runtime printed, with addresses and numbers blanked."""
    def blank(t):
        return re.sub(r"0x[0-9a-f]+|[0-9a-f]{8,}-[0-9a-f]{8,}|\d+", "#", t)
    m = DETAIL_RE.search(stderr)
    detail = blank(m.group(1)) if m else ""
    return f"{cls}: {blank(message)}" + (f" | {detail}" if detail else "")


def classify(job, rc, out, err, timed_out):
    """The oracle. Returns (class, message)."""
    if timed_out:
        return "hang", f"watchdog fired after {job.timeout}s"
    kill = KILL_RE.search(err)
    if kill:
        return "stackcheck-kill", re.sub(r"pid=\d+ tid=\d+ ", "", kill.group(0))
    accept = set()
    m = EXPECT_RE.search(err)
    for alt in (m.group(1).split("|") if m else ["clean"]):
        accept.add(alt.strip())
    fatals = {a[len("fatal: "):] for a in accept if a.startswith("fatal: ")}
    fatals |= allowed_fatals(job.arms)
    f = FATAL_RE.search(err)
    if f:
        return (EXPECTED if f.group(1) in fatals else "unexpected-fatal"), f.group(1)
    if rc < 0:
        return "crash", "killed by " + signal.Signals(-rc).name
    if rc >= 128 and job.injector == "stackcheck":
        return "crash", "killed by " + signal.Signals(rc - 128).name
    if rc == 3 or "invariant: " in err:
        line = next((l for l in err.splitlines() if l.startswith("invariant: ")), "exit status 3")
        return "invariant", line
    if rc == 1:
        return "wrong-result", next((l for l in out.splitlines() if l.startswith("FAIL")), "exit 1")
    if rc != 0:
        return "crash", f"exit status {rc}"
    if fatals and "clean" not in accept and not job.arms:
        return "wrong-result", "expected a fatal error, ran to completion"
    return CLEAN, ""


def execute(job, bdir):
    """Run a job in its own process group; nothing of it survives."""
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("SQ_") or k == "SC_MAPSTACK":
            del env[k]
    env.update(job.environ())
    t0 = time.monotonic()
    p = subprocess.Popen(job.argv(bdir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         errors="replace", env=env, start_new_session=True)
    timed_out = False
    try:
        out, err = p.communicate(timeout=job.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _killgroup(p.pid, signal.SIGABRT)	# the runtime prints its M and G dump
        try:
            out, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            _killgroup(p.pid, signal.SIGKILL)
            out, err = p.communicate()
    _killgroup(p.pid, signal.SIGKILL)
    elapsed = time.monotonic() - t0
    cls, msg = classify(job, p.returncode, out, err, timed_out)
    hits = {s: int(n) for s, n in HITS_RE.findall(err)}
    return {"job": job.to_json(), "label": job.label(), "class": cls, "message": msg,
            "signature": signature(cls, msg, err), "rc": p.returncode, "seconds": round(elapsed, 3),
            "hits": hits, "command": job.command(bdir), "stdout": out, "stderr": err}


def _killgroup(pid, sig):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# ---- the campaign ------------------------------------------------------------

def plan(rng, bdir, dry):
    """An endless stream of jobs: every scenario x mode x injector in turn,
    and for the sites injector, each reached site x action with N = 1, 2,
    3, ... (SQLite style) and "every", round robin."""
    base = [(s, m) for s in SCENARIOS for m in SCENARIOS[s]["modes"]]
    ladders = {}
    for s, m in base:
        for site in sorted(dry.get((s, m), {})):
            for a in ACTIONS:
                if legal(site, a):
                    ladders[(s, m, site, a)] = {"n": 0, "done": False}
    keys = list(ladders)
    rng.shuffle(keys)
    cycle = 0
    while True:
        for s, m in base:
            for inj in ("none", "storm", "stackcheck"):
                yield Job(s, m, inj, seed=rng.randrange(1, 2**31), env=draw_env(rng))
        for key in keys[cycle % max(1, len(keys)):][:12] if keys else []:
            s, m, site, a = key
            lad = ladders[key]
            if lad["done"]:
                continue
            lad["n"] += 1
            if lad["n"] == 1 and self_feeding(site, a):
                lad["n"] += 1
            spec = f"{site}:{a.split(':')[0]}:{'every' if lad['n'] == 1 else lad['n'] - 1}"
            if ":" in a:
                spec += ":" + a.split(":")[1]
            yield Job(s, m, "sites", seed=rng.randrange(1, 2**31), arms=[spec], env=draw_env(rng))
            # the ladder stops once N passes the number of hits the dry run saw
            if lad["n"] - 1 >= dry[(s, m)][site]:
                lad["done"] = True
        cycle += 12


def draw_env(rng):
    env = {"SQ_MAXPROCS": str(rng.choice([1, 2, 2, 4]))}
    if rng.random() < 0.5:
        env["SQ_CALLBACK_BIND"] = rng.choice(["0", "1"])
    return env


def dry_runs(bdir, rng):
    """Which fault sites each scenario reaches, and how often."""
    out = {}
    for s in SCENARIOS:
        for m in SCENARIOS[s]["modes"]:
            r = execute(Job(s, m, "none", seed=rng.randrange(1, 2**31)), bdir)
            out[(s, m)] = r["hits"]
    return out


class Report:
    def __init__(self, outdir):
        self.outdir = outdir
        self.records, self.findings = [], {}
        for d in ("logs", "repro"):
            os.makedirs(os.path.join(outdir, d), exist_ok=True)

    def add(self, rec):
        self.records.append(rec)
        if rec["class"] in GOOD:
            return None
        key = rec["signature"]
        first = key not in self.findings
        if first:
            n = len(self.findings) + 1
            repro = os.path.join(self.outdir, "repro", f"finding-{n:03d}.json")
            log = os.path.join(self.outdir, "logs", f"finding-{n:03d}.log")
            with open(repro, "w") as f:
                json.dump(dict(rec["job"], **{"class": rec["class"], "message": rec["message"],
                                              "command": rec["command"]}), f, indent=1)
            with open(log, "w") as f:
                f.write(f"# {rec['command']}\n# {rec['class']}: {rec['message']}\n\n--- stdout\n"
                        f"{rec['stdout']}\n--- stderr\n{rec['stderr']}")
            self.findings[key] = {"class": rec["class"], "message": rec["message"], "count": 0,
                                  "repro": repro, "log": log, "command": rec["command"],
                                  "label": rec["label"]}
        self.findings[key]["count"] += 1
        return self.findings[key] if first else None

    def write(self, meta):
        recs = [{k: v for k, v in r.items() if k not in ("stdout", "stderr")} for r in self.records]
        with open(os.path.join(self.outdir, "report.json"), "w") as f:
            json.dump(dict(meta, runs=recs, findings=list(self.findings.values())), f, indent=1)
        text = self.table(meta)
        with open(os.path.join(self.outdir, "report.txt"), "w") as f:
            f.write(text)
        self.junit(meta)
        return text

    def table(self, meta):
        lines = [f"stackquake run: variant={meta['variant']} seed={meta['seed']} runs={len(self.records)} "
                 f"time={meta['elapsed']:.0f}s{' (interrupted)' if meta['interrupted'] else ''}", ""]
        classes = ["clean", "expected-fatal", "unexpected-fatal", "crash", "hang", "invariant",
                   "wrong-result", "stackcheck-kill"]
        short = ["clean", "exp", "fatal", "crash", "hang", "inv", "wrong", "sckill"]
        lines.append(f"{'scenario/mode':<26}{'injector':<12}{'runs':>5}" + "".join(f"{c:>7}" for c in short))
        rows = {}
        for r in self.records:
            j = r["job"]
            rows.setdefault((f"{j['scenario']}/{j['mode']}", j["injector"]), []).append(r["class"])
        for (sm, inj), cl in sorted(rows.items()):
            lines.append(f"{sm:<26}{inj:<12}{len(cl):>5}" + "".join(f"{cl.count(c):>7}" for c in classes))
        lines.append("")
        if not self.findings:
            lines.append("findings: none")
        for i, fd in enumerate(self.findings.values(), 1):
            lines.append(f"finding {i}: {fd['class']}: {fd['message']} ({fd['count']} runs; {fd['label']})")
            lines.append(f"  reproduce: ./stackquake repro {fd['repro']}")
            lines.append(f"  log:       {fd['log']}")
        return "\n".join(lines) + "\n"

    def junit(self, meta):
        with open(os.path.join(self.outdir, "junit.xml"), "w") as f:
            bad = sum(r["class"] not in GOOD for r in self.records)
            f.write('<?xml version="1.0" encoding="UTF-8"?>\n')
            f.write(f'<testsuite name="stackquake.run" tests="{len(self.records)}" failures="{bad}" '
                    f'time="{meta["elapsed"]:.1f}">\n')
            for i, r in enumerate(self.records):
                name = quoteattr("%05d %s" % (i, r["label"]))
                cls = quoteattr("stackquake." + r["job"]["scenario"])
                f.write(f'  <testcase classname={cls} name={name} time="{r["seconds"]}">')
                if r["class"] not in GOOD:
                    f.write(f'<failure message={quoteattr(r["class"] + ": " + r["message"])}>'
                            f'{escape(r["command"])}</failure>')
                f.write("</testcase>\n")
            f.write("</testsuite>\n")


def progress(tty, text, final=False):
    if tty:
        print("\r" + text.ljust(100)[:100], end="\n" if final else "", file=sys.stderr, flush=True)
    else:
        print(text, file=sys.stderr, flush=True)


def cmd_run(a):
    budget = parse_duration(a.budget)
    bdir = build_dir(a.variant)
    seed = a.seed if a.seed is not None else int(os.environ.get("SQ_SEED", time.time_ns() % 2**31))
    rng = random.Random(seed)
    outdir = os.path.join(a.out, time.strftime("run-%Y%m%d-%H%M%S-") + str(os.getpid()))
    rep = Report(outdir)
    tty = sys.stderr.isatty()
    print(f"stackquake run: variant={a.variant} seed={seed} budget={budget:.0f}s out={outdir}", file=sys.stderr)
    t0, interrupted, last = time.monotonic(), False, 0.0
    try:
        dry = dry_runs(bdir, rng)
        for job in plan(rng, bdir, dry):
            if time.monotonic() - t0 >= budget:
                break
            job.variant = a.variant
            rec = execute(job, bdir)
            new = rep.add(rec)
            now = time.monotonic() - t0
            if new:
                progress(tty, f"[{now:6.1f}s] new finding: {new['class']}: {new['message']} ({rec['label']})", True)
            if tty or now - last > 10:
                progress(tty, f"[{now:6.1f}s/{budget:.0f}s] runs={len(rep.records)} "
                              f"findings={len(rep.findings)} last={rec['label']}:{rec['class']}")
                last = now
    except KeyboardInterrupt:
        interrupted = True
        print("\nstackquake: interrupted; writing what was found so far", file=sys.stderr)
    if tty:
        print(file=sys.stderr)
    meta = {"variant": a.variant, "seed": seed, "budget": budget, "elapsed": time.monotonic() - t0,
            "interrupted": interrupted}
    print(rep.write(meta), end="")
    print(f"report: {outdir}/report.txt, report.json, junit.xml")
    return 1 if rep.findings else 0


# ---- regressions -------------------------------------------------------------

# The fault-site plan per variant: the runs that drive the runtime into the
# window the fix closed, in order. The storm baseline runs the scenarios
# with the storm injector instead, in the same order, until its budget.
SITE_PLANS = {
    "mapstack": [("sc_syscall", "window", "stackcheck", [])],
    "syscallsplit": [("sc_syscall", "window", "sites", ["entersyscall.poisoned:split"]),
                     ("sc_syscall", "window", "sites", ["syscall.window:split"])],
    "stackswitch": [("sc_stackswitch", "legal", "none", [])],
    "attachsig": [("sc_attachsig", "unbound", "sites", ["needm.after_setg:signal:every:SIGURG"]),
                  ("sc_attachsig", "unbound", "sites", ["dropm.after_unminit:signal:every:SIGPROF"])],
    "gsignal-systemstack": [("sc_sigstack", "self", "none", [])],
    "arm-systemstack-curg": [("sc_syscall", "window", "none", [])],
}
STORM_ORDER = [("sc_attachsig", "unbound"), ("sc_stackswitch", "legal"), ("sc_syscall", "window"),
               ("sc_sigstack", "pinger"), ("sc_mixed", "all")]


def detected(rec):
    return rec["class"] not in GOOD


def first_detection(jobs, bdir, budget, variant):
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < budget:
        job = jobs[i % len(jobs)]
        job.variant = variant
        job.seed = random.randrange(1, 2**31)
        rec = execute(job, bdir)
        if detected(rec):
            return rec, time.monotonic() - t0
        i += 1
    return None, time.monotonic() - t0


def replay(job, bdir, times):
    return [execute(job, bdir)["class"] for _ in range(times)]


def cmd_regress(a):
    variants = a.variants.split(",") if a.variants else VARIANTS
    known = VARIANTS + list(ARCH_VARIANTS)
    for v in variants:
        if v not in known:
            raise Usage(f"unknown variant {v!r}; one of: {', '.join(known)}")
    storm_budget = parse_duration(a.budget_storm)
    site_budget = parse_duration(a.budget_sites)
    outdir = os.path.join(a.out, time.strftime("regress-%Y%m%d-%H%M%S-") + str(os.getpid()))
    os.makedirs(outdir, exist_ok=True)
    rows, missed = [], 0
    arch = (EMU[0].replace("qemu-", "") if EMU else os.uname().machine)
    try:
        for v in variants:
            if ARCH_VARIANTS.get(v, arch) != arch:
                print(f"regress: {v}: skipped: its mistake is in the {ARCH_VARIANTS[v]} code, "
                      f"invisible to {arch} runs", file=sys.stderr)
                continue
            bdir = build_dir(v)
            jobs = [Job(s, m, inj, v, arms=arms, env={"SQ_MAXPROCS": "2"}) for s, m, inj, arms in SITE_PLANS[v]]
            rec, t_sites = first_detection(jobs, bdir, site_budget, v)
            print(f"regress: {v}: fault sites: "
                  f"{rec['class'] + ': ' + rec['message'] if rec else 'not found'} in {t_sites:.2f}s",
                  file=sys.stderr, flush=True)
            storm_jobs = [Job(s, m, "storm", v, env={"SQ_MAXPROCS": "2"}, iters=SCENARIOS[s]["iters"] * 10)
                          for s, m in STORM_ORDER]
            srec, t_storm = first_detection(storm_jobs, bdir, storm_budget, v)
            print(f"regress: {v}: storm: "
                  f"{srec['class'] + ': ' + srec['message'] if srec else 'not found'} in {t_storm:.2f}s",
                  file=sys.stderr, flush=True)
            row = {"variant": v, "detected": bool(rec), "seconds_sites": round(t_sites, 3),
                   "storm_detected": bool(srec), "seconds_storm": round(t_storm, 3)}
            if rec:
                job = Job.from_json(rec["job"])
                path = os.path.join(outdir, f"{v}.json")
                with open(path, "w") as f:
                    json.dump(dict(rec["job"], **{"class": rec["class"], "message": rec["message"],
                                                  "command": rec["command"]}), f, indent=1)
                classes = replay(job, bdir, a.replays)
                row.update({"scenario": rec["label"], "class": rec["class"], "message": rec["message"],
                            "repro": path, "replays": f"{classes.count(rec['class'])}/{a.replays}"})
            else:
                missed += 1
            if srec:
                row["storm_scenario"] = srec["label"]
            rows.append(row)
    except KeyboardInterrupt:
        print("\nstackquake: interrupted; reporting the variants done so far", file=sys.stderr)
    text = regress_table(rows, storm_budget)
    with open(os.path.join(outdir, "regress.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(outdir, "regress.txt"), "w") as f:
        f.write(text)
    print(text, end="")
    print(f"report: {outdir}/regress.txt, regress.json, and one reproducer per variant")
    return 1 if missed else 0


def regress_table(rows, storm_budget):
    lines = [f"{'variant':<21}{'detected by':<44}{'class: message':<58}{'sites':>8}{'storm':>18}"
             f"{'speed-up':>10}{'replays':>9}"]
    ts = []
    for r in rows:
        if r["detected"]:
            ts.append(r["seconds_sites"])
            storm = f"{r['seconds_storm']:.2f}s" if r["storm_detected"] else f"not found in {storm_budget:.0f}s"
            speed = r["seconds_storm"] / max(r["seconds_sites"], 1e-3)
            speed = f"{speed:.0f}x" if r["storm_detected"] else f">{speed:.0f}x"
            msg = f"{r['class']}: {r['message']}"
            lines.append(f"{r['variant']:<21}{r['scenario'][:43]:<44}{msg[:57]:<58}{r['seconds_sites']:>7.2f}s"
                         f"{storm:>18}{speed:>10}{r['replays']:>9}")
        else:
            lines.append(f"{r['variant']:<21}{'NOT DETECTED':<44}")
    if ts:
        ts.sort()
        med = ts[len(ts) // 2] if len(ts) % 2 else (ts[len(ts) // 2 - 1] + ts[len(ts) // 2]) / 2
        lines.append("")
        lines.append(f"median time to detection with fault sites: {med:.2f}s (target: under 1 s; "
                     f"and at least 100x faster than the storm)")
    return "\n".join(lines) + "\n"


def cmd_repro(a):
    try:
        with open(a.file) as f:
            d = json.load(f)
    except OSError as e:
        raise Usage(f"{a.file}: {e.strerror}")
    except json.JSONDecodeError as e:
        raise Usage(f"{a.file}: malformed reproducer: {e}")
    if not isinstance(d, dict):
        raise Usage(f"{a.file}: malformed reproducer: not an object")
    job = Job.from_json(d)
    bdir = build_dir(job.variant)
    want = d.get("class")
    print(f"replaying: {job.command(bdir)}", file=sys.stderr)
    got = []
    for i in range(a.times):
        rec = execute(job, bdir)
        got.append(rec["class"])
        print(f"replay {i + 1}/{a.times}: {rec['class']}: {rec['message']} ({rec['seconds']:.2f}s)")
        if i == 0 and a.times == 1 and rec["class"] not in GOOD:
            print(rec["stderr"][-3000:], file=sys.stderr)
    if want:
        same = got.count(want)
        print(f"same class as recorded ({want}): {same}/{a.times}")
        return 0 if same == a.times else 1
    return 0


def cmd_list(a):
    for s, d in SCENARIOS.items():
        print(f"scenario {s}: modes {', '.join(d['modes'])}")
    print(f"injectors: {', '.join(INJECTORS)}")
    print(f"variants: fixed, {', '.join(VARIANTS)}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="stackquake", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd")
    r = sub.add_parser("run", help="the default campaign")
    r.add_argument("--variant", default="fixed")
    r.add_argument("--budget", default="3m")
    r.add_argument("--seed", type=int)
    r.add_argument("--out", default=os.path.join(ROOT, "out"))
    g = sub.add_parser("regress", help="time to detection of each regression variant")
    g.add_argument("--variants")
    g.add_argument("--budget-sites", default="60s")
    g.add_argument("--budget-storm", default="30s")
    g.add_argument("--replays", type=int, default=10)
    g.add_argument("--out", default=os.path.join(ROOT, "out"))
    p = sub.add_parser("repro", help="replay a reproducer file")
    p.add_argument("file")
    p.add_argument("--times", type=int, default=1)
    sub.add_parser("list", help="scenarios, injectors, variants")
    try:
        a = ap.parse_args(argv)
        if not a.cmd:
            ap.print_help(sys.stderr)
            return 2
        return {"run": cmd_run, "regress": cmd_regress, "repro": cmd_repro, "list": cmd_list}[a.cmd](a)
    except Usage as e:
        print(f"stackquake: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:	# argparse: bad options
        return 2 if e.code not in (0, None) else 0


if __name__ == "__main__":
    sys.exit(main())
