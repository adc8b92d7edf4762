"""stackquake: run the harness scenarios, classify every run, keep findings.

  stackquake run [--target sq|go|gccgo] [--variant V] [--on PLATFORM]
                 [--budget 3m] [--seed N] [--out out]
      the default campaign: every scenario x mode x injector against one
      runtime, live progress, a summary table, and under OUT/<run>/
      report.txt, report.json, junit.xml, logs/ and repro/ (one reproducer
      per finding)
  stackquake regress [--budget-sites 60s] [--budget-storm 30s] [--replays 10]
                     [--variants a,b] [--seed N] [--on PLATFORM]
      for each regression variant: the campaign's own plan until its first
      finding, then the storm baseline on the same variant (its runs cut at
      the budget's end), then replays of the reproducer, and the
      derandomizer on one that missed a replay (--derandomize 60s); prints
      the regression table
  stackquake repro FILE [--times N]
      replay a reproducer on the runtime and platform it names; exit 0 when
      every replay lands in its class
  stackquake list [--target T]
      scenarios and their modes, injectors, variants, runtimes
  stackquake mutate [--budget 3m] [--only a,b]
      the campaign alone against mutants of the runtime (sqlib/mutate.py):
      kill rate and time to kill

--target is the runtime under test: sq (stackquake's own, the default), go
(gc through cgo) or gccgo. --on is where the programs run: local (default),
musl, qemu-aarch64, qemu-riscv64, ssh://user@host:port (sqlib/targets.py).

Outcome classes: sqlib/outcome.py. Anything but clean, expected-fatal and
skipped is a finding. Exit status: 0 no findings (run) / every variant
detected (regress); 1 findings / a variant not detected; 2 bad usage;
130 / 143 interrupted by SIGINT / SIGTERM (the partial report is written).
"""
import argparse
import fcntl
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from xml.sax.saxutils import escape, quoteattr

from . import BUILD, ROOT, Usage, contract, duration, findings, outcome, records, sigpoke, targets

RUNTIMES = ("sq", "go", "gccgo")
INJECTORS = ["none", "storm", "sites", "pct", "stackcheck", "sigpoke"]
SIGPOKE_SECONDS = 10	# a sigpoke job's sweep: at most this long,
SIGPOKE_SAMPLE = 24	# and this many instructions drawn from its seed
STACKCHECK = os.path.join(BUILD, "tools", "stackcheck")
PID1 = os.path.join(ROOT, "harness", "sq-pid1")
WATCHDOG = 20	# seconds per run


class Interrupted(Exception):
    def __init__(self, sig):
        super().__init__(signal.Signals(sig).name)
        self.status = 128 + sig


def _on_signal(sig, frame):
    raise Interrupted(sig)


# ---- the runtime under test, and where it runs ----------------------------------

class Under:
    """One build of the scenarios: runtime x variant x platform. Knows its
    scenarios (each program's --describe) and its target's fatal table."""

    def __init__(self, runtime="sq", variant="fixed", on="local"):
        if runtime not in RUNTIMES:
            raise Usage(f"unknown target {runtime!r}; one of: {', '.join(RUNTIMES)}")
        contract.check_variant(variant)
        if runtime != "sq" and variant != "fixed":
            raise Usage(f"--variant is stackquake's own (target sq); {runtime} has none")
        try:
            self.platform = on if isinstance(on, targets.Target) else targets.target(on)
        except ValueError as e:
            raise Usage(str(e)) from None
        why = self.platform.check()
        if why:
            raise Usage(f"cannot run on {self.platform.name}: {why}")
        self.runtime, self.variant, self.on = runtime, variant, self.platform.name
        if runtime == "sq":
            self.bdir = self.platform.build_dir(variant)
            how = "make" + ("" if variant == "fixed" else f" REGRESS={variant}") + \
                  "".join(f" {v}" for v in self.platform.make_vars() if v not in
                          (f"ARCH={targets.HOST_ARCH}", "LIBC=glibc"))
        else:
            if not self.platform.host_native:
                raise Usage(f"target {runtime} runs on the host only (mk/go.mk builds for it), "
                            f"not on {self.platform.name}")
            self.bdir = os.path.join(BUILD, runtime)
            how = "make go-scenarios"
            build_go(runtime)
        self.hdir = os.path.join(self.bdir, "harness")
        if not os.path.isdir(self.hdir):
            raise Usage(f"{self.hdir} not built: run {how}")
        self.scenarios = contract.scenarios(self.hdir, lambda cmd: self.platform.run(cmd, timeout=120))
        first = next(iter(self.scenarios.values()))
        self.fatals = outcome.FatalTable(first.fatals)
        self.version = first.target.get("version", "")

    def label(self):
        v = "" if self.variant == "fixed" else f" variant={self.variant}"
        return f"target={self.runtime}{v} on={self.on}"

    def can_stackcheck(self):
        """stackcheck enforces OpenBSD's MAP_STACK rule. Go maps goroutine
        stacks MAP_STACK on OpenBSD only, so on Linux builds of Go the rule
        is not Go's to keep: stackcheck is for stackquake's runtime."""
        return self.runtime == "sq" and self.platform.host_native and os.path.exists(STACKCHECK)

    def can_sigpoke(self):
        """sigpoke sweeps the runtime's own windows (runtime/tests/sp_window)
        in the host's build: stackquake's runtime only."""
        return self.runtime == "sq" and self.platform.host_native and sigpoke.check(self.bdir) is None

    def axes(self):
        """The environment axes the scenarios offer (envaxes.h) that this
        platform can set up (pid1 needs a local unshare as root), as their
        records: name, expect (clean, or the death the axis owes)."""
        d = next(iter(self.scenarios.values()))
        pid1 = self.platform.kind == "local" and os.geteuid() == 0 and shutil.which("unshare")
        return [x for x in d.axes if x["name"] != "pid1" or pid1]

    def draw_env(self, rng):
        """A run's runtime settings: the number of Ps and how callbacks bind
        (stackquake), GOMAXPROCS (Go); Go dumps every goroutine on a hang."""
        procs = str(rng.choice([1, 2, 2, 4, 8]))
        if self.runtime != "sq":
            return {"GOMAXPROCS": procs, "GOTRACEBACK": "crash"}
        env = {"SQ_MAXPROCS": procs}
        if rng.random() < 0.5:
            env["SQ_CALLBACK_BIND"] = rng.choice(["0", "1"])
        if rng.random() < 0.2:
            env["SQ_STACKSIZE"] = str(rng.choice([64 << 10, 128 << 10, 1 << 20]))
        return env

    def draw_load(self, rng, scenario):
        """Pressure, now and then: more foreign threads than CPUs, and runs
        four times as long (sysmon retakes, the global queue fills). None
        leaves the scenario's own numbers."""
        d = self.scenarios[scenario]
        threads = rng.choice([2, 4, 8, 16]) if d.threads and rng.random() < 0.3 else None
        iters = d.campaign_iters * 4 if rng.random() < 0.1 else None
        return threads, iters

    def modes(self):
        return [(s, m) for s, d in self.scenarios.items() for m in d.modes]


