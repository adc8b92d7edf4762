#!/usr/bin/env python3
"""run.py: run the fuzz targets, triage what they find, replay the corpora.

  run.py fuzz [--time 10m] [--jobs N] [--targets a,b] [--engines afl,libfuzzer]
              [--corpus DIR] [--out DIR] [--variant fixed]
      both engines, one after the other, for --time in all (split evenly over
      targets x engines); AFL++ as one main and N-1 secondaries, libFuzzer in
      fork mode over N jobs. New inputs go to the working corpus (--corpus,
      default out/fuzz/corpus/<target>, seeded from corpora/<target>), which a
      later run resumes from. Then triage. Exit 1 if anything was found.
  run.py smoke [--time 20s]
      a short run of each engine on sq_ops: it must execute and find nothing
  run.py replay [--times 3] [--variants fixed,...]
      every corpus entry through the standalone binary of every variant,
      against corpora/MANIFEST
  run.py regress [--budget 60s] [--engines libfuzzer,afl] [--seeds all|empty]
      time to the first finding on each REGRESS variant, from the seed corpus
      with that variant's reproducer removed; the finding must replay on the
      variant and be clean on the fixed runtime
  run.py triage [--variant fixed] FILE|DIR...
      replay every crash/hang file, dedupe by outcome and top frames, minimize
      one per kind (libFuzzer -minimize_crash), replay the minimized input three
      times, print the summary

Builds come from fuzz/fuzz.mk (build/fuzz/<engine>[-<variant>]/<target>).
"""
import argparse
import collections
import glob
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sqlib import ROOT, Usage, contract, duration as durations, proc, records  # noqa: E402

BUILD = os.path.join(ROOT, "build", "fuzz")
TARGETS = ["sq_ops", "sq_unbound", "sq_race", "sq_refuse"]
MANIFEST = os.path.join(ROOT, "corpora", "MANIFEST")


def variants():
    """The variants a fuzz build (this host's arch) can show: the contract's."""
    return contract.variants(os.uname().machine)


def regress_target(v):
    """The target `regress` fuzzes for a variant: the first (sq_ops first)
    whose corpus keeps that variant's reproducer (docs/fuzz.md, "Corpora")."""
    for t in TARGETS:
        if os.path.exists(os.path.join(ROOT, "corpora", t, f"regress-{v}")):
            return t
    return TARGETS[0]
# libFuzzer must leave SIGUSR1/2 to the program (the runtime forwards them).
# Inputs are capped at MAX_LEN bytes (about 25 operations): every
# reproducer so far is under 16 (the cost of longer programs is in
# docs/fuzz.md, "Measurements").
MAX_LEN = 64
LF_FLAGS = ["-handle_usr1=0", "-handle_usr2=0", "-timeout=10", "-rss_limit_mb=4096",
            "-print_final_stats=1", f"-max_len={MAX_LEN}"]
AFL_ENV = {"AFL_SKIP_CPUFREQ": "1", "AFL_NO_UI": "1", "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES": "1",
           "AFL_NO_AFFINITY": "1", "AFL_QUIET": "1"}
# Our watchdog reports a hang, with a dump, before either engine's timeout.
RUN_ENV = {"FZ_WATCHDOG": "3", "FZ_QUIET": "1"}
MACHINERY = {"on_abrt", "frames", "raise", "abort", "die", "throwf", "throw", "fz_fail", "sigaction",
             "__sigaction", "__restore_rt", "badsigstack", "crash", "sighandler", "??", "arch_syscall6",
             "os_tgkill", "os_exit", "printstack"}


duration = durations.parse


def binary(engine, target, variant="fixed"):
    d = engine if variant == "fixed" else f"{engine}-{variant}"
    p = os.path.join(BUILD, d, target)
    if not os.path.exists(p):
        raise Usage(f"{p} is not built: make -f fuzz/fuzz.mk {'fuzz-build' if variant == 'fixed' else p}")
    return p


def env(**extra):
    return proc.clean_env(dict(RUN_ENV, **extra))


def have(tool):
    return shutil.which(tool) is not None


def say(*a):
    print(*a, file=sys.stderr, flush=True)


# ---- replay ------------------------------------------------------------------------

