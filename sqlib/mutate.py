"""Mutation testing of the harness: how much of what could go wrong in the
runtime does the main job (the campaign, alone) catch?

  stackquake mutate [--budget 3m] [--only a,b] [--seed N] [--out out] [--list]

Each mutant (mutants/runtime.txt) is a realistic mistake of one to three
lines in the runtime. For each: a scratch copy of the tree gets the mutant
applied, the harness build of the runtime and the scenarios are built
there, and `stackquake run` runs on it until its first finding or the
budget. A mutant is killed (with the finding and the time to it), survived,
stale (its lines are no longer in the code: the list needs care), or
unbuildable (not a mistake the compiler lets through). The report gives the
kill rate and the median time to kill; killed/survived per mutant is in
mutate.json.

Mutant file format: a mutant starts with "== name", then "# " lines saying
what it breaks, then hunks: "@ path" and lines "- old" / "+ new" (the
text after the two-character prefix, tabs kept); the old lines must occur
exactly once in the file.
"""
import json
import os
import shutil
import subprocess
import sys
import time

from . import ROOT, Usage, duration, proc, records

MUTANTS = os.path.join(ROOT, "mutants", "runtime.txt")
# What the scratch tree needs to build the harness flavour and scenarios
# and to run the campaign (the ptrace tools do not depend on the runtime:
# the tree's build/tools is the real tree's).
TREE = ["runtime", "harness", "mk", "sqlib", "Makefile", "stackquake", "fuzz/fuzz.mk", "tools"]


class Mutant:
    def __init__(self, name):
        self.name, self.doc, self.hunks = name, [], []

    def apply(self, root):
        """Apply to the tree at root; None, or why it does not apply."""
        for path, old, new in self.hunks:
            full = os.path.join(root, path)
            try:
                text = open(full).read()
            except OSError as e:
                return f"{path}: {e.strerror}"
            n = text.count(old)
            if n != 1:
                return f"{path}: the old lines occur {n} times"
            with open(full, "w") as f:
                f.write(text.replace(old, new))
        return None


def load(path=MUTANTS):
    out, cur, hunk = [], None, None
    for raw in open(path):
        line = raw.rstrip("\n")
        if line.startswith("== "):
            cur = Mutant(line[3:].strip())
            out.append(cur)
            hunk = None
        elif cur is None or not line.strip():
            continue
        elif line.startswith("# "):
            cur.doc.append(line[2:])
        elif line.startswith("@ "):
            hunk = [line[2:].strip(), [], []]
            cur.hunks.append(hunk)
        elif line[:2] in ("- ", "+ ") or line in ("-", "+"):
            if hunk is None:
                raise Usage(f"{path}: {cur.name}: a line before any '@ path'")
            hunk[1 if line[0] == "-" else 2].append(line[2:])
        else:
            raise Usage(f"{path}: {cur.name}: cannot read {line!r}")
    for m in out:
        m.hunks = [(p, "\n".join(o) + "\n", "\n".join(n) + ("\n" if n else "")) for p, o, n in m.hunks]
        if not m.hunks:
            raise Usage(f"{path}: {m.name}: no hunks")
    return out


def scratch(dest):
    """A copy of the tree's sources at dest, sharing the real build/tools."""
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    for rel in TREE:
        src = os.path.join(ROOT, rel)
        dst = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.o"))
        else:
            shutil.copy2(src, dst)
    os.makedirs(os.path.join(dest, "build"))
    os.symlink(os.path.join(ROOT, "build", "tools"), os.path.join(dest, "build", "tools"))


