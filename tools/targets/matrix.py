#!/usr/bin/python3
"""matrix.py: run scenario x mode x injector x seed x GOMAXPROCS (and
environment axes) against the targets built by `make go-scenarios` (and
build/fixed), and classify every run. A stopgap for docs/targets.md until the
campaign package grows `--target go`; it judges runs the way that campaign
does (records only, the target's own fatal table from --describe).

  tools/targets/matrix.py scenarios [--targets go,gccgo] [--seeds 3] [--procs 1,2,4]
  tools/targets/matrix.py env [--targets go,gccgo,fixed] [--axes a,b+c,...] [--scenarios ...]

Every run: its own process group, a timeout (hang: SIGABRT to the group so a
Go runtime dumps its goroutines, then SIGKILL), one JSON line in --out.
Classes: clean, skipped, expected (the declared fatal or the environment
axis's outcome), fatal:<key>, crash:<signal>, wrong, invariant, hang.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = {"go": "build/go/harness", "gccgo": "build/gccgo/harness", "fixed": "build/fixed/harness"}


def records(text):
    out = []
    for line in text.splitlines():
        if line.startswith('{"rec":'):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def describe(target, scenario):
    exe = os.path.join(ROOT, BUILD[target], scenario)
    p = subprocess.run([exe, "--describe"], capture_output=True, text=True, timeout=30)
    recs = records(p.stdout)
    info = next(r for r in recs if r["rec"] == "info")
    fatals = [r for r in recs if r["rec"] == "fatal"]
    return info, fatals


def run_one(job):
    cmd, env, timeout = job["cmd"], dict(os.environ, **job["env"]), job["timeout"]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         start_new_session=True, cwd=ROOT)
    hung = False
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        hung = True
        try:
            os.killpg(p.pid, signal.SIGABRT)
            out, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    job = dict(job, rc=p.returncode, secs=round(time.monotonic() - t0, 2),
               stderr=err.decode(errors="replace"), stdout=out.decode(errors="replace"), hung=hung)
    return classify(job)


def first_fatal(stderr, fatals):
    best = None
    for i, line in enumerate(stderr.splitlines()):
        for f in fatals:
            if f["message"] and (f["prefix"] + f["message"]) in line:
                if best is None:
                    best = (i, f)
        if best:
            break
    return best[1] if best else None


def classify(job):
    recs = records(job["stderr"])
    fatal = first_fatal(job["stderr"], job["fatals"])
    rc = job["rc"]
    if job["hung"]:
        cls = "hang"
    elif rc == 4 and any(r["rec"] == "skip" for r in recs):
        cls = "skipped"
    elif fatal:
        cls = "fatal:" + fatal["key"]
    elif rc < 0:
        cls = "crash:" + signal.Signals(-rc).name
    elif rc == 0:
        cls = "clean"
    elif rc == 3:
        cls = "invariant"
    elif rc == 1:
        cls = "wrong"
    elif rc > 128:  # a shell wrapper (sq-pid1) reporting a signal
        cls = "crash:" + signal.Signals(rc - 128).name
    else:
        cls = "exit:%d" % rc
    died = -rc if rc < 0 else rc - 128 if rc > 128 else 0
    envrec = next((r for r in recs if r["rec"] == "env"), None)
    exp = next((r for r in recs if r["rec"] == "expect"), {"outcome": "clean"})
    if envrec and envrec.get("expect", "scenario") != "scenario":
        want = envrec["expect"]
        sig = envrec.get("signal", 0)
        if want == "signal":
            ok = died == sig and not fatal
        elif want == "crash":
            ok = died == sig or (fatal is not None and fatal["class"] == "crash")
        else:  # death
            ok = cls.startswith("fatal:") or cls.startswith("crash:")
        expect = "%s:%s" % (want, signal.Signals(sig).name if sig else "-")
    elif exp["outcome"] == "fatal":
        ok = fatal is not None and fatal["key"] == exp["fatal"]
        expect = "fatal:" + exp["fatal"]
    else:
        ok = cls in ("clean", "skipped")
        expect = "clean"
    checks = [r for r in recs if r["rec"] == "envcheck" and not r["ok"]]
    tail = [l for l in job["stderr"].splitlines() if not l.startswith("{")][:6]
    return {k: job[k] for k in ("target", "scenario", "mode", "injector", "seed", "procs", "env", "cmd", "secs", "rc")} | {
        "class": cls, "expect": expect, "ok": ok or cls == "skipped",
        "failed_checks": [c["detail"] for c in checks], "stderr_head": tail}


def jobs_scenarios(a):
    for target in a.targets:
        for sc in a.scenarios:
            info, fatals = describe(target, sc)
            for mode in info["modes"].split("|"):
                for inj in a.injectors:
                    for seed in range(1, a.seeds + 1):
                        for procs in a.procs:
                            cmd = [os.path.join(BUILD[target], sc), "--seed", str(seed), "--mode", mode,
                                   "--injector", inj, "--iters", str(info["campaign_iters"])]
                            yield {"target": target, "scenario": sc, "mode": mode, "injector": inj,
                                   "seed": seed, "procs": procs, "env": {"GOMAXPROCS": str(procs)},
                                   "cmd": cmd, "timeout": a.timeout, "fatals": fatals}


def jobs_env(a):
    for target in a.targets:
        for sc in a.scenarios:
            info, fatals = describe(target, sc)
            for axes in a.axes:
                for seed in range(1, a.seeds + 1):
                    cmd = [os.path.join(BUILD[target], sc), "--seed", str(seed), "--env", axes.replace("+", ","),
                           "--iters", str(info["campaign_iters"])]
                    if "pid1" in axes.split("+"):
                        cmd = ["harness/sq-pid1"] + cmd
                    yield {"target": target, "scenario": sc, "mode": info["modes"].split("|")[0],
                           "injector": "none", "seed": seed, "procs": 0, "env": {"axes": axes},
                           "cmd": cmd, "timeout": a.timeout, "fatals": fatals}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["scenarios", "env"])
    ap.add_argument("--targets", default="go,gccgo")
    ap.add_argument("--scenarios", default=None)
    ap.add_argument("--injectors", default="none,storm")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--procs", default="1,2,4")
    ap.add_argument("--axes", default=None)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("-j", type=int, default=2)
    ap.add_argument("--out", default="out/targets/matrix.jsonl")
    a = ap.parse_args()
    a.targets = a.targets.split(",")
    a.injectors = a.injectors.split(",")
    a.procs = [int(p) for p in a.procs.split(",")]
    default_sc = sorted(f for f in os.listdir(os.path.join(ROOT, BUILD[a.targets[0]]))
                        if f.startswith("sc_") and "." not in f)
    a.scenarios = a.scenarios.split(",") if a.scenarios else default_sc
    if a.what == "env":
        a.axes = a.axes.split(",") if a.axes else []
        a.env = {}
    jobs = list(jobs_scenarios(a) if a.what == "scenarios" else jobs_env(a))
    os.makedirs(os.path.dirname(os.path.join(ROOT, a.out)), exist_ok=True)
    t0 = time.monotonic()
    summary = {}
    with open(os.path.join(ROOT, a.out), "w") as f, ThreadPoolExecutor(a.j) as ex:
        for r in ex.map(run_one, jobs):
            f.write(json.dumps(r) + "\n")
            f.flush()
            key = (r["target"], r["scenario"], r["mode"], r["env"].get("axes", r["injector"]))
            summary.setdefault(key, []).append(r)
            if not r["ok"]:
                print("FINDING? %s %s %s %s -> %s (want %s) %s" % (
                    r["target"], r["scenario"], r["mode"], r["env"], r["class"], r["expect"],
                    " | ".join(r["failed_checks"] or r["stderr_head"][:3])), flush=True)
    wall = time.monotonic() - t0
    print("\n%-7s %-15s %-9s %-28s %5s  %s" % ("target", "scenario", "mode", "injector/env", "runs", "classes"))
    for key, rs in sorted(summary.items()):
        classes = {}
        for r in rs:
            c = r["class"] + ("" if r["ok"] else "(!)")
            classes[c] = classes.get(c, 0) + 1
        print("%-7s %-15s %-9s %-28s %5d  %s" % (key + (len(rs),) + (
            ", ".join("%s x%d" % kv for kv in sorted(classes.items())),)))
    for t in a.targets:
        rs = [r for k, v in summary.items() if k[0] == t for r in v]
        cpu = sum(r["secs"] for r in rs)
        print("%s: %d runs, %.0f s of run time, %.1f runs/min at -j1 (%.1f/min wall at -j%d)" % (
            t, len(rs), cpu, 60 * len(rs) / cpu if cpu else 0, 60 * len(jobs) / wall, a.j))
    print("%d runs in %.0f s; %d not as expected; records in %s" % (
        len(jobs), wall, sum(not r["ok"] for v in summary.values() for r in v), a.out))


if __name__ == "__main__":
    sys.exit(main())