def replay_one(path, target="sq_ops", variant="fixed", times=1, extra=(), timeout=20):
    """A file through the standalone binary: (outcome, its log, whether every
    run agreed), from the driver's "replay" record."""
    cmd = [binary("replay", target, variant), "--verbose", "--times", str(times),
           "--timeout", str(timeout)] + list(extra) + [path]
    r = proc.run(cmd, env(), timeout=timeout * times + 60)
    rec = records.first(records.parse(r.stdout), "replay")
    if rec is None:
        return f"harness-error: the replay driver said nothing (exit {r.rc})", r.stdout + r.stderr, False
    return rec["outcome"], r.stdout + r.stderr, rec["deterministic"]


def blank(s):
    return re.sub(r"0x[0-9a-f]+|\d+", "#", s)


def symbolize(binpath, frames):
    """[(module, off)] -> function names, through addr2line, for our binary only."""
    mod = os.path.basename(binpath)
    offs = [o for m, o in frames if m == mod]
    if not offs or not have("addr2line"):
        return []
    r = subprocess.run(["addr2line", "-f", "-e", binpath] + offs, stdout=subprocess.PIPE, text=True)
    lines = r.stdout.splitlines()
    return [lines[i] for i in range(0, len(lines), 2)]


def signature(outcome, log, binpath):
    """Outcome (numbers blanked) and the three frames below the fatal-error
    machinery (throw, fz_fail, the signal handler) of the thread that died."""
    names = symbolize(binpath, [(f["module"], f["offset"]) for f in records.of(records.parse(log), "frame")])
    last = max((i for i, n in enumerate(names[:12]) if n in MACHINERY), default=-1)
    names = [n for n in names[last + 1:] if n not in MACHINERY][:3]
    return blank(outcome) + (" | " + " < ".join(names) if names else "")


# ---- triage ------------------------------------------------------------------------

