#!/usr/bin/env python3
"""run.py: run stackquake's benchmarks and print their ratios to the anchors.

    bench/run.py --build build/fixed [--repeat 5] [--rounds 5] [--only REGEX]
                 [--out out/bench.json]

Runs the programs `make bench` built into <build>/bench/ (sq_bench, anchors,
go_anchors), each subcommand in its own process. Every program times a fixed
iteration count ROUNDS times and prints the median as a RESULT line; run.py
runs the whole set REPEAT times, interleaved (pass 1 of everything, then
pass 2, ...), so a burst of machine noise hits runtime and anchors alike, and
takes the median over the passes. It prints one table per mechanism with the
ratio of each measurement to its anchor and the DESIGN target, and writes
everything (each pass's numbers too) to --out as JSON.

Benchmarks report; they never fail on time. The exit status is 0 unless a
program crashed, hung, exited non-zero or printed no RESULT: then the failure
is printed with its command line and stderr, and the status is 1.

Environment: SQ_* and GOMAXPROCS/GODEBUG are removed before each run; the
programs set what they need themselves (SQ_MAXPROCS=1 for the ping-pongs,
SQ_CALLBACK_BIND for the callbacks, GOMAXPROCS=1 for the Go ping-pongs).
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from sqlib import outcome, proc  # noqa: E402
GO_TOOL = Path(os.environ.get("GO", "/usr/lib/go-1.19/bin/go"))
RUN_TIMEOUT = int(os.environ.get("BENCH_TIMEOUT", "60"))  # seconds per program run: a hang, not a slow machine

# program key -> file name in <build>/bench/
PROGRAMS = {"sq": "sq_bench", "c": "anchors", "go": "go_anchors"}

# (program, subcommand, RESULT names it prints)
RUNS = [
    ("sq", "yield", ["yield"]),
    ("sq", "chan", ["chan"]),
    ("sq", "ccall", ["ccall"]),
    ("sq", "getpid-sq", ["getpid-sq"]),
    ("sq", "getpid-raw", ["getpid-raw"]),
    ("sq", "callback-bound", ["callback-bound"]),
    ("sq", "callback-unbound", ["callback-unbound"]),
    ("sq", "splitcheck", ["leaf-split", "leaf-nosplit", "splitcheck"]),
    ("c", "boost-jump", ["boost-jump"]),
    ("c", "swapcontext", ["swapcontext"]),
    ("c", "getpid-raw", ["getpid-raw"]),
    ("c", "call-ptr", ["call-ptr"]),
    ("go", "gosched", ["gosched"]),
    ("go", "chan", ["chan"]),
    ("go", "cgocall", ["cgocall"]),
    ("go", "callback", ["callback"]),
]

# Tables: (title, rows). A row: (measurement, key, anchor label, anchor key,
# target ratio or None, target text). Keys are "<program>:<RESULT name>".
TABLES = [
    ("G switch (ns per switch; chan: per round trip)", [
        ("sq_yield ping-pong", "sq:yield", "Go Gosched", "go:gosched", 0.5, "≤ 0.5× Go Gosched"),
        ("sq_yield ping-pong", "sq:yield", "Boost jump_fcontext", "c:boost-jump", None, ""),
        ("sq_yield ping-pong", "sq:yield", "glibc swapcontext", "c:swapcontext", None, ""),
        ("sq_chan round trip", "sq:chan", "Go chan round trip", "go:chan", None, ""),
    ]),
    ("call out (ns per call)", [
        ("sq_ccall, empty C fn", "sq:ccall", "Go cgo call", "go:cgocall", 0.6, "≤ 0.6× Go cgo"),
        ("sq_ccall, empty C fn", "sq:ccall", "C call via pointer", "c:call-ptr", None, ""),
    ]),
    ("syscall wrappers (ns per getpid)", [
        ("getpid via sq_syscall", "sq:getpid-sq", "raw getpid, same G", "sq:getpid-raw", None, ""),
        ("raw getpid, same G", "sq:getpid-raw", "raw getpid, no runtime", "c:getpid-raw", None, ""),
    ]),
    ("callbacks from a foreign thread (ns per callback)", [
        ("sq_callback, M bound", "sq:callback-bound", "Go callback", "go:callback", 0.05, "≤ 0.05× Go callback"),
        ("sq_callback, unbound", "sq:callback-unbound", "Go callback", "go:callback", 0.7, "≤ 0.7× Go callback"),
    ]),
    ("split check (ns per call of a noinline leaf)", [
        ("leaf with split check", "sq:leaf-split", "leaf without check", "sq:leaf-nosplit", None, ""),
        ("split check cost", "sq:splitcheck", "", None, None, "DESIGN note: ≈ 1.3 ns"),
    ]),
]

HEADER = ("measurement", "ns/op", "anchor", "anchor ns/op", "ratio", "target", "status")


class RunFailed(Exception):
    """A program run that crashed, hung, failed or printed no RESULT."""

    def __init__(self, cmd, reason, stderr, timeout=False):
        super().__init__("%s: %s" % (" ".join(cmd), reason))
        self.cmd, self.reason, self.stderr, self.timeout = cmd, reason, stderr or "", timeout


def clean_env():
    return proc.clean_env({"LC_ALL": "C"})


def parse_results(text):
    """RESULT lines -> {name: {field: value}}."""
    out = {}
    for line in text.splitlines():
        if not line.startswith("RESULT "):
            continue
        fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
        name = fields.pop("name", None)
        if name is None or "ns_per_op" not in fields:
            continue
        rec = {}
        for k, v in fields.items():
            try:
                rec[k] = int(v) if re.fullmatch(r"-?\d+", v) else float(v)
            except ValueError:
                rec[k] = v
        out[name] = rec
    return out


def describe_status(rc):
    return "killed by " + outcome.signame(-rc) if rc < 0 else "exit status %d" % rc


def run_one(path, sub, names, rounds):
    """Run one subcommand; return {name: record} or raise RunFailed."""
    cmd = [str(path), sub, "-r", str(rounds)]
    t0 = time.monotonic()
    r = proc.run(cmd, clean_env(), timeout=RUN_TIMEOUT, cwd=str(ROOT))
    if r.timed_out:
        raise RunFailed(cmd, "hang: no exit after %d s (killed)" % RUN_TIMEOUT, r.stderr, timeout=True)
    got = parse_results(r.stdout)
    if r.rc != 0:
        raise RunFailed(cmd, describe_status(r.rc), r.stderr)
    missing = [n for n in names if n not in got]
    if missing:
        raise RunFailed(cmd, "printed no RESULT for " + ", ".join(missing), err)
    for rec in got.values():
        rec["seconds"] = round(time.monotonic() - t0, 3)
    return got


def machine_info():
    info = {"uname": " ".join(platform.uname()), "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def go_version():
    try:
        r = subprocess.run([str(GO_TOOL), "version"], capture_output=True, text=True, timeout=20)
        return r.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def fmt_ns(v):
    if v is None:
        return "—"
    if abs(v) < 10:
        return "%.2f" % v
    if abs(v) < 1000:
        return "%.1f" % v
    return "%.0f" % v


def fmt_ratio(r):
    if r is None:
        return "—"
    if r < 0.1:
        return "%.3f×" % r
    if r < 10:
        return "%.2f×" % r
    return "%.1f×" % r


def missing_note(key, skipped, attempted):
    """Why a key has no number: its program was skipped, not run, or failed."""
    if key.split(":")[0] in skipped:
        return "skipped"
    return "failed" if key in attempted else "not run"


def build_rows(rows, results, skipped, attempted):
    """Turn table rows into dicts with values, ratios and status."""
    out = []
    for label, key, alabel, akey, target, ttext in rows:
        v = results.get(key)
        a = results.get(akey) if akey else None
        ratio = v / a if v is not None and a not in (None, 0) else None
        if target is None:
            status = ""
        elif ratio is None:
            status = "n/a"
        else:
            status = "met" if ratio <= target else "missed"
        anote = missing_note(akey, skipped, attempted) if akey and a is None else None
        out.append({
            "measurement": label, "key": key, "ns_per_op": v,
            "note": missing_note(key, skipped, attempted) if v is None else None,
            "anchor": alabel, "anchor_key": akey, "anchor_ns_per_op": a,
            "anchor_note": anote, "ratio": ratio,
            "target": ttext, "target_ratio": target, "status": status,
        })
    return out


def footnotes(title, results):
    """Lines printed under a table."""
    if title.startswith("syscall") and "sq:getpid-sq" in results and "sq:getpid-raw" in results:
        yield ("sq_syscall wrapper overhead: %s ns per call (entersyscall + exitsyscall)"
               % fmt_ns(results["sq:getpid-sq"] - results["sq:getpid-raw"]))
    if title.startswith("split check") and "sq:splitcheck" in results:
        yield ("split check cost: median of the per-round differences (the two leaves"
               " alternate rounds), not the difference of the medians above")


def print_table(title, rows):
    cells = [HEADER]
    for r in rows:
        cells.append((
            r["measurement"],
            fmt_ns(r["ns_per_op"]) if r["ns_per_op"] is not None else r["note"].upper(),
            r["anchor"] or "—",
            r["anchor_note"] or fmt_ns(r["anchor_ns_per_op"]) if r["anchor_key"] else "—",
            fmt_ratio(r["ratio"]),
            r["target"] or "—",
            r["status"] or "—",
        ))
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    numeric = {1, 3, 4}

    def line(c):
        parts = [c[i].rjust(widths[i]) if i in numeric else c[i].ljust(widths[i])
                 for i in range(len(c))]
        return "  " + "  ".join(parts).rstrip()

    print(title)
    print(line(cells[0]))
    print("  " + "  ".join("-" * w for w in widths))
    for c in cells[1:]:
        print(line(c))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="variant build directory, e.g. build/fixed")
    ap.add_argument("--repeat", type=int, default=5, help="passes over every benchmark (median taken)")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds inside each program run")
    ap.add_argument("--only", default=None, help="regex on <program>:<subcommand> to run a subset")
    ap.add_argument("--out", default=str(ROOT / "out" / "bench.json"), help="JSON results file")
    args = ap.parse_args()
    if args.repeat < 1 or not 1 <= args.rounds <= 101:
        ap.error("--repeat must be >= 1 and --rounds from 1 to 101")

    build = Path(args.build)
    if not build.is_absolute() and not build.exists():
        build = ROOT / build
    bdir = build / "bench"

    skipped = {}
    paths = {}
    for key, name in PROGRAMS.items():
        p = bdir / name
        if p.exists():
            paths[key] = p
        elif key == "go" and not GO_TOOL.exists():
            skipped["go"] = "golang-1.19-go not installed"
        else:
            print("bench: %s is missing: build it with `make bench` (or `make -f bench/bench.mk B=%s`)"
                  % (p, args.build), file=sys.stderr)
            return 1

    runs = [r for r in RUNS if r[0] in paths
            and (args.only is None or re.search(args.only, "%s:%s" % (r[0], r[1])))]
    if not runs:
        print("bench: nothing to run (--only %r matched no benchmark)" % args.only, file=sys.stderr)
        return 1

    started = time.monotonic()
    load0 = loadavg()
    samples = {}     # key -> list of per-pass records
    failures = []
    dead = set()     # runs that hung: not retried
    for n in range(args.repeat):
        print("bench: pass %d/%d (%d programs)" % (n + 1, args.repeat, len(runs)),
              file=sys.stderr, flush=True)
        for prog, sub, names in runs:
            if (prog, sub) in dead:
                continue
            try:
                got = run_one(paths[prog], sub, names, args.rounds)
            except RunFailed as e:
                failures.append({"run": "%s %s" % (PROGRAMS[prog], sub), "pass": n + 1,
                                 "command": e.cmd, "reason": e.reason,
                                 "stderr_tail": e.stderr.splitlines()[-20:]})
                if e.timeout:
                    dead.add((prog, sub))
                continue
            for name in names:
                samples.setdefault("%s:%s" % (prog, name), []).append(got[name])

    attempted = {"%s:%s" % (prog, name) for prog, _, names in runs for name in names}
    results = {k: statistics.median(r["ns_per_op"] for r in v) for k, v in samples.items()}
    elapsed = time.monotonic() - started

    print()
    print("stackquake benchmarks: %s, %d pass(es) × %d rounds, median of medians; load avg %s → %s"
          % (build, args.repeat, args.rounds,
             "%.2f" % load0 if load0 is not None else "?",
             "%.2f" % loadavg() if loadavg() is not None else "?"))
    print("Absolute numbers move with machine noise; ratios are measured in the same run.")
    for key, why in skipped.items():
        print("%s anchors: skipped (%s)" % (key, why))
    print()
    tables = []
    for title, rows in TABLES:
        built = build_rows(rows, results, skipped, attempted)
        tables.append({"title": title, "rows": built})
        print_table(title, built)
        for line in footnotes(title, results):
            print("  " + line)
        print()

    doc = {
        "schema": 1,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "build": str(build),
        "machine": machine_info(),
        "loadavg_start": load0, "loadavg_end": loadavg(),
        "go": None if "go" in skipped else go_version(),
        "skipped": skipped,
        "repeat": args.repeat, "rounds": args.rounds,
        "elapsed_seconds": round(elapsed, 1),
        "results": {k: {"ns_per_op": results[k], "passes": samples[k]} for k in sorted(samples)},
        "tables": tables,
        "failures": failures,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print("results: %s (%.0f s)" % (out, elapsed))

    sys.stdout.flush()
    if failures:
        print("\nbench: %d run(s) FAILED:" % len(failures), file=sys.stderr)
        for f in failures:
            print("  pass %d: %s: %s\n    command: %s" % (f["pass"], f["run"], f["reason"],
                                                        " ".join(f["command"])), file=sys.stderr)
            for line in f["stderr_tail"]:
                print("    | " + line, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