def build(tree):
    r = subprocess.run(["make", "--no-print-directory", "-j2", "-C", tree, "scenarios", "contract"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       env=proc.clean_env({k: "" for k in ("MAKEFLAGS", "MFLAGS")}))
    return r.returncode == 0, r.stdout[-3000:]


def campaign(tree, budget, seed, out):
    """The main job on the tree, stopping at its first finding."""
    cmd = [sys.executable, "-m", "sqlib", "run", "--budget", f"{budget}s", "--seed", str(seed),
           "--stop-on-first", "--out", out]
    t0 = time.monotonic()
    r = proc.run(cmd, proc.clean_env({"PYTHONPATH": tree}), timeout=budget + 300, cwd=tree)
    rep = None
    for d in sorted(os.listdir(out)) if os.path.isdir(out) else []:
        p = os.path.join(out, d, "report.json")
        if os.path.exists(p):
            rep = json.load(open(p))
    return r, rep, time.monotonic() - t0


def run_one(m, a, workdir):
    tree = os.path.join(workdir, "tree")
    scratch(tree)
    why = m.apply(tree)
    if why:
        return {"mutant": m.name, "result": "stale", "why": why}
    ok, log = build(tree)
    if not ok:
        return {"mutant": m.name, "result": "unbuildable", "why": log.splitlines()[-5:]}
    out = os.path.join(workdir, "runs", m.name)
    r, rep, wall = campaign(tree, a.budget_s, a.seed, out)
    if rep is None:
        return {"mutant": m.name, "result": "harness-error", "why": (r.stdout + r.stderr)[-2000:]}
    row = {"mutant": m.name, "doc": " ".join(m.doc), "runs": len(rep["runs"]), "seconds": round(wall, 1)}
    if rep["findings"]:
        f = rep["findings"][0]
        first = next(x for x in rep["runs"] if x["class"] == f["class"] and x["message"] == f["message"])
        t = first.get("at", rep["elapsed"])
        row.update({"result": "killed", "class": f["class"], "message": f["message"], "by": f["label"],
                    "time_to_kill": round(t, 2), "repro": f["repro"]})
    else:
        row.update({"result": "survived"})
    return row


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return None if not n else xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def summary(rows, budget):
    valid = [r for r in rows if r["result"] in ("killed", "survived")]
    killed = [r for r in valid if r["result"] == "killed"]
    lines = [f"{'mutant':<34}{'result':<12}{'time':>8}  finding"]
    for r in rows:
        t = f"{r['time_to_kill']:.1f}s" if r["result"] == "killed" else ""
        what = f"{r['class']}: {r['message']} ({r['by']})" if r["result"] == "killed" else r.get("why", "")
        lines.append(f"{r['mutant']:<34}{r['result']:<12}{t:>8}  {str(what)[:110]}")
    lines.append("")
    if valid:
        med = median([r["time_to_kill"] for r in killed])
        lines.append(f"killed {len(killed)}/{len(valid)} ({100 * len(killed) / len(valid):.0f} %) with a "
                     f"{budget:.0f}s budget; median time to kill "
                     + (f"{med:.1f}s" if med is not None else "-")
                     + f"; {len(rows) - len(valid)} stale or unbuildable")
    return "\n".join(lines) + "\n"


def cmd_mutate(a):
    a.budget_s = duration.parse(a.budget)
    ms = load(a.file)
    if a.list:
        for m in ms:
            print(f"{m.name}: {' '.join(m.doc)}")
        return 0
    if a.only:
        want = a.only.split(",")
        unknown = set(want) - {m.name for m in ms}
        if unknown:
            raise Usage(f"unknown mutants: {', '.join(sorted(unknown))}")
        ms = [m for m in ms if m.name in want]
    if not os.path.exists(os.path.join(ROOT, "build", "tools", "stackcheck")):
        raise Usage("build/tools/stackcheck is not built: run make")
    # Absolute: each campaign runs with its scratch tree as working directory.
    workdir = os.path.join(os.path.abspath(a.out), time.strftime("mutate-%Y%m%d-%H%M%S-") + str(os.getpid()))
    os.makedirs(workdir)
    print(f"stackquake mutate: {len(ms)} mutants, budget {a.budget_s:.0f}s each, seed {a.seed}, "
          f"out {workdir}", file=sys.stderr)
    rows = []
    try:
        for i, m in enumerate(ms, 1):
            row = run_one(m, a, workdir)
            rows.append(row)
            print(f"[{i}/{len(ms)}] {m.name}: {row['result']}"
                  + (f" in {row['time_to_kill']}s: {row['class']}: {row['message']}" if row["result"] == "killed"
                     else f" ({row['why']})" if "why" in row and row["result"] != "survived" else ""),
                  file=sys.stderr, flush=True)
    finally:
        text = summary(rows, a.budget_s)
        with open(os.path.join(workdir, "mutate.json"), "w") as f:
            json.dump({"budget": a.budget_s, "seed": a.seed, "rows": rows}, f, indent=1)
        with open(os.path.join(workdir, "mutate.txt"), "w") as f:
            f.write(text)
        shutil.rmtree(os.path.join(workdir, "tree"), ignore_errors=True)
    print(text, end="")
    print(f"report: {workdir}/mutate.txt, mutate.json")
    return 0