def crash_files(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                for f in files:
                    full = os.path.join(root, f)
                    base = os.path.basename(root)
                    if (f.startswith(("crash-", "timeout-", "leak-", "oom-")) or
                            (base in ("crashes", "hangs") and f.startswith("id:"))):
                        out.append(full)
        elif os.path.isfile(p):
            out.append(p)
    return sorted(out)


def target_of(path, default):
    for t in TARGETS:
        if f"/{t}/" in path or f"/{t}-" in path or os.path.basename(path).startswith(t):
            return t
    return default


def minimize(path, target, variant, want_sig, workdir):
    """libFuzzer's -minimize_crash, kept only if the finding stays the same."""
    try:
        lf = binary("libfuzzer", target, variant)
    except Usage:
        return path
    out = os.path.join(workdir, "min-" + os.path.basename(path))
    proc.run([lf] + LF_FLAGS + ["-minimize_crash=1", "-runs=300", "-max_total_time=60",
                                "-exact_artifact_path=" + out, path], env(), timeout=600)
    if not os.path.exists(out) or os.path.getsize(out) >= os.path.getsize(path):
        return path
    outcome, log, _ = replay_one(out, target, variant)
    if signature(outcome, log, binary("replay", target, variant)) != want_sig:
        return path
    return out


def triage(paths, variant="fixed", default_target="sq_ops", workdir=None, do_min=True):
    files = crash_files(paths)
    workdir = workdir or tempfile.mkdtemp(prefix="triage-")
    os.makedirs(workdir, exist_ok=True)
    kinds = collections.OrderedDict()
    for f in files:
        t = target_of(f, default_target)
        outcome, log, _ = replay_one(f, t, variant)
        if outcome == "clean":
            sig = "not reproduced by the standalone replay (clean)"
        else:
            sig = signature(outcome, log, binary("replay", t, variant))
        k = kinds.setdefault((t, sig), {"target": t, "signature": sig, "outcome": outcome, "files": [],
                                        "log": log})
        k["files"].append(f)
    for k in kinds.values():
        rep = min(k["files"], key=os.path.getsize)
        if do_min and k["outcome"] != "clean":
            rep = minimize(rep, k["target"], variant, k["signature"], workdir)
        outcome, log, det = replay_one(rep, k["target"], variant, times=3)
        k.update({"representative": rep, "replay": outcome, "deterministic": det, "log": log})
    summary = [{x: k[x] for x in ("target", "signature", "outcome", "representative", "replay",
                                  "deterministic")} | {"count": len(k["files"])} for k in kinds.values()]
    with open(os.path.join(workdir, "triage.json"), "w") as f:
        json.dump(summary, f, indent=1)
    lines = [f"triage: {len(files)} files, {len(kinds)} distinct findings"]
    for i, k in enumerate(summary, 1):
        lines.append(f"  {i}. [{k['target']}] {k['signature']} ({k['count']} files)")
        lines.append(f"     reproducer: {k['representative']} -> {k['replay']}"
                     f"{'' if k['deterministic'] else ' (not deterministic)'}")
        lines.append(f"     replay: {binary('replay', k['target'], variant)} --times 3 {k['representative']}")
    print("\n".join(lines))
    return summary


# ---- the engines ----------------------------------------------------------------------

def seed_corpus(target, corpus):
    os.makedirs(corpus, exist_ok=True)
    for f in glob.glob(os.path.join(ROOT, "corpora", target, "*")):
        dst = os.path.join(corpus, os.path.basename(f))
        if not os.path.exists(dst):
            shutil.copy(f, dst)


def run_afl(target, corpus, out, seconds, jobs, variant="fixed", until_crash=False, seed=None):
    """AFL++: one main, jobs-1 secondaries, all for `seconds`; instance i
    draws its randomness from seed + i (-s), when a seed is given."""
    b = binary("afl", target, variant)
    os.makedirs(out, exist_ok=True)
    e = env(**AFL_ENV)
    if until_crash:
        e["AFL_BENCH_UNTIL_CRASH"] = "1"
    procs = []
    for i in range(jobs):
        role = ["-M", "main"] if i == 0 else ["-S", f"sec{i}"]
        cmd = ["afl-fuzz", "-i", corpus, "-o", out] + role + ["-V", str(int(seconds)), "-t", "5000",
                                                          "-G", str(MAX_LEN)]
        if seed is not None:
            cmd += ["-s", str(seed + i)]
        cmd += ["--", b]
        log = os.path.join(out, f"afl-{i}.log")
        procs.append(proc.Background(cmd, e, log))
    t0 = time.monotonic()
    for p in procs:
        p.wait(seconds + 120 - (time.monotonic() - t0))
    stats = {}
    for d in sorted(glob.glob(os.path.join(out, "*", "fuzzer_stats"))):
        s = {}
        for line in open(d):
            k, _, v = line.partition(":")
            s[k.strip()] = v.strip()
        stats[os.path.basename(os.path.dirname(d))] = s
    # New inputs join the working corpus, for the next run to resume from.
    for q in glob.glob(os.path.join(out, "*", "queue", "id:*")):
        name = "afl-" + re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.basename(q))[:80]
        dst = os.path.join(corpus, name)
        if not os.path.exists(dst) and os.path.isfile(q):
            shutil.copy(q, dst)
    return stats


def run_libfuzzer(target, corpus, out, seconds, jobs, variant="fixed", until_crash=False, seed=None):
    b = binary("libfuzzer", target, variant)
    os.makedirs(out, exist_ok=True)
    cmd = [b] + LF_FLAGS + [f"-max_total_time={int(seconds)}", f"-artifact_prefix={out}/"]
    if seed is not None:
        cmd.append(f"-seed={seed}")
    if jobs > 1 and not until_crash:
        cmd += [f"-fork={jobs}", "-ignore_crashes=1", "-ignore_timeouts=1"]
    cmd.append(corpus)
    proc.Background(cmd, env(), os.path.join(out, "libfuzzer.log")).wait(seconds + 180)
    text = open(os.path.join(out, "libfuzzer.log"), errors="replace").read()
    stats = {}
    for k in ("number_of_executed_units", "average_exec_per_sec", "new_units_added", "peak_rss_mb"):
        m = re.findall(rf"stat::{k}:\s+(\d+)", text)
        if m:
            stats[k] = sum(int(x) for x in m) if k != "average_exec_per_sec" else sum(int(x) for x in m)
    m = re.findall(r"#(\d+)\s+(?:DONE|pulse|NEW|REDUCE|INITED).*?exec/s: (\d+)", text)
    if m and "number_of_executed_units" not in stats:
        stats["number_of_executed_units"] = int(m[-1][0])
        stats["average_exec_per_sec"] = int(m[-1][1])
    # Fork mode: "#N: cov: ... time: Ts job: J" lines from the parent.
    m = re.findall(r"^#(\d+): cov: (\d+) .*? time: (\d+)s", text, re.M)
    if m and "number_of_executed_units" not in stats:
        execs, secs = int(m[-1][0]), max(1, int(m[-1][2]))
        stats["number_of_executed_units"] = execs
        stats["average_exec_per_sec"] = execs // secs
        stats["new_units_added"] = len(re.findall(r"^#\d+: cov:", text, re.M))
    crashes = re.findall(r"oom/timeout/crash: (\d+)/(\d+)/(\d+)", text)
    if crashes:
        stats["oom_timeout_crash"] = "/".join(crashes[-1])
    stats["log"] = os.path.join(out, "libfuzzer.log")
    return stats