def build_go(runtime):
    """Bring build/<runtime>/ (the scenarios against gc or gccgo, mk/go.mk)
    up to date, installing the toolchain first where it is missing
    (mk/deps.sh go: apt-get as root, the exact command otherwise), so that
    `stackquake run --target go` works after a plain `make`. One make at a
    time: pytest's workers share build/ (the lock pytest/sqtest.py takes)."""
    goal = {"go": "go-gc-scenarios", "gccgo": "go-gccgo-scenarios"}[runtime]
    if not os.path.isdir(os.path.join(BUILD, runtime, "harness")):
        print(f"stackquake: building the {runtime} scenarios (make deps-go {goal}; a minute or two)",
              file=sys.stderr, flush=True)
    os.makedirs(BUILD, exist_ok=True)
    with open(os.path.join(BUILD, ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        r = subprocess.run(["make", "--no-print-directory", "-C", ROOT, "deps-go", goal],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env={k: v for k, v in os.environ.items()
                                if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")})
    if r.returncode != 0:
        raise Usage(f"cannot build the {runtime} scenarios (make deps-go {goal}):\n{r.stdout[-2000:]}")


# ---- one run -----------------------------------------------------------------------

class Job:
    """Everything that determines a run: replaying a Job replays the run."""

    def __init__(self, scenario, mode, injector, seed=1, arms=(), env=None, iters=None,
                 timeout=WATCHDOG, axes="", threads=None):
        if injector not in INJECTORS:
            raise Usage(f"unknown injector {injector!r}; one of: {', '.join(INJECTORS)}")
        self.scenario, self.mode, self.injector = scenario, mode, injector
        self.seed, self.arms = int(seed), list(arms)
        self.env = dict(env or {})
        self.iters, self.timeout = iters, timeout
        self.axes, self.threads = axes, threads

    def check(self, under):
        if self.injector == "sigpoke":
            if not under.can_sigpoke():
                raise Usage(f"sigpoke cannot sweep {under.label()}: "
                            f"{sigpoke.check(under.bdir) or 'not the host build of stackquake'}")
            sigpoke.window(self.mode)
            return self
        d = under.scenarios.get(self.scenario)
        if d is None:
            raise Usage(f"unknown scenario {self.scenario!r}; one of: {', '.join(under.scenarios)}")
        if self.mode not in d.modes:
            raise Usage(f"{self.scenario}: unknown mode {self.mode!r}; one of: {', '.join(d.modes)}")
        if self.injector == "stackcheck" and not under.can_stackcheck():
            raise Usage(f"stackcheck runs the host's own build only (not {under.on}), "
                        f"and needs build/tools/stackcheck (make)")
        for spec in self.arms:
            contract.verdict(*contract.parse_spec(spec))
        known = {x["name"] for x in d.axes}
        for x in filter(None, self.axes.split(",")):
            if x not in known:
                raise Usage(f"unknown environment axis {x!r}; one of: {', '.join(sorted(known))}")
        if self.iters is None:
            self.iters = d.campaign_iters
        return self

    def to_json(self):
        return {"scenario": self.scenario, "mode": self.mode, "injector": self.injector,
                "seed": self.seed, "arms": self.arms, "env": self.env, "iters": self.iters,
                "timeout": self.timeout, "axes": self.axes, "threads": self.threads}

    @classmethod
    def from_json(cls, d):
        try:
            return cls(d["scenario"], d["mode"], d["injector"], d.get("seed", 1), d.get("arms", []),
                       d.get("env", {}), d.get("iters"), d.get("timeout", WATCHDOG), d.get("axes", ""),
                       d.get("threads"))
        except (KeyError, TypeError, ValueError) as e:
            raise Usage(f"malformed reproducer: {e}") from None

    def argv(self, under):
        inj = "storm" if self.injector == "storm" else ("sites" if self.arms else "none")
        cmd = [os.path.join(under.hdir, self.scenario), "--seed", str(self.seed),
               "--iters", str(self.iters), "--mode", self.mode, "--injector", inj]
        if self.threads:
            cmd += ["--threads", str(self.threads)]
        if self.axes:
            cmd += ["--env", self.axes]
        if "pid1" in self.axes.split(","):
            cmd = ["sh", PID1] + cmd
        if self.injector == "stackcheck":
            cmd = [STACKCHECK, "-q", "--"] + cmd
        return cmd

    def environ(self):
        env = dict(self.env)
        if self.arms:
            env["SQ_FAULT"] = ",".join(self.arms)
        if self.injector == "stackcheck":
            env["SC_MAPSTACK"] = "1"
        return env

    def command(self, under):
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.environ().items()))
        argv = under.platform.prefix() + self.argv(under)
        return (env + " " if env else "") + " ".join(shlex.quote(a) for a in argv)

    def label(self):
        return (f"{self.scenario}/{self.mode}/{self.injector}" + (f"[{','.join(self.arms)}]" if self.arms else "")
                + (f"{{env {self.axes}}}" if self.axes else ""))


def is_progress(line):
    return line.startswith('{"rec":"progress"')


def execute(job, under, cutoff=None):
    """Run a job on its platform and judge it. Nothing of it survives.
    cutoff: a budget's end for the whole run, in seconds from now; a run
    still making progress there is cut and not judged (class skipped,
    "cut": True): the budget is spent, nothing was found."""
    if job.injector == "sigpoke":
        return execute_sigpoke(job, under)
    t0 = time.monotonic()
    rc, out, err, timed_out = under.platform.run(job.argv(under), job.environ(),
                                                 job.timeout * under.platform.slowdown,
                                                 progress=is_progress, limit=cutoff)
    cut = cutoff is not None and timed_out and time.monotonic() - t0 >= cutoff
    if cut:
        cls, msg = "skipped", f"cut at its budget's end ({cutoff:.1f}s)"
    else:
        cls, msg = outcome.classify(rc, out, err, timed_out, under.fatals, contract.owed_fatals(job.arms),
                                    armed=bool(job.arms), timeout=job.timeout,
                                    under_stackcheck=job.injector == "stackcheck")
    hits = {h["site"]: h["n"] for h in records.of(records.parse(out), "hits")}
    rec = {"job": job.to_json(), "label": job.label(), "class": cls, "message": msg,
           "signature": outcome.signature(cls, msg, err), "rc": rc,
           "seconds": round(time.monotonic() - t0, 3), "hits": hits, "command": job.command(under),
           "stdout": out, "stderr": err}
    if cut:
        rec["cut"] = True
    return rec


def execute_sigpoke(job, under):
    """A bounded sigpoke sweep of one window (job.mode) of the runtime's
    window program, instructions drawn from job.seed: one record, clean or
    the first unsafe instruction (its reproducer replays that one poke)."""
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sq-sigpoke-") as tmp:
        found = sigpoke.sweep(sigpoke.program(under.bdir, job.mode), job.env, job.mode, SIGPOKE_SECONDS,
                              tmp, seed=job.seed, sample=SIGPOKE_SAMPLE)
    base = {"job": job.to_json(), "label": job.label(), "rc": found.run.rc if found.run else None,
            "seconds": round(time.monotonic() - t0, 3), "hits": {}, "command": " ".join(found.command),
            "stdout": "", "stderr": found.run.stderr[-4000:] if found.run else ""}
    if not found:
        return dict(base, **{"class": "clean", "message": f"{found.summary.get('instructions', 0)} "
                                                            f"instructions, none unsafe", "signature": ""})
    rec = found[0].record()
    base["job"].update(argv=rec["job"]["argv"], loc=rec["job"]["loc"])
    return dict(base, **{k: rec[k] for k in ("class", "message", "signature", "command", "stderr")})


def reproducer(rec, under):
    """What replays a run: the job, and the runtime and platform it ran on."""
    return dict(rec["job"], **{"target": under.runtime, "variant": under.variant, "on": under.on,
                               "class": rec["class"], "message": rec["message"],
                               "command": rec["command"]})


# ---- the campaign's plan -----------------------------------------------------------

def campaign_actions():
    """The actions the campaign arms: the contract's, a signal as SIGURG
    (preemption) and SIGPROF (profiling), the two the runtime takes."""
    out = []
    for a in contract.actions():
        out += [f"{a}:SIGURG", f"{a}:SIGPROF"] if a == "signal" else [a]
    return out


def interest(site, action):
    """How much arming action at site is likely to tell, from the contract's
    rules alone: an arm the runtime must refuse first (it tests the refusal
    and the window it guards), then signals (the windows are signal
    windows), then the rest. None: not worth a run (the action is an
    ordinary call there)."""
    name = action.split(":")[0]
    v, _ = contract.verdict(site, name)
    if v == "noop":
        return None
    return {"refused": 3, "ok": 2 if name == "signal" else 1, "livelock": 1}[v]


def spec(site, action, rung):
    """Rung 0 arms every hit; rung n arms the n-th hit only (SQLite style)."""
    name, _, sig = action.partition(":")
    return f"{site}:{name}:{'every' if rung == 0 else rung}" + (f":{sig}" if sig else "")


def plan(rng, under, dry):
    """An endless stream of jobs: the scenarios alone and under the storm
    and stackcheck, each followed by one scenario mode under an environment
    axis (every mode x axis pair once, in a shuffled order, before any
    comes again; an axis the storm admits pairs under it too) and by
    fault-site ladders: every reached site x action
    armed on every hit first (the most telling pairs first), then hit N for
    N = 1, 2, 3, ... until N passes the hits the dry run saw."""
    injectors = ["none", "storm"] + (["stackcheck"] if under.can_stackcheck() else []) \
        + (["pct"] if under.runtime == "sq" else [])
    base = [(s, m, inj) for s, m in under.modes() for inj in injectors]
    if under.can_sigpoke():	# one sweep of each window per round, spread out
        step = max(1, len(base) // len(sigpoke.windows()))
        for i, w in enumerate(sigpoke.windows()):
            base.insert(min(len(base), (i + 1) * step + i), ("sp_window", w, "sigpoke"))
    axes = under.axes()
    # A mode that owes a fatal error of its own owes a death already: an
    # axis's death could not be told from it. One the target cannot run
    # (its dry run skipped) would skip under every axis too.
    # The axes the storm's signals leave alone, which also meet it: those
    # that owe a clean end, but not the host handlers' (they count their
    # handlers' calls against what they sent themselves, and the storm's
    # signals reach those handlers too). Under the storm a signal meets a
    # world the host changes under the runtime: a signal stack taken away
    # while a thread is still attached, masks, threads that come and go.
    storm_axes = [x for x in axes if x["expect"] == "clean" and not x["name"].startswith("handlers")]
    pairs = [(s, m, x, inj) for s, m in under.modes()
             if not declares_fatal(dry.get((s, m), {}).get("_expect"))
             and not dry.get((s, m), {}).get("_skipped")
             for x in axes for inj in (("none", "storm") if x in storm_axes else ("none",))]
    ladders = []
    for s, m in under.modes():
        for site, n in sorted(dry.get((s, m), {}).items()):
            if site.startswith("_"):
                continue
            for a in campaign_actions():
                score = interest(site, a)
                if score is not None:
                    livelock = contract.verdict(site, a.split(":")[0], True)[0] == "livelock"
                    ladders.append({"key": (s, m, site, a), "score": score, "hits": n,
                                    "rung": 1 if livelock else 0, "r": rng.random()})
    ladders.sort(key=lambda l: (-l["score"], l["r"]))
    rot = Rotation(rng)
    bi, li = 0, 0
    while True:
        s, m, inj = base[bi % len(base)]
        bi += 1
        if inj == "sigpoke":
            yield Job(s, m, "sigpoke", seed=rng.randrange(1, 2**31))
        elif inj == "pct":
            arms = pct_arms(rng, dry.get((s, m), {}))
            if arms:
                env = dict(under.draw_env(rng), SQ_MAXPROCS=str(rng.choice([2, 4, 8])))
                yield Job(s, m, "pct", seed=rng.randrange(1, 2**31), arms=arms, env=env)
        else:
            threads, iters = under.draw_load(rng, s)
            # The scenario alone, every other time in an environment that
            # owes nothing but the scenario's own end (host handlers and
            # signal stacks, masks, pre-init threads): the axes' windows
            # meet the scenario's own mechanisms far more often.
            # The storm's runs likewise, among the axes it admits.
            quiet = [x for x in axes if x["expect"] == "clean"] if inj == "none" else storm_axes
            extra = ""
            if inj in ("none", "storm") and quiet and rng.random() < 0.5 and \
                    not declares_fatal(dry.get((s, m), {}).get("_expect")):
                extra = rot.next((s, m, inj, "quiet"), quiet)["name"]
            yield Job(s, m, inj, seed=rng.randrange(1, 2**31), env=under.draw_env(rng), threads=threads,
                      iters=iters, axes=extra)
        if pairs:
            s, m, x, inj = rot.next("pairs", pairs)
            yield Job(s, m, inj, seed=rng.randrange(1, 2**31), env=under.draw_env(rng),
                      axes=draw_axes(rng, axes if inj == "none" else storm_axes, x))
        for _ in range(3):
            live = [l for l in ladders if l["rung"] <= l["hits"]]
            if not live:
                break
            lad = live[li % len(live)]
            li += 1
            s, m, site, a = lad["key"]
            yield Job(s, m, "sites", seed=rng.randrange(1, 2**31), arms=[spec(site, a, lad["rung"])],
                      env=under.draw_env(rng))
            lad["rung"] += 1


def pct_arms(rng, hits):
    """Schedule perturbation (PCT style): one to three of the sites the mode
    reaches, each yielding or spinning at a hit drawn from the ones the dry
    run saw, so the interleavings around them change run to run."""
    sites = sorted(k for k in hits if not k.startswith("_") and hits[k] > 0)
    arms = []
    for site in rng.sample(sites, min(len(sites), rng.randint(1, 3))):
        action = rng.choice(["yield", "spin"])
        if contract.verdict(site, action)[0] == "ok":
            arms.append(f"{site}:{action}:{rng.randint(1, hits[site])}")
    return arms


def declares_fatal(expect):
    return bool(expect) and expect.get("outcome") == "fatal"


class Rotation:
    """Each key's candidates in a shuffled order, every one once before any
    comes again (a fresh shuffle each time round): every scenario mode
    meets every environment axis within one pass, where independent draws
    leave some pair unmet for long (of 16 axes, a given one is still
    missing after 40 draws one time in 13)."""

    def __init__(self, rng):
        self.rng, self.left = rng, {}

    def next(self, key, items):
        q = self.left.get(key)
        if not q:
            q = list(items)
            self.rng.shuffle(q)
            self.left[key] = q
        return q.pop()


def draw_axes(rng, axes, first):
    """The axis first (the next pair's, plan's rotation), or now and then
    two at once: never two that owe a death (only the first would fire) nor
    two of a family (two sets of host handlers: the second replaces the
    first)."""
    a = first
    pick = [a]
    if rng.random() < 0.25:
        b = rng.choice(axes)
        if (b["name"].split("-")[0] != a["name"].split("-")[0]
                and "clean" in (a["expect"], b["expect"])):
            pick.append(b)
    return ",".join(x["name"] for x in pick)


def dry_runs(under, rng, dry):
    """Each scenario mode once with no injector: which fault sites it
    reaches, and how often, go into dry; yields each run's record (a dry
    run is a run like any other, and may be a finding)."""
    for s, m in under.modes():
        rec = execute(Job(s, m, "none", seed=rng.randrange(1, 2**31), env=under.draw_env(rng)).check(under),
                      under)
        dry[(s, m)] = dict(rec["hits"], _expect=records.first(records.parse(rec["stdout"]), "expect"),
                           _skipped=rec["class"] == "skipped")
        yield rec


def campaign_runs(rng, under):
    """The campaign's runs, as records, for ever: the dry runs, then the plan."""
    dry = {}
    yield from dry_runs(under, rng, dry)
    for job in plan(rng, under, dry):
        yield execute(job.check(under), under)


# ---- reports -------------------------------------------------------------------------

class Report:
    def __init__(self, outdir, under):
        self.outdir, self.under = outdir, under
        self.records, self.findings = [], {}
        for d in ("logs", "repro"):
            os.makedirs(os.path.join(outdir, d), exist_ok=True)

    def add(self, rec):
        self.records.append(rec)
        if not outcome.is_finding(rec["class"]):
            return None
        # Every run is matched against the written-up findings, not just the
        # first of a signature: a run that looks like a known one (the same
        # fatal message) but is not (another axis, another scenario) is a
        # finding of its own, and a new one.
        k = findings.recognise(self.under.runtime, rec["class"], rec["message"], rec["label"])
        rec["known"] = k["name"] if k else None
        key = (rec["signature"], rec["known"])
        first = key not in self.findings
        if first:
            n = len(self.findings) + 1
            repro = os.path.join(self.outdir, "repro", f"finding-{n:03d}.json")
            log = os.path.join(self.outdir, "logs", f"finding-{n:03d}.log")
            with open(repro, "w") as f:
                json.dump(reproducer(rec, self.under), f, indent=1)
            with open(log, "w") as f:
                f.write(f"# {rec['command']}\n# {self.under.label()} {self.under.version}\n"
                        f"# {rec['class']}: {rec['message']}\n\n--- stdout\n"
                        f"{rec['stdout']}\n--- stderr\n{rec['stderr']}")
            self.findings[key] = {"class": rec["class"], "message": rec["message"], "count": 0,
                                  "repro": repro, "log": log, "command": rec["command"],
                                  "label": rec["label"], "known": k["name"] if k else None,
                                  "upstream": k["upstream"] if k else None}
        self.findings[key]["count"] += 1
        return self.findings[key] if first else None

    def new_findings(self):
        """Findings nobody has written up in docs/findings/."""
        return [f for f in self.findings.values() if not f["known"]]

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
        lines = [f"stackquake run: {self.under.label()} ({self.under.version}) seed={meta['seed']} "
                 f"runs={len(self.records)} time={meta['elapsed']:.0f}s"
                 f"{' (interrupted: ' + meta['interrupted'] + ')' if meta['interrupted'] else ''}", ""]
        shown = [c for c in outcome.CLASSES if c != "harness-error" or any(
            r["class"] == c for r in self.records)]
        lines.append(f"{'scenario/mode':<26}{'injector':<12}{'runs':>5}"
                     + "".join(f"{outcome.SHORT[c]:>7}" for c in shown))
        rows = {}
        for r in self.records:
            j = r["job"]
            inj = j["injector"] + ("+env" if j.get("axes") else "")
            rows.setdefault((f"{j['scenario']}/{j['mode']}", inj), []).append(r["class"])
        for (sm, inj), cl in sorted(rows.items()):
            lines.append(f"{sm:<26}{inj:<12}{len(cl):>5}" + "".join(f"{cl.count(c):>7}" for c in shown))
        lines.append("")
        if not self.findings:
            lines.append("findings: none")
        else:
            lines.append(f"findings: {len(self.findings)}, {len(self.new_findings())} not known "
                         f"(docs/findings/)")
        for i, fd in enumerate(self.findings.values(), 1):
            lines.append(f"finding {i}: {fd['class']}: {fd['message']} ({fd['count']} runs; {fd['label']})")
            if fd["known"]:
                lines.append(f"  known:     docs/findings/{fd['known']}/"
                             + (f" (upstream {fd['upstream']})" if fd["upstream"] else ""))
            lines.append(f"  reproduce: ./stackquake repro {fd['repro']}")
            lines.append(f"  log:       {fd['log']}")
        return "\n".join(lines) + "\n"

    def junit(self, meta):
        with open(os.path.join(self.outdir, "junit.xml"), "w") as f:
            bad = sum(outcome.is_finding(r["class"]) for r in self.records)
            skipped = sum(r["class"] == "skipped" for r in self.records)
            f.write('<?xml version="1.0" encoding="UTF-8"?>\n')
            f.write(f'<testsuite name={quoteattr("stackquake.run " + self.under.label())} '
                    f'tests="{len(self.records)}" failures="{bad}" skipped="{skipped}" '
                    f'time="{meta["elapsed"]:.1f}">\n')
            for i, r in enumerate(self.records):
                name = quoteattr("%05d %s" % (i, r["label"]))
                cls = quoteattr(f"stackquake.{self.under.runtime}.{r['job']['scenario']}")
                f.write(f'  <testcase classname={cls} name={name} time="{r["seconds"]}">')
                if outcome.is_finding(r["class"]):
                    f.write(f'<failure message={quoteattr(r["class"] + ": " + r["message"])}>'
                            f'{escape(r["command"])}</failure>')
                elif r["class"] == "skipped":
                    f.write(f'<skipped message={quoteattr(r["message"])}/>')
                f.write("</testcase>\n")
            f.write("</testsuite>\n")


def progress(tty, text, final=False):
    if tty:
        print("\r" + text.ljust(100)[:100], end="\n" if final else "", file=sys.stderr, flush=True)
    else:
        print(text, file=sys.stderr, flush=True)


def choose_seed(seed):
    return seed if seed is not None else int(os.environ.get("SQ_SEED", time.time_ns() % 2**31))


def cmd_run(a):
    budget = duration.parse(a.budget)
    under = Under(a.target, a.variant, a.on)
    seed = choose_seed(a.seed)
    rng = random.Random(seed)
    outdir = os.path.join(a.out, time.strftime("run-%Y%m%d-%H%M%S-") + str(os.getpid()))
    rep = Report(outdir, under)
    runs_under = runs_on(a, under, outdir)
    tty = sys.stderr.isatty()
    print(f"stackquake run: {under.label()} ({under.version}) seed={seed} budget={budget:.0f}s "
          f"out={outdir}", file=sys.stderr)
    t0, interrupted, last = time.monotonic(), "", 0.0
    try:
        for rec in campaign_runs(rng, runs_under):
            now = time.monotonic() - t0
            rec["at"] = round(now, 3)
            new = rep.add(rec)
            if new:
                progress(tty, f"[{now:6.1f}s] new finding: {new['class']}: {new['message']} ({rec['label']})", True)
            if tty or now - last > 10:
                progress(tty, f"[{now:6.1f}s/{budget:.0f}s] runs={len(rep.records)} "
                              f"findings={len(rep.findings)} last={rec['label']}:{rec['class']}")
                last = now
            if now >= budget or (new and a.stop_on_first):
                break
    except (KeyboardInterrupt, Interrupted) as e:
        interrupted = str(e) if isinstance(e, Interrupted) else "SIGINT"
        print(f"\nstackquake: interrupted ({interrupted}); writing what was found so far", file=sys.stderr)
    if tty:
        print(file=sys.stderr)
    meta = {"target": under.runtime, "version": under.version, "variant": under.variant, "on": under.on,
            "seed": seed, "budget": budget, "elapsed": time.monotonic() - t0, "interrupted": interrupted}
    print(rep.write(meta), end="")
    print(f"report: {outdir}/report.txt, report.json, junit.xml")
    after_campaign(a, rep, runs_under, outdir, meta, interrupted)
    if interrupted:
        return 143 if interrupted == "SIGTERM" else 130
    return 1 if rep.new_findings() else 0


# ---- the reproducer tools' hooks (sqlib/coverage.py, sqlib/derand.py) ----------------

def runs_on(a, under, outdir):
    """The build the campaign's runs use: the coverage build of under's
    variant when coverage is on (sqlib/coverage.py), else under itself."""
    from . import coverage
    return coverage.runs_on(a.coverage, under, outdir)


def after_campaign(a, rep, runs_under, outdir, meta, interrupted):
    """After the report: the coverage page, then each finding turned into a
    deterministic, minimized reproducer where one exists."""
    if interrupted:
        return
    from . import coverage, derand
    coverage.after_campaign(outdir, rep.records, runs_under, dict(meta, label=runs_under.label(), runtime=runs_under.runtime))
    derand.after_campaign(outdir, list(rep.findings.values()), duration.parse(a.derandomize), a.on)


# ---- regressions ---------------------------------------------------------------------

def first_detection(runs, budget):
    """Take records from runs until one is a finding or the budget is spent."""
    t0 = time.monotonic()
    for rec in runs:
        if outcome.is_finding(rec["class"]):
            return rec, time.monotonic() - t0
        if time.monotonic() - t0 >= budget:
            break
    return None, time.monotonic() - t0


def storm_jobs(rng, under):
    """The baseline: every scenario mode under the storm, in turn, ten
    times longer than a campaign run."""
    while True:
        for s, m in under.modes():
            yield Job(s, m, "storm", seed=rng.randrange(1, 2**31), env={"SQ_MAXPROCS": "2"},
                      iters=under.scenarios[s].campaign_iters * 10)


def regress_variant(v, a, rng, outdir, storm_budget, site_budget, pin_budget):
    under = Under("sq", v, a.on)
    rec, t_sites = first_detection(campaign_runs(rng, under), site_budget)
    print(f"regress: {v}: campaign: {rec['class'] + ': ' + rec['message'] if rec else 'not found'} "
          f"in {t_sites:.2f}s", file=sys.stderr, flush=True)
    t_end = time.monotonic() + storm_budget
    srec, t_storm = first_detection((execute(j.check(under), under, max(0.1, t_end - time.monotonic()))
                                     for j in storm_jobs(rng, under)), storm_budget)
    print(f"regress: {v}: storm: {srec['class'] + ': ' + srec['message'] if srec else 'not found'} "
          f"in {t_storm:.2f}s", file=sys.stderr, flush=True)
    row = {"variant": v, "detected": bool(rec), "seconds_sites": round(t_sites, 3),
           "storm_detected": bool(srec), "seconds_storm": round(t_storm, 3)}
    if rec:
        path = os.path.join(outdir, f"{v}.json")
        with open(path, "w") as f:
            json.dump(reproducer(rec, under), f, indent=1)
        job = Job.from_json(rec["job"]).check(under)
        classes = [execute(job, under)["class"] for _ in range(a.replays)]
        k = classes.count(rec["class"])
        row.update({"scenario": rec["label"], "class": rec["class"], "message": rec["message"],
                    "repro": path, "replays": f"{k}/{a.replays}"})
        if k < a.replays:
            row.update(pin(v, path, under, pin_budget))
    if srec:
        row["storm_scenario"] = srec["label"]
    return row


def pin(v, path, under, budget):
    """A finding that did not replay every time (a storm's, a race's, or
    one the machine's load moved) goes through the derandomizer
    (sqlib/derand.py): the row gets what it found, the deterministic
    reproducer's replay rate or why there is none."""
    if budget <= 0:
        return {"pinned": "off"}
    from . import derand
    say = lambda m: print(f"regress: {v}: {m.strip()}", file=sys.stderr, flush=True)
    d = derand.derandomize(path, budget, under.on, say, {(under.runtime, under.variant, under.on): under})
    out = {"pinned": d["status"]}
    if d.get("reproducer"):
        out.update(pinned_label=Job.from_json(derand.load(d["reproducer"])).label(),
                   pinned_repro=d["reproducer"], pinned_replays=d["replays"])
    return out


def cmd_regress(a):
    try:
        arch = targets.target(a.on).arch
    except ValueError as e:
        raise Usage(str(e)) from None
    variants = a.variants.split(",") if a.variants else contract.variants()
    for v in variants:
        contract.variant_arch(v)
    storm_budget = duration.parse(a.budget_storm)
    site_budget = duration.parse(a.budget_sites)
    pin_budget = duration.parse(a.derandomize)
    seed = choose_seed(a.seed)
    rng = random.Random(seed)
    outdir = os.path.join(a.out, time.strftime("regress-%Y%m%d-%H%M%S-") + str(os.getpid()))
    os.makedirs(outdir, exist_ok=True)
    print(f"stackquake regress: on={a.on} seed={seed} out={outdir}", file=sys.stderr)
    rows, missed, interrupted = [], 0, ""
    try:
        for v in variants:
            if contract.variant_arch(v) not in (None, arch):
                print(f"regress: {v}: skipped: its mistake is in the {contract.variant_arch(v)} code, "
                      f"invisible to {arch} runs", file=sys.stderr)
                continue
            row = regress_variant(v, a, rng, outdir, storm_budget, site_budget, pin_budget)
            missed += not row["detected"]
            rows.append(row)
    except (KeyboardInterrupt, Interrupted) as e:
        interrupted = str(e) if isinstance(e, Interrupted) else "SIGINT"
        print(f"\nstackquake: interrupted ({interrupted}); reporting the variants done so far",
              file=sys.stderr)
    text = regress_table(rows, storm_budget, seed)
    with open(os.path.join(outdir, "regress.json"), "w") as f:
        json.dump({"seed": seed, "on": a.on, "rows": rows}, f, indent=1)
    with open(os.path.join(outdir, "regress.txt"), "w") as f:
        f.write(text)
    print(text, end="")
    print(f"report: {outdir}/regress.txt, regress.json, and one reproducer per variant")
    if interrupted:
        return 143 if interrupted == "SIGTERM" else 130
    return 1 if missed else 0


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def pinned(row):
    """The regression table's last column: the derandomizer's answer for a
    finding that missed a replay, or - (none needed)."""
    if "pinned_replays" in row:
        return f"{row['pinned_replays']} {row['pinned_label']} ({row['pinned']})"
    return row.get("pinned", "-")


def regress_table(rows, storm_budget, seed):
    lines = [f"{'variant':<21}{'detected by':<44}{'class: message':<58}{'campaign':>9}{'storm':>18}"
             f"{'speed-up':>10}{'replays':>9}  pinned (derandomized reproducer)"]
    ts = []
    for r in rows:
        if r["detected"]:
            ts.append(r["seconds_sites"])
            storm = f"{r['seconds_storm']:.2f}s" if r["storm_detected"] else f"not found in {storm_budget:.0f}s"
            speed = r["seconds_storm"] / max(r["seconds_sites"], 1e-3)
            speed = f"{speed:.1f}x" if r["storm_detected"] else f">{speed:.0f}x"
            msg = f"{r['class']}: {r['message']}"
            lines.append(f"{r['variant']:<21}{r['scenario'][:43]:<44}{msg[:57]:<58}{r['seconds_sites']:>8.2f}s"
                         f"{storm:>18}{speed:>10}{r['replays']:>9}  {pinned(r)}")
        else:
            lines.append(f"{r['variant']:<21}{'NOT DETECTED':<44}")
    if ts:
        lines.append("")
        lines.append(f"median time to detection by the campaign: {median(ts):.2f}s (seed {seed}; "
                     f"target: under 1 s, and at least 100x faster than the storm)")
    return "\n".join(lines) + "\n"


# ---- replay, list ---------------------------------------------------------------------

def cmd_repro(a):
    try:
        with open(a.file) as f:
            d = json.load(f)
    except OSError as e:
        raise Usage(f"{a.file}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise Usage(f"{a.file}: malformed reproducer: {e}") from None
    if not isinstance(d, dict):
        raise Usage(f"{a.file}: malformed reproducer: not an object")
    job = Job.from_json(d)
    under = Under(d.get("target", "sq"), d.get("variant", "fixed"), a.on or d.get("on", "local"))
    job.check(under)
    if job.injector == "sigpoke" and d.get("argv"):
        return repro_sigpoke(d, a)
    want = d.get("class")
    # A written-up finding may show more than one face (docs/findings/: gc's
    # callback from a switched stack is a fatal error or silent, as the
    # stack lands below or above the thread's): a replay that is the same
    # finding replays it, whatever its class.
    known = want and findings.recognise(under.runtime, want, d.get("message", ""), job.label())
    print(f"replaying on {under.label()}: {job.command(under)}", file=sys.stderr)
    same = same_finding = 0
    for i in range(a.times):
        rec = execute(job, under)
        k = outcome.is_finding(rec["class"]) and findings.recognise(under.runtime, rec["class"],
                                                                     rec["message"], rec["label"])
        same += rec["class"] == want
        same_finding += bool(k and k["name"] == known["name"]) if known else rec["class"] == want
        print(f"replay {i + 1}/{a.times}: {rec['class']}: {rec['message']} ({rec['seconds']:.2f}s)"
              + (f" [docs/findings/{k['name']}]" if k else ""))
        if i == 0 and a.times == 1 and outcome.is_finding(rec["class"]):
            print(rec["stderr"][-3000:], file=sys.stderr)
    if want:
        print(f"same class as recorded ({want}): {same}/{a.times}")
        if known:
            print(f"same finding (docs/findings/{known['name']}): {same_finding}/{a.times}")
        return 0 if same_finding == a.times else 1
    return 0


def repro_sigpoke(d, a):
    """Replay one unsafe instruction: the poke's own command line."""
    f = sigpoke.Finding(d["mode"], d.get("class", ""), d.get("message", ""), "", "", d["loc"], "", "", "",
                        "", d["argv"])
    print(f"replaying: {f.command()}", file=sys.stderr)
    got = []
    for i in range(a.times):
        cls, msg = sigpoke.replay(f)
        got.append(cls)
        print(f"replay {i + 1}/{a.times}: {cls}: {msg}")
    want = d.get("class")
    if want:
        print(f"same class as recorded ({want}): {got.count(want)}/{a.times}")
        return 0 if got.count(want) == a.times else 1
    return 0


def cmd_list(a):
    print(f"targets: {', '.join(RUNTIMES)}")
    print(f"injectors: {', '.join(INJECTORS)}")
    print(f"variants (target sq): fixed, {', '.join(contract.variants())}")
    try:
        under = Under(a.target, "fixed", a.on)
    except Usage as e:
        print(f"scenarios of target {a.target}: unknown ({e})")
        return 0
    print(f"target {under.runtime}: {under.version}")
    for s, d in under.scenarios.items():
        print(f"scenario {s}: modes {', '.join(d.modes)}  ({d.what})")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="stackquake", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd")
    r = sub.add_parser("run", help="the default campaign")
    r.add_argument("--target", default="sq", help="runtime under test: " + ", ".join(RUNTIMES))
    r.add_argument("--variant", default="fixed")
    r.add_argument("--on", default="local", help="where it runs: local, musl, qemu-<arch>, ssh://...")
    r.add_argument("--budget", default="3m")
    r.add_argument("--seed", type=int)
    r.add_argument("--out", default=os.path.join(ROOT, "out"))
    r.add_argument("--stop-on-first", action="store_true", help="end at the first finding")
    r.add_argument("--derandomize", default="60s", metavar="TIME",
                   help="after the campaign, search deterministic reproducers for its findings "
                        "for at most TIME in all (sqlib/derand.py); 0: off")
    r.add_argument("--coverage", choices=("auto", "on", "off"), default="auto",
                   help="run the coverage build (make cov) and write out/<run>/coverage/ "
                        "(sqlib/coverage.py); auto: when it is built and up to date")
    g = sub.add_parser("regress", help="time to detection of each regression variant")
    g.add_argument("--variants")
    g.add_argument("--on", default="local")
    g.add_argument("--budget-sites", default="60s")
    g.add_argument("--budget-storm", default="30s")
    g.add_argument("--replays", type=int, default=10)
    g.add_argument("--derandomize", default="60s", metavar="TIME",
                   help="a finding that misses a replay goes through the derandomizer for at most "
                        "TIME (sqlib/derand.py); 0: off")
    g.add_argument("--seed", type=int)
    g.add_argument("--out", default=os.path.join(ROOT, "out"))
    p = sub.add_parser("repro", help="replay a reproducer file")
    p.add_argument("file")
    p.add_argument("--times", type=int, default=1)
    p.add_argument("--on", help="run it elsewhere than where it was found")
    mu = sub.add_parser("mutate", help="the campaign against mutants of the runtime (sqlib/mutate.py)")
    mu.add_argument("--budget", default="3m")
    mu.add_argument("--only")
    mu.add_argument("--seed", type=int, default=1)
    mu.add_argument("--file", default=os.path.join(ROOT, "mutants", "runtime.txt"))
    mu.add_argument("--list", action="store_true")
    mu.add_argument("--out", default=os.path.join(ROOT, "out"))
    li = sub.add_parser("list", help="scenarios, injectors, variants, targets")
    li.add_argument("--target", default="sq")
    li.add_argument("--on", default="local")
    # The reproducer tools (sqlib/derand.py, emitc.py, gitbisect.py): subcommands and options
    # of their own modules.
    from . import coverage, derand, emitc, gitbisect
    tools = {"derandomize": derand.cmd_derandomize, "bisect": gitbisect.cmd_bisect,
             "coverage": coverage.cmd_coverage}
    derand.add_parser(sub)
    gitbisect.add_parser(sub)
    coverage.add_parser(sub)
    emitc.add_arguments(p)
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM,)}
    try:
        a = ap.parse_args(argv)
        if not a.cmd:
            ap.print_help(sys.stderr)
            return 2
        if a.cmd == "mutate":
            from .mutate import cmd_mutate
            return cmd_mutate(a)
        if a.cmd in tools:
            return tools[a.cmd](a)
        if a.cmd == "repro" and a.emit_c:
            return emitc.cmd_emit(a)
        return {"run": cmd_run, "regress": cmd_regress, "repro": cmd_repro, "list": cmd_list}[a.cmd](a)
    except Usage as e:
        print(f"stackquake: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:	# argparse: bad options
        return 2 if e.code not in (0, None) else 0
    except (KeyboardInterrupt, Interrupted) as e:
        return e.status if isinstance(e, Interrupted) else 130
    finally:
        for s, h in old.items():
            signal.signal(s, h)
