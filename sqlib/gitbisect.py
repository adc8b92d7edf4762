"""Cause bisection: the first commit at which a finding reproduces.

  stackquake bisect --good REV --bad REV FINDING.json [--replays N] [--threshold K]
                    [--repo DIR] [--jobs 2] [--out FILE]

git bisect over the history between a good and a bad revision, with the
finding's reproducer as the test. Each revision is built in a scratch work
tree (`git worktree add --detach` in a temporary directory, removed at the
end): the user's tree, index and build/ are never touched. Only what the
reproducer runs is built there: the scenario program of the finding's
variant (make build/<variant>/harness/<scenario>), with that revision's
runtime and scenario sources. Each run is judged by this tree's oracle
(sqlib/outcome.py) against the revision's own fatal table (--describe).

A revision that does not build, or whose scenario cannot run the
reproducer (no such mode, option or variant yet), is skipped (`git bisect
skip`). Flaky reproducers: the reproducer is first replayed 10 times at
BAD (it must reproduce there) and then at GOOD (it must not); the rate p
at BAD sets the replays per revision, N = the least number with
(1 - p)^N <= 1% (3 at least, 30 at most), and a revision is bad when at
least THRESHOLD (default 1) of its N replays reproduce: the finding's
class and message cannot appear without its cause, so one reproduction is
evidence, and a bad revision passes for good with a probability of 1% at
most. --replays and --threshold override both.

The answer is the first bad commit with the evidence: every revision
tested, its replays, its verdict, and git's bisect log.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

from . import ROOT, Usage, contract, outcome, targets
from . import campaign
from .derand import load, same_as

VERIFY = 10	# replays at BAD and GOOD before bisecting


def git(repo, *args, check=True):
    r = subprocess.run(["git", "-C", repo] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if check and r.returncode != 0:
        raise Usage(f"git {' '.join(args)}: {r.stdout.strip()[-1000:]}")
    return r.stdout.strip()


class Scratch:
    """A scratch work tree of repo at rev, in a temporary directory."""

    def __init__(self, repo, rev):
        self.repo = repo
        self.tmp = tempfile.mkdtemp(prefix="sq-bisect-")
        self.path = os.path.join(self.tmp, "tree")
        git(repo, "worktree", "add", "--detach", self.path, rev)

    def close(self):
        git(self.path, "bisect", "reset", check=False)
        git(self.repo, "worktree", "remove", "--force", self.path, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)
        git(self.repo, "worktree", "prune", check=False)


class TreeUnder:
    """What campaign.execute needs of a build (Under's interface), for the
    scenario program one revision built in the scratch tree."""
    runtime, on = "sq", "local"

    def __init__(self, tree, variant, scenario):
        self.variant = variant
        self.platform = targets.LOCAL
        self.bdir = os.path.join(tree, "build", variant)
        self.hdir = os.path.join(self.bdir, "harness")
        prog = os.path.join(self.hdir, scenario)
        d = contract.describe(prog, lambda cmd: self.platform.run(cmd, timeout=120))
        self.scenarios = {scenario: d}
        self.fatals = outcome.FatalTable(d.fatals)
        self.version = d.target.get("version", "")

    def can_stackcheck(self):
        return os.path.exists(campaign.STACKCHECK)


class Bisect:
    def __init__(self, d, tree, jobs=2, say=None):
        self.d, self.tree, self.jobs = d, tree, jobs
        self.variant = d.get("variant", "fixed")
        self.same = same_as(d["class"], d.get("message", ""))
        self.say = say or (lambda m: None)
        self.evidence = []

    def build(self):
        """Build the reproducer's program at the checked-out revision: None,
        or why it cannot be tested."""
        target = f"build/{self.variant}/harness/{self.d['scenario']}"
        args = ["make", "--no-print-directory", f"-j{self.jobs}", "-C", self.tree, target]
        if self.variant != "fixed":
            args.append(f"REGRESS={self.variant}")
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "ARCH", "LIBC", "REGRESS")}
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        if r.returncode != 0:
            return "does not build: " + (r.stdout.strip().splitlines() or ["?"])[-1][:160]
        return None

    def replays(self, n):
        """Replay the reproducer n times on this revision's build: (k, n,
        None) or (0, 0, why it cannot run here)."""
        try:
            under = TreeUnder(self.tree, self.variant, self.d["scenario"])
            job = campaign.Job.from_json(self.d).check(under)
        except Usage as e:
            return 0, 0, f"cannot run the reproducer: {e}"
        k, seen = 0, []
        for _ in range(n):
            rec = campaign.execute(job, under)
            seen.append(rec["class"])
            if rec["class"] == "harness-error" or rec["rc"] == 64:
                return 0, 0, f"cannot run the reproducer: {rec['message'] or 'usage error'}"
            k += self.same(rec)
        return k, n, None

    def test(self, n, threshold, role=""):
        """Build and replay the checked-out revision: 'good', 'bad' or 'skip'."""
        rev = git(self.tree, "rev-parse", "HEAD")
        subject = git(self.tree, "log", "-1", "--format=%s", rev)
        t0 = time.monotonic()
        why = self.build()
        k = m = 0
        if not why:
            k, m, why = self.replays(n)
        verdict = "skip" if why else ("bad" if k >= threshold else "good")
        row = {"rev": rev, "subject": subject, "verdict": verdict, "replays": f"{k}/{m}" if m else "-",
               "why": why, "role": role, "seconds": round(time.monotonic() - t0, 1)}
        self.evidence.append(row)
        self.say(f"bisect: {rev[:10]} {verdict:<5} replays {row['replays']:<6} {role + ' ' if role else ''}"
                 f"{subject[:60]}" + (f" ({why})" if why else ""))
        return verdict, k, m


def replays_for(p):
    """Replays per revision for a reproducer that reproduces with rate p:
    the least N with (1 - p)^N <= 1%, within [3, 30]."""
    if p >= 1:
        return 3
    return max(3, min(30, math.ceil(math.log(0.01) / math.log(1 - p))))


def bisect(path, good, bad, repo=ROOT, replays=None, threshold=1, jobs=2, say=None):
    """Run the bisection; returns the result dict (first_bad, evidence, ...)."""
    say = say or (lambda m: None)
    d = load(path)
    if d.get("target", "sq") != "sq":
        raise Usage("bisect: the finding is on a Go runtime; bisect walks this project's history "
                    "(our runtime)")
    if d["injector"] == "sigpoke":
        raise Usage("bisect: a sigpoke finding replays through sigpoke's window program; "
                    "bisect runs scenario reproducers")
    if d.get("on", "local") != "local":
        raise Usage(f"bisect: the finding ran on {d['on']}; bisect builds and runs on this host")
    good_rev = git(repo, "rev-parse", "--verify", good + "^{commit}")
    bad_rev = git(repo, "rev-parse", "--verify", bad + "^{commit}")
    if subprocess.run(["git", "-C", repo, "merge-base", "--is-ancestor", good_rev, bad_rev]).returncode:
        raise Usage(f"bisect: {good} is not an ancestor of {bad}")
    t0 = time.monotonic()
    scratch = Scratch(repo, bad_rev)
    res = {"finding": os.path.abspath(path), "class": d["class"], "message": d.get("message", ""),
           "good": good_rev, "bad": bad_rev, "repo": repo}
    try:
        b = Bisect(d, scratch.path, jobs, say)
        say(f"bisect: scratch tree {scratch.path}; verifying {bad} (bad) and {good} (good), {VERIFY} replays each")
        v, k, n = b.test(VERIFY, 1, "BAD")
        if v != "bad":
            raise Usage(f"bisect: the reproducer does not reproduce at {bad} ({b.evidence[-1]['why'] or f'{k}/{n}'})")
        p = k / n
        git(scratch.path, "checkout", "-q", "--detach", good_rev)
        v, k, n = b.test(replays or VERIFY, 1, "GOOD")
        if v != "good":
            raise Usage(f"bisect: {good} is not good: "
                        f"{b.evidence[-1]['why'] or f'the reproducer reproduces there ({k}/{n})'}")
        per = replays or replays_for(p)
        rule = (f"a revision is bad when at least {threshold} of {per} replays reproduce "
                f"(rate at BAD {p * 10:.0f}/10" + (f"; a bad revision passes for good with probability "
                                                  f"{(1 - p) ** per:.3g}" if threshold == 1 and p < 1 else "") + ")")
        say(f"bisect: {rule}")
        res.update(rate_at_bad=f"{int(round(p * 10))}/10", replays=per, threshold=threshold, rule=rule)
        out = git(scratch.path, "bisect", "start", bad_rev, good_rev)
        first = None
        while True:
            if "is the first bad commit" in out:
                first = out.split()[0]
                break
            if "only 'skip'ped commits left" in out:
                res["candidates"] = [l.split()[0] for l in out.splitlines()[1:] if l and l[0] in "0123456789abcdef"]
                break
            if not git(scratch.path, "rev-parse", "--verify", "-q", "HEAD", check=False):
                break
            verdict, _, _ = b.test(per, threshold)
            out = git(scratch.path, "bisect", verdict, check=False)
        res["log"] = git(scratch.path, "bisect", "log", check=False)
        res["first_bad"] = first
        if first:
            res["first_bad_subject"] = git(repo, "log", "-1", "--format=%s", first)
            res["first_bad_stat"] = git(repo, "show", "--stat", "--format=%H%n%an, %ad%n%n    %s", first)
        res["evidence"] = b.evidence
    finally:
        scratch.close()
    res["seconds"] = round(time.monotonic() - t0, 1)
    return res


def report(res):
    lines = [f"bisect: {res['class']}: {res['message']}",
             f"  {res.get('rule', '')}", "",
             f"{'revision':<12}{'verdict':<9}{'replays':>8}{'time':>8}  subject"]
    for e in res.get("evidence", []):
        lines.append(f"{e['rev'][:10]:<12}{e['verdict']:<9}{e['replays']:>8}{e['seconds']:>7.1f}s  "
                     f"{(e['role'] + ': ') if e['role'] else ''}{e['subject'][:70]}"
                     + (f"  [{e['why']}]" if e['why'] else ""))
    lines.append("")
    if res.get("first_bad"):
        lines.append(f"first bad commit: {res['first_bad']} {res['first_bad_subject']}")
        lines.append("")
        lines += ["  " + l for l in res["first_bad_stat"].splitlines()]
    elif res.get("candidates"):
        lines.append("first bad commit: one of (the others could not be tested): " + " ".join(res["candidates"]))
    else:
        lines.append("first bad commit: not found")
    lines.append(f"\n({res['seconds']:.0f}s in all)")
    return "\n".join(lines) + "\n"


def cmd_bisect(a):
    say = lambda m: print(m, file=sys.stderr, flush=True)
    repo = os.path.abspath(a.repo)
    res = bisect(a.file, a.good, a.bad, repo, a.replays, a.threshold, a.jobs, say)
    text = report(res)
    print(text, end="")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)
    return 0 if res.get("first_bad") else 1


def add_parser(sub):
    p = sub.add_parser("bisect", help="the first commit at which a finding reproduces (git bisect)")
    p.add_argument("file", metavar="FINDING.json")
    p.add_argument("--good", required=True, help="a revision where it does not reproduce")
    p.add_argument("--bad", default="HEAD", help="a revision where it does (default HEAD)")
    p.add_argument("--repo", default=ROOT, help="the repository (default: this tree's)")
    p.add_argument("--replays", type=int, help="replays per revision (default: from the rate at BAD)")
    p.add_argument("--threshold", type=int, default=1, help="reproductions that make a revision bad")
    p.add_argument("--jobs", type=int, default=2, help="make -j for each revision's build")
    p.add_argument("--out", help="write the result as JSON here")
    return p
