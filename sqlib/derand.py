"""Derandomize: turn a finding into a deterministic reproducer, then minimize it.

A finding from a storm, a race or a drawn schedule replays some of the
time. What a runtime engineer wants is the one arm that produces it every
time: a signal at the Nth hit of one attach-window site, not "a storm for
a while".
For each finding (a reproducer file, sqlib/campaign.py's format) the search
below tries, in order, until its share of the time is up:

  0. a finding of the fault sites or the scenario alone, as found, then
     with its schedule pinned (a storm's finding skips this: a storm is
     chance by construction);
  1. the scenario alone (no injector): with the schedule pinned
     (SQ_MAXPROCS=1, SQ_DEBUG=preempt=off: one P, no timed preemption),
     then a few schedules drawn by the harness's picker (SC_SCHED=N,
     harness/target_sq.c), the finding's own settings, other seeds;
  2. the fault-site ladder, on the pinned schedule: every site the scenario
     reaches (its dry run's "hits" records) x action, signals first (a storm
     is signals) as the campaign spells them (sqlib/campaign.py), armed on
     every hit; then hit N for N = 1, 2, 3 ... (SQLite's Nth event);
  3. the same ladder with the finding's own settings (some findings need
     two Ps).

A candidate is run once; one that lands in the finding's class with the
same message (numbers blanked: outcome.blank) is tried with fewer
iterations first, then replayed until it misses or has hit HOLD (30) times
in a row, three times the REPLAYS (10) it is measured by. The first that
holds is the reproducer; it is then minimized, each step kept only if it
still holds HOLD in a row:
fewest iterations (--iters), fewest threads (--threads), fewest arms, a
single hit instead of every hit, fewest settings. Last, the original is
replayed REPLAYS times for its replay rate.

What is written, next to the original (kept as it was): FINDING.det.json,
a reproducer like any other (`stackquake repro` replays it) with a
"derandomized" member saying where it came from, the search time and runs,
and the original's replay rate. A finding for which nothing held stays
probabilistic; its replay rate over REPLAYS replays of the original is
reported.

  stackquake derandomize FINDING.json [...] [--budget 60s] [--on PLATFORM]
  stackquake derandomize --storm a,b [--storm-budget 60s] [--budget 60s]
      for each variant: the storm baseline on its build until its first
      finding (campaign.storm_jobs), then that finding derandomized

After a campaign (`stackquake run --derandomize 60s`, the default; 0 turns
it off) every finding goes through the search, the whole bounded by the
budget (each finding gets its share of what is left); the run's report gets
a section and derandomize.json.
"""
import json
import math
import os
import random
import sys
import time

from . import Usage, contract, duration, findings, outcome
from . import campaign

REPLAYS = 10
# A candidate, and every step that makes it smaller, must hold three times
# as long as the bar it is measured by: one that reproduces 90% of the time
# passes 10 replays in a row a third of the time, 30 in a row one time in
# 24 (and a multi-threaded scenario on a pinned schedule can sit at 90%:
# the OS still schedules its threads).
HOLD = 3 * REPLAYS
PINNED = {"SQ_MAXPROCS": "1", "SQ_DEBUG": "preempt=off"}
# What the storm sends (harness/scenario.h): the signal actions the ladder
# tries first for a storm's finding.
STORM_SIGNALS = ("SIGURG", "SIGPROF", "SIGUSR1")
MAX_RUNG = 8	# the ladder's single hits go up to min(hits, MAX_RUNG)
SEARCH_SHARE, MINIMIZE_SHARE = 0.7, 0.9
SEARCH_WATCHDOG = 5	# seconds without progress, for runs that look for anything but a hang	# of a finding's budget: search until, minimize until


class OutOfTime(Exception):
    pass