def cmd_fuzz(a):
    total = duration(a.time)
    targets = a.targets.split(",") if a.targets else TARGETS
    engines = a.engines.split(",") if a.engines else ["afl", "libfuzzer"]
    for e in engines:
        if e == "afl" and not have("afl-fuzz"):
            raise Usage("afl-fuzz is not installed (mk/deps.sh fuzz)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = a.out or os.path.join(ROOT, "out", "fuzz", f"run-{stamp}")
    share = total / (len(targets) * len(engines))
    seed = a.seed if a.seed is not None else int(os.environ.get("SQ_SEED", time.time_ns() % 2**31))
    rng = random.Random(seed)
    say(f"fuzz: {', '.join(engines)} x {', '.join(targets)}: {share:.0f}s each, {a.jobs} jobs; "
        f"seed {seed}; out {out}")
    report = {"time": total, "jobs": a.jobs, "variant": a.variant, "seed": seed, "runs": []}
    for t in targets:
        corpus = os.path.join(a.corpus, t) if a.corpus else os.path.join(ROOT, "out", "fuzz", "corpus", t)
        seed_corpus(t, corpus)
        for e in engines:
            d = os.path.join(out, e, t)
            t0 = time.monotonic()
            st = (run_afl if e == "afl" else run_libfuzzer)(t, corpus, d, share, a.jobs, a.variant,
                                                            seed=rng.randrange(1, 2**31 - 64))
            report["runs"].append({"engine": e, "target": t, "seconds": round(time.monotonic() - t0, 1),
                                   "stats": st})
            say(f"fuzz: {e} {t}: {summary_line(e, st)}")
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    found = triage([out], a.variant, workdir=os.path.join(out, "triage"))
    print(f"fuzz: report {out}/report.json, triage {out}/triage/triage.json")
    for r in report["runs"]:
        print(f"  {r['engine']:<10}{r['target']:<12}{summary_line(r['engine'], r['stats'])}")
    return 1 if found else 0


def summary_line(engine, st):
    if engine == "afl":
        execs = sum(int(s.get("execs_done", 0)) for s in st.values())
        rate = sum(float(s.get("execs_per_sec", 0)) for s in st.values())
        stab = ", ".join(s.get("stability", "?") for s in st.values())
        crashes = sum(int(s.get("saved_crashes", 0)) for s in st.values())
        hangs = sum(int(s.get("saved_hangs", 0)) for s in st.values())
        return (f"{execs} execs, {rate:.0f}/s over {len(st)} instances, stability {stab}, "
                f"crashes {crashes}, hangs {hangs}")
    return (f"{st.get('number_of_executed_units', '?')} execs, {st.get('average_exec_per_sec', '?')}/s"
            + (f", oom/timeout/crash {st['oom_timeout_crash']}" if "oom_timeout_crash" in st else
               f", new units {st.get('new_units_added', '?')}"))


def cmd_smoke(a):
    seconds = duration(a.time)
    bad = 0
    with tempfile.TemporaryDirectory(prefix="fuzz-smoke-") as tmp:
        # sq_ops for the time given; sq_refuse (a process per illegal
        # program) for half of it, to see its child runs under each engine.
        for e in ["libfuzzer", "afl"]:
            if e == "afl" and not have("afl-fuzz"):
                print("smoke: afl: SKIPPED (afl-fuzz not installed)")
                continue
            for t, secs in (("sq_ops", seconds), ("sq_refuse", max(5.0, seconds / 2))):
                corpus = os.path.join(tmp, f"corpus-{e}-{t}")
                seed_corpus(t, corpus)
                out = os.path.join(tmp, f"{e}-{t}")
                st = (run_afl if e == "afl" else run_libfuzzer)(t, corpus, out, secs, 1)
                found = crash_files([out])
                if e == "afl":
                    execs = sum(int(s.get("execs_done", 0)) for s in st.values())
                else:
                    execs = int(st.get("number_of_executed_units", 0))
                ok = execs > 0 and not found
                bad += not ok
                print(f"smoke: {e} {t}: {'ok' if ok else 'FAILED'}: {summary_line(e, st)}")
                if found:
                    triage(found, workdir=os.path.join(tmp, "triage"), do_min=False)
    return 1 if bad else 0


def cmd_replay(a):
    vs = a.variants.split(",") if a.variants else ["fixed"] + variants()
    bad = 0
    for v in vs:
        for t in TARGETS:
            d = os.path.join(ROOT, "corpora", t)
            r = proc.run([binary("replay", t, v), "--manifest", MANIFEST, "--times", str(a.times), d],
                         env(), timeout=3600)
            recs = records.parse(r.stdout)
            summary = records.first(recs, "replay_summary")
            if summary is None:
                print(f"replay: {v:<20} {t}: the replay driver said nothing (exit {r.rc})\n{r.stderr[-2000:]}")
                bad += 1
                continue
            print(f"replay: {v:<20} {t}: {summary['runs']} runs, {summary['failures']} inputs not as "
                  f"expected or not deterministic")
            for x in recs:
                if x["rec"] == "replay" and (not x["ok"] or not x["deterministic"]):
                    print(f"  {x['file']}: {x['outcome']}" + ("" if x["deterministic"] else " (FLAKY)")
                          + ("" if x["ok"] else f" (UNEXPECTED, want: {x['want']})"))
            bad += r.rc != 0
    return 1 if bad else 0


# ---- regressions: time to the first finding -----------------------------------------------

def regress_one(v, engine, target, budget, seeds, tmp):
    corpus = os.path.join(tmp, f"{engine}-{target}-{v}-corpus")
    os.makedirs(corpus)
    for f in glob.glob(os.path.join(ROOT, "corpora", target, "*")):
        name = os.path.basename(f)
        if name == f"regress-{v}":
            continue		# its own reproducer is what it must find
        if seeds == "empty" and name != "seed-empty":
            continue
        shutil.copy(f, corpus)
    out = os.path.join(tmp, f"{engine}-{target}-{v}")
    t0 = time.monotonic()
    if engine == "afl":
        run_afl(target, corpus, out, budget, 1, v, until_crash=True)
        crashes = crash_files([out])
        found_at = None
        for c in crashes:
            m = re.search(r"time:(\d+)", c)
            if m:
                found_at = min(found_at or 1e18, int(m.group(1)) / 1000)
        if not crashes:
            # A seed that crashes already in AFL++'s dry run is a finding at
            # time 0 (the dry run skips it rather than saving it).
            log = open(os.path.join(out, "afl-0.log"), errors="replace").read()
            m = re.search(r"Test case '([^']+)' results in a crash", log)
            if m:
                src = re.sub(r"^.*orig:", "", m.group(1))
                if os.path.exists(os.path.join(corpus, src)):
                    crashes, found_at = [os.path.join(corpus, src)], 0.0
    else:
        run_libfuzzer(target, corpus, out, budget, 1, v, until_crash=True)
        crashes = crash_files([out])
        found_at = (time.monotonic() - t0) if crashes else None
    if not crashes:
        return {"variant": v, "engine": engine, "target": target, "found": False, "seconds": None}
    c = min(crashes, key=os.path.getsize)
    on_variant, _, _ = replay_one(c, target, v)
    on_fixed, _, _ = replay_one(c, target, "fixed")
    return {"variant": v, "engine": engine, "target": target, "found": True,
            "seconds": round(found_at, 2), "file": c, "on_variant": on_variant, "on_fixed": on_fixed,
            "genuine": on_variant != "clean" and on_fixed == "clean"}


def cmd_regress(a):
    vs = a.variants.split(",") if a.variants else variants()
    for v in vs:
        contract.check_variant(v)
    engines = a.engines.split(",") if a.engines else ["libfuzzer", "afl"]
    budget = duration(a.budget)
    rows = []
    keep = a.keep or tempfile.mkdtemp(prefix="fuzz-regress-")
    for v in vs:
        for e in engines:
            if e == "afl" and not have("afl-fuzz"):
                continue
            target = a.target or regress_target(v)
            try:
                row = regress_one(v, e, target, budget, a.seeds, keep)
            except Usage as err:
                row = {"variant": v, "engine": e, "target": target, "found": False, "seconds": None,
                       "error": str(err)}
            rows.append(row)
            say(f"regress: {v} {e}: " + (f"found in {row['seconds']}s: {row['on_variant']} "
                                          f"(fixed: {row['on_fixed']})" if row["found"] else
                                          row.get("error", f"not found in {budget:.0f}s")))
    print(f"{'variant':<22}{'engine':<11}{'first finding':>14}  outcome on the variant / on fixed")
    times = []
    for r in rows:
        if r["found"]:
            times.append(r["seconds"])
            print(f"{r['variant']:<22}{r['engine']:<11}{r['seconds']:>13.2f}s  {r['on_variant']} / "
                  f"{r['on_fixed']}{'' if r['genuine'] else '  (NOT the variant: fixed is not clean)'}")
        else:
            print(f"{r['variant']:<22}{r['engine']:<11}{'not found':>14}  {r.get('error', '')}")
    best = {}
    for r in rows:
        if r["found"] and r["genuine"]:
            best[r["variant"]] = min(best.get(r["variant"], 1e18), r["seconds"])
    if best:
        vals = sorted(best.values())
        med = vals[len(vals) // 2] if len(vals) % 2 else (vals[len(vals) // 2 - 1] + vals[len(vals) // 2]) / 2
        print(f"median time to first finding (best engine per variant, {len(best)} variants): {med:.2f}s")
    with open(os.path.join(keep, "regress.json"), "w") as f:
        json.dump(rows, f, indent=1)
    print(f"regress: details in {keep}/regress.json")
    return 0 if all(v in best for v in vs) else 1


def main(argv=None):
    ap = argparse.ArgumentParser(prog="fuzz/run.py", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd")
    f = sub.add_parser("fuzz")
    f.add_argument("--time", default="10m")
    f.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    f.add_argument("--targets")
    f.add_argument("--engines")
    f.add_argument("--corpus")
    f.add_argument("--out")
    f.add_argument("--variant", default="fixed")
    f.add_argument("--seed", type=int, help="the engines' randomness (default: from the clock, printed)")
    s = sub.add_parser("smoke")
    s.add_argument("--time", default="20s")
    r = sub.add_parser("replay")
    r.add_argument("--times", type=int, default=3)
    r.add_argument("--variants")
    g = sub.add_parser("regress")
    g.add_argument("--budget", default="60s")
    g.add_argument("--engines")
    g.add_argument("--variants")
    g.add_argument("--target")
    g.add_argument("--seeds", choices=["all", "empty"], default="all")
    g.add_argument("--keep")
    t = sub.add_parser("triage")
    t.add_argument("--variant", default="fixed")
    t.add_argument("--no-minimize", action="store_true")
    t.add_argument("--out")
    t.add_argument("paths", nargs="+")
    try:
        a = ap.parse_args(argv)
        if not a.cmd:
            ap.print_help(sys.stderr)
            return 2
        if a.cmd == "triage":
            return 1 if triage(a.paths, a.variant, workdir=a.out, do_min=not a.no_minimize) else 0
        return {"fuzz": cmd_fuzz, "smoke": cmd_smoke, "replay": cmd_replay, "regress": cmd_regress}[a.cmd](a)
    except Usage as e:
        print(f"run.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