def load(path):
    """A reproducer file as a dict (Usage if it is not one)."""
    try:
        with open(path) as f:
            d = json.load(f)
    except OSError as e:
        raise Usage(f"{path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise Usage(f"{path}: malformed reproducer: {e}") from None
    if not isinstance(d, dict) or "scenario" not in d or "class" not in d:
        raise Usage(f"{path}: not a reproducer (want the JSON a campaign writes under repro/)")
    return d


def det_path(path):
    base = path[:-5] if path.endswith(".json") else path
    return base + ".det.json"


def same_as(want_cls, want_msg, target=None, label=None):
    """A predicate on run records: the finding's class and message, or,
    for a finding written up in docs/findings/, any run recognised as that
    one (gc's callback from a switched stack is a fatal error or a
    wrong result, as the address-space layout falls: one finding)."""
    key = outcome.blank(want_msg or "")
    known = target and findings.recognise(target, want_cls, want_msg or "", label or "")

    def same(rec):
        if rec["class"] == want_cls and outcome.blank(rec["message"]) == key:
            return True
        return bool(known) and outcome.is_finding(rec["class"]) and findings.recognise(
            target, rec["class"], rec["message"], rec.get("label", "")) is known
    return same


class Search:
    """One finding's search and minimization on one build (under), with a
    deadline. Every run goes through campaign.execute, so it is judged by
    the campaign's own oracle."""

    def __init__(self, under, d, deadline, say=None):
        self.under, self.d = under, d
        self.deadline = deadline
        self.same = same_as(d["class"], d.get("message", ""), under.runtime,
                            campaign.Job.from_json(d).label())
        self.runs = 0
        self.say = say or (lambda msg: None)
        self.scenario = under.scenarios[d["scenario"]]
        # SQ_DEBUG=preempt=off pins the schedule harder, but a scenario
        # whose G spins until another runs (sc_syscall, sc_mixed) needs
        # sysmon's timed preemption on one P: a run that hangs under it
        # turns it off for the rest of the search.
        self.preempt_off = under.runtime == "sq"

    def left(self):
        return self.deadline - time.monotonic()

    def run(self, job):
        if self.left() <= 0:
            raise OutOfTime()
        j = campaign.Job.from_json(job.to_json())
        # A hang is a no-progress watchdog; never wait much past the deadline
        # for one, nor long for one that cannot be the finding (the
        # reproducer written keeps its own timeout).
        cap = job.timeout if self.d["class"] == "hang" else SEARCH_WATCHDOG
        j.timeout = max(2, min(cap, int(self.left()) + 1))
        self.runs += 1
        rec = campaign.execute(j.check(self.under), self.under)
        if (rec["class"] == "hang" and self.d["class"] != "hang" and self.preempt_off
                and "preempt=off" in j.env.get("SQ_DEBUG", "")):
            self.preempt_off = False
            self.say("  a run hung with SQ_DEBUG=preempt=off (a G spins until another runs): "
                     "from now on the schedule is pinned by one P alone")
        return rec

    def holds(self, job, times=REPLAYS):
        """Replays until a miss: True when all times replays are the finding."""
        for _ in range(times):
            if not self.same(self.run(job)):
                return False
        return True

    def rate(self, job, times=REPLAYS):
        """How many of times replays are the finding (stops at the deadline)."""
        k = n = 0
        try:
            for n in range(1, times + 1):
                k += self.same(self.run(job))
        except OutOfTime:
            n -= 1
        return k, n

    def try_job(self, job, why):
        """Screen once, then confirm: the job if it holds HOLD in a row.
        A job that reproduces once is first tried with fewer iterations
        (once each, fewest first): confirming a short run costs little, and
        a long scenario's confirmations would eat the budget."""
        if not self.same(self.run(job)):
            return None
        self.say(f"  candidate {why}: {job.label()} reproduced once; confirming")
        have = job.iters or self.scenario.campaign_iters
        for n in (1, 3, 10, 30, 100, 300):
            if n * 3 > have:
                break
            short = self._with(self.settled(job), iters=n)
            if self.same(self.run(short)) and self.holds(short, HOLD - 1):
                self.say(f"  candidate {why}: holds with {n} iterations")
                return short
        job = self.settled(job)
        if self.holds(job, HOLD - 1):
            return job
        self.say(f"  candidate {why}: not every time")
        if self.settled(job) is not job:	# it hung under preempt=off: once more without
            return self.try_job(self.settled(job), why + ", timed preemption on")
        return None

    def settled(self, job):
        """job without SQ_DEBUG=preempt=off once a run has hung under it."""
        if self.preempt_off or "preempt=off" not in job.env.get("SQ_DEBUG", ""):
            return job
        return self._with(job, env=self.unpinned_preempt(job.env))

    def unpinned_preempt(self, env):
        env = dict(env)
        rest = [x for x in env.get("SQ_DEBUG", "").split(",") if x and x != "preempt=off"]
        if rest:
            env["SQ_DEBUG"] = ",".join(rest)
        else:
            env.pop("SQ_DEBUG", None)
        return env

    # ---- the search --------------------------------------------------------------

    def base(self, **kw):
        d = self.d
        j = dict(scenario=d["scenario"], mode=d["mode"], injector=d["injector"], seed=d.get("seed", 1),
                 arms=list(d.get("arms", [])), env=dict(d.get("env", {})), iters=d.get("iters"),
                 timeout=d.get("timeout", campaign.WATCHDOG), axes=d.get("axes", ""),
                 threads=d.get("threads"))
        j.update(kw)
        # The storm is chance by construction; stackcheck is one more tracer
        # slowing the program down, kept only for what it alone can see.
        if j["injector"] == "storm" or (j["injector"] == "stackcheck" and not self.needs_stackcheck()):
            j["injector"] = "none"
        if j["injector"] in ("sites", "none") and j["arms"]:
            j["injector"] = "sites"
        if j["injector"] == "sites" and not j["arms"]:
            j["injector"] = "none"
        return campaign.Job(**j)

    def needs_stackcheck(self):
        return self.d["class"] == "stackcheck-kill"

    def pinned_env(self, **extra):
        """The finding's settings with the schedule pinned (our runtime;
        Go: GOMAXPROCS=1)."""
        env = dict(self.d.get("env", {}))
        if self.under.runtime == "sq":
            env.update(PINNED)
            if not self.preempt_off:
                env = self.unpinned_preempt(env)
        else:
            env["GOMAXPROCS"] = "1"
        env.update(extra)
        return env

    def envs(self):
        """Settings to search, most deterministic first."""
        out = [("pinned schedule", self.pinned_env())]
        if self.under.runtime == "sq":
            out += [(f"schedule {n}", self.pinned_env(SC_SCHED=str(n))) for n in (1, 2, 3)]
        out.append(("the finding's settings", dict(self.d.get("env", {}))))
        return out

    def thread_counts(self):
        """One foreign thread first where the scenario has several: its
        random draws then come in one order, and no OS scheduling decides
        which thread meets the bug first. Then the finding's own number."""
        have = self.d.get("threads") or self.scenario.threads or 0
        return ([1] if have > 1 else []) + [self.d.get("threads")]

    def alone(self):
        """Step 1: the scenario without the storm."""
        seed = self.d.get("seed", 1)
        for t in self.thread_counts():
            for why, env in self.envs():
                yield f"alone, {why}" + (", one thread" if t == 1 else ""), self.base(env=env, arms=[], threads=t)
        rng = random.Random(seed)
        for s in [1, 2] + [rng.randrange(1, 2**31) for _ in range(2)]:
            for t in self.thread_counts():
                yield (f"alone, seed {s}" + (", one thread" if t == 1 else ""),
                       self.base(seed=s, env=self.pinned_env(), arms=[], threads=t))

    def hits(self, env):
        """Which sites the scenario reaches, and how often: a dry run's
        "hits" records (a run that dies before its end prints none: then
        every site, with a few hits each)."""
        rec = self.run(self.base(env=env, arms=[], injector="none"))
        if rec["hits"]:
            return rec["hits"]
        return {s: MAX_RUNG for s in contract.sites()}

    def actions(self):
        storm = self.d["injector"] == "storm"
        acts = [f"signal:{s}" for s in STORM_SIGNALS] if storm else []
        acts += [a for a in campaign.campaign_actions() if a not in acts]
        return acts

    def ladder(self, env, why):
        """Step 2: one arm at a time, every hit first, then single hits."""
        if self.under.runtime != "sq" or self.d["scenario"] == "sc_sigstack":
            return	# no fault sites (Go); sc_sigstack arms its own
        hits = self.hits(env)
        pairs = []
        for ai, a in enumerate(self.actions()):
            for site, n in sorted(hits.items(), key=lambda kv: -kv[1]):
                if site.startswith("_"):
                    continue
                name = a.split(":")[0]
                v = contract.verdict(site, name)[0]
                if v == "noop":
                    continue
                pairs.append((site, a, n, v))
        # Arms the runtime must refuse end in their refusal on a correct
        # runtime: tried last, after every other pair.
        pairs.sort(key=lambda p: p[3] == "refused")
        for site, a, n, v in pairs:
            if contract.verdict(site, a.split(":")[0], True)[0] != "livelock":
                yield f"{why}, every hit", self.base(env=env, injector="sites",
                                                     arms=[campaign.spec(site, a, 0)])
        for rung in range(1, MAX_RUNG + 1):
            for site, a, n, v in pairs:
                if rung <= n:
                    yield f"{why}, hit {rung}", self.base(env=env, injector="sites",
                                                          arms=[campaign.spec(site, a, rung)])

    def candidates(self):
        if self.d["injector"] != "storm":
            found = campaign.Job.from_json(self.d)
            yield "as found", found
            yield "as found, schedule pinned", self._with(found, env=self.pinned_env())
        yield from self.alone()
        if not self.needs_stackcheck():
            yield from self.ladder(self.pinned_env(), "pinned")
            yield from self.ladder(dict(self.d.get("env", {})), "own settings")

    def found(self):
        """Every candidate that holds, in the search's order."""
        for why, job in self.candidates():
            got = self.try_job(job, why)
            if got:
                yield got, why

    # ---- minimization ------------------------------------------------------------

    def keep(self, job, what):
        if self.holds(job, HOLD):
            self.say(f"  minimized: {what}")
            return True
        return False

    def minimize(self, job):
        """Fewest arms, single hits, fewest threads, iterations, settings;
        each step kept only if it still holds. Stops quietly at the deadline.
        (Iterations come first, so that the later steps replay short runs.)"""
        try:
            # Iterations first: every later step replays the job many times.
            # Not for a leak: its judgment is growth per cycle, and with few
            # enough cycles any thread's first mappings pass for a leak.
            if self.d["class"] != "leak":
                job = self._iters(job)
                job = self._threads(job)
            job = self._arms(job)
            job = self._single_hits(job)
            job = self._settings(job)
        except OutOfTime:
            self.say("  minimization cut short by the time budget")
        return job

    def _with(self, job, **kw):
        d = job.to_json()
        d.update(kw)
        if "arms" in kw and not kw["arms"] and d["injector"] == "sites":
            d["injector"] = "none"
        return campaign.Job.from_json(d)

    def _arms(self, job):
        i = 0
        while len(job.arms) > 1 and i < len(job.arms):
            cand = self._with(job, arms=job.arms[:i] + job.arms[i + 1:])
            if self.keep(cand, f"arm {job.arms[i]} dropped"):
                job = cand
            else:
                i += 1
        return job

    def _single_hits(self, job):
        for i, arm in enumerate(list(job.arms)):
            parts = arm.split(":")
            if "every" not in parts[2:]:
                continue
            rest = [p for p in parts[2:] if p != "every" and not p.isdigit()]
            for n in range(1, 4):
                one = ":".join(parts[:2] + [str(n)] + rest)
                cand = self._with(job, arms=job.arms[:i] + [one] + job.arms[i + 1:])
                if self.keep(cand, f"{arm} -> {one}"):
                    job = cand
                    break
        return job

    def _threads(self, job):
        have = job.threads or self.scenario.threads or 0
        for t in range(1, have):
            cand = self._with(job, threads=t)
            if self.keep(cand, f"threads {have} -> {t}"):
                return cand
        return job

    def _iters(self, job):
        have = job.iters or self.scenario.campaign_iters
        tries = sorted({n for n in (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
                        if n < have})
        for n in tries:
            cand = self._with(job, iters=n)
            if self.keep(cand, f"iters {have} -> {n}"):
                return cand
        return job

    def _settings(self, job):
        for k in sorted(job.env):
            if k in PINNED or k == "SC_SCHED":
                continue	# the schedule stays pinned: that is the point
            env = {x: v for x, v in job.env.items() if x != k}
            cand = self._with(job, env=env)
            if self.keep(cand, f"setting {k} dropped"):
                job = cand
        return job


def derandomize(path, budget, on=None, say=None, unders=None):
    """Search and minimize one finding within budget seconds. Returns the
    result row; writes FINDING.det.json when a deterministic reproducer
    was found.

    Time: the search gets the first SEARCH_SHARE of the budget, the
    minimization what is left of it up to MINIMIZE_SHARE, and the original's
    replay rate (REPLAYS replays, fewer if time runs out) the rest: for a
    finding that stays probabilistic that rate is the answer."""
    say = say or (lambda m: None)
    t0 = time.monotonic()
    d = load(path)
    row = {"finding": path, "class": d["class"], "message": d.get("message", ""),
           "label": campaign.Job.from_json(d).label(), "variant": d.get("variant", "fixed"),
           "target": d.get("target", "sq")}
    if d["injector"] == "sigpoke":
        row.update(status="deterministic", replays="-", how="one poke",
                   why="a sigpoke finding is one signal at one instruction, deterministic as found "
                       "(stackquake repro replays that poke)")
        return row
    key = (d.get("target", "sq"), d.get("variant", "fixed"), on or d.get("on") or "local")
    if unders is not None and key in unders:
        under = unders[key]
    else:
        under = campaign.Under(*key)
        if unders is not None:
            unders[key] = under
    s = Search(under, d, t0 + SEARCH_SHARE * budget, say)
    say(f"derandomize {path}: {d['class']}: {d.get('message', '')} ({row['label']})")
    orig = campaign.Job.from_json(d)
    # Each candidate that holds is minimized, then replayed afresh: what
    # held 30 in a row during the search can be a race between OS threads
    # that the machine's load moves. One that replays 10/10 now ends the
    # search; otherwise the search goes on (within its share of the time)
    # and the best seen is kept.
    best, why, k2, n2 = None, None, 0, 0
    cands = s.found()
    while True:
        s.deadline = t0 + SEARCH_SHARE * budget
        try:
            job, how = next(cands)
        except (StopIteration, OutOfTime):
            break
        row.setdefault("seconds_search", round(time.monotonic() - t0, 2))
        s.deadline = t0 + MINIMIZE_SHARE * budget
        small = s.minimize(job)
        try:
            k, n = s.rate(small)
        except OutOfTime:
            k, n = 0, 0
        say(f"  {small.label()} iters={small.iters} threads={small.threads or '-'} env={small.env}: "
            f"replays {k}/{n} afresh")
        if best is None or (n and k / n > (k2 / n2 if n2 else -1)):
            best, why, k2, n2 = small, how, k, n
        if n == k == REPLAYS:
            break
    row.setdefault("seconds_search", round(time.monotonic() - t0, 2))
    small = best
    s.deadline = t0 + budget
    k, n = s.rate(orig)
    row["original_replays"] = f"{k}/{n}"
    say(f"  the original replays {k}/{n}")
    if not small:
        row.update(status="probabilistic", runs=s.runs, seconds=round(time.monotonic() - t0, 2),
                   replays=row["original_replays"])
        say(f"  stays probabilistic: replays {row['replays']} ({s.runs} runs, {row['seconds']:.1f}s)")
        return row
    if k2 == n2 == REPLAYS:
        status = "deterministic" if why == "as found" else "derandomized"
    else:
        status = "improved" if n2 and k2 / n2 > (k / n if n else 0) else "probabilistic"
    row.update(status=status, how=why, arms=small.arms,
               seed=small.seed, env=small.env, iters=small.iters, threads=small.threads,
               injector=small.injector, axes=small.axes, replays=f"{k2}/{n2}", held=f"{HOLD}/{HOLD}",
               runs=s.runs, seconds=round(time.monotonic() - t0, 2))
    out = dict(small.to_json(), target=under.runtime, variant=under.variant, on=under.on,
               **{"class": d["class"], "message": d.get("message", ""), "command": small.command(under)})
    out["derandomized"] = {"from": os.path.abspath(path), "how": why, "original": row["label"],
                           "status": status, "original_replays": row["original_replays"],
                           "replays": row["replays"], "held": row["held"],
                           "seconds": row["seconds"], "seconds_search": row["seconds_search"],
                           "runs": s.runs}
    dp = det_path(path)
    with open(dp, "w") as f:
        json.dump(out, f, indent=1)
    row["reproducer"] = dp
    say(f"  {row['status']}: {small.label()} seed={small.seed} iters={small.iters} "
        f"threads={small.threads or '-'} env={small.env} held {HOLD} in a row, replays {row['replays']} "
        f"({s.runs} runs, {row['seconds']:.1f}s) -> {dp}")
    return row


def table(rows):
    lines = [f"{'finding':<24}{'status':<15}{'replays':>8}{'search':>8}{'total':>8}  reproducer"]
    for r in rows:
        name = os.path.basename(r["finding"])[:23]
        t = f"{r.get('seconds_search', 0):.1f}s".rjust(8) + f"{r.get('seconds', 0):.1f}s".rjust(8)
        if r["status"] in ("derandomized", "deterministic") and "arms" not in r:
            lines.append(f"{name:<24}{r['status']:<15}{'':>8}{'':>16}  {r.get('why', '')}")
        elif "arms" in r:
            arm = ",".join(r["arms"]) or "(no arm)"
            what = f"{arm} seed={r['seed']} iters={r['iters']}" + \
                   (f" threads={r['threads']}" if r.get("threads") else "") + \
                   (f" env-axes={r['axes']}" if r.get("axes") else "") + \
                   (f" env={','.join(f'{k}={v}' for k, v in sorted(r['env'].items()))}" if r["env"] else "")
            lines.append(f"{name:<24}{r['status']:<15}{r['replays']:>8}{t}  {r['label'].split('/')[0]}/"
                         f"{r['label'].split('/')[1]} {what}")
        elif r["status"] == "probabilistic":
            lines.append(f"{name:<24}{r['status']:<15}{r['replays']:>8}{t}  the original "
                         f"({r['label']}); nothing held {HOLD} in a row")
        else:
            lines.append(f"{name:<24}{r['status']:<15}{'':>8}{'':>16}  {r.get('why', '')}")
    return "\n".join(lines) + "\n"


def summary(rows):
    det = [r for r in rows if r["status"] in ("derandomized", "deterministic")]
    prob = [r for r in rows if r["status"] in ("probabilistic", "improved")]
    s = f"derandomize: {len(det)} of {len(rows)} findings have a deterministic reproducer"
    if prob:
        s += "; probabilistic: " + ", ".join(
            f"{os.path.basename(r['finding'])} ({r['replays']}"
            + (f", the original {r['original_replays']}" if r["status"] == "improved" else "") + ")"
            for r in prob)
    return s


def after_campaign(outdir, findings_list, budget, on=None):
    """The campaign's hook: every finding of the run, within budget seconds
    in all, each with its share of what is left. Appends a section to
    report.txt and writes derandomize.json."""
    if budget <= 0 or not findings_list:
        return []
    t_end = time.monotonic() + budget
    rows, unders = [], {}
    say = lambda m: print(m, file=sys.stderr, flush=True)
    say(f"stackquake run: derandomizing {len(findings_list)} finding(s) (--derandomize {budget:.0f}s)")
    # Storm findings first: they are the ones that need it most.
    todo = sorted(findings_list, key=lambda f: "/storm" not in f["label"])
    for i, fd in enumerate(todo):
        left = t_end - time.monotonic()
        if left <= 1:
            rows.append({"finding": fd["repro"], "class": fd["class"], "message": fd["message"],
                         "label": fd["label"], "status": "not-tried", "why": "time budget spent"})
            continue
        try:
            rows.append(derandomize(fd["repro"], left / (len(todo) - i), on, say, unders))
        except Usage as e:
            rows.append({"finding": fd["repro"], "class": fd["class"], "message": fd["message"],
                         "label": fd["label"], "status": "error", "why": str(e)})
    text = "\n" + summary(rows) + "\n" + table(rows)
    with open(os.path.join(outdir, "derandomize.json"), "w") as f:
        json.dump({"budget": budget, "rows": rows}, f, indent=1)
    with open(os.path.join(outdir, "report.txt"), "a") as f:
        f.write(text)
    print(text, end="")
    return rows


# ---- stackquake derandomize ----------------------------------------------------------

def storm_finding(variant, budget, seed, outdir, on="local", say=None):
    """The storm baseline on a variant's build until its first finding
    (campaign.storm_jobs); its reproducer written under outdir. Returns
    (path or None, seconds)."""
    under = campaign.Under("sq", variant, on)
    rng = random.Random(seed)
    rec, t = campaign.first_detection(
        (campaign.execute(j.check(under), under) for j in campaign.storm_jobs(rng, under)), budget)
    if not rec:
        return None, t, under
    path = os.path.join(outdir, f"{variant}.storm.json")
    with open(path, "w") as f:
        json.dump(campaign.reproducer(rec, under), f, indent=1)
    if say:
        say(f"storm: {variant}: {rec['class']}: {rec['message']} ({rec['label']}) in {t:.2f}s -> {path}")
    return path, t, under


def cmd_derandomize(a):
    budget = duration.parse(a.budget)
    say = lambda m: print(m, file=sys.stderr, flush=True)
    rows = []
    if a.storm:
        seed = campaign.choose_seed(a.seed)
        outdir = os.path.join(a.out, time.strftime("derandomize-%Y%m%d-%H%M%S-") + str(os.getpid()))
        os.makedirs(outdir, exist_ok=True)
        say(f"stackquake derandomize: storm findings of {a.storm} (seed {seed}), out={outdir}")
        variants = contract.variants() if a.storm == "all" else a.storm.split(",")
        arch = campaign.targets.target(a.on or "local").arch
        for v in variants:
            if contract.variant_arch(v) not in (None, arch):
                say(f"storm: {v}: skipped: its mistake is in the {contract.variant_arch(v)} code")
                continue
            path, t, under = storm_finding(v, duration.parse(a.storm_budget), seed, outdir, a.on or "local", say)
            if not path:
                rows.append({"finding": f"{v} (storm)", "variant": v, "status": "no-storm-finding",
                             "why": f"the storm found nothing in {t:.0f}s"})
                say(f"storm: {v}: nothing in {t:.0f}s")
                continue
            row = derandomize(path, budget, a.on, say)
            row["storm_seconds"] = round(t, 2)
            rows.append(row)
        with open(os.path.join(outdir, "derandomize.json"), "w") as f:
            json.dump({"seed": seed, "budget": budget, "rows": rows}, f, indent=1)
    for path in a.files:
        rows.append(derandomize(path, budget, a.on, say))
    if not rows:
        raise Usage("derandomize: name finding files, or --storm VARIANTS")
    print(summary(rows))
    print(table(rows), end="")
    return 0 if all(r["status"] in ("derandomized", "deterministic") for r in rows) else 1


def add_parser(sub):
    p = sub.add_parser("derandomize", help="a finding -> a deterministic, minimized reproducer")
    p.add_argument("files", nargs="*", metavar="FINDING.json")
    p.add_argument("--budget", default="60s", help="search time per finding")
    p.add_argument("--on", default=None, help="where to run (default: where the finding was found)")
    p.add_argument("--storm", help="variants (a,b or all): find a storm finding on each first")
    p.add_argument("--storm-budget", default="60s")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", default=os.path.join(campaign.ROOT, "out"))
    return p
