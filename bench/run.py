#!/usr/bin/env python3
"""run.py: run stackquake's benchmarks and print their ratios to the anchors.

    bench/run.py --build build/fixed [--against OTHER_BUILD] [--repeat 5]
                 [--rounds 5] [--only REGEX] [--out out/bench.json]

Runs the programs `make bench` built into <build>/bench/ (sq_bench, anchors,
go_anchors), each subcommand in its own process. Every program times a fixed
iteration count ROUNDS times and prints the median as a RESULT line; run.py
runs the whole set REPEAT times, interleaved (pass 1 of everything, then
pass 2, ...), so a burst of machine noise hits runtime and anchors alike, and
takes the median over the passes. It prints one table per mechanism with the
ratio of each measurement to its anchor and the DESIGN target, and writes
everything (each pass's numbers too) to --out as JSON.

With --against, the sq_bench of another build (an older commit's, built in
a scratch tree) runs in the same passes, and every runtime row also shows
that build's value and its ratio to the same anchor: before and after in
one run. The tools' table (stackcheck and strace -f on a syscall loop,
sigpoke's sweep) is measured by run.py itself.

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
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from sqlib import outcome, proc  # noqa: E402
GO_TOOL = Path(os.environ.get("GO", "/usr/lib/go-1.19/bin/go"))
RUN_TIMEOUT = int(os.environ.get("BENCH_TIMEOUT", "60"))  # seconds per program run: a hang, not a slow machine

# program key -> file name in <build>/bench/ ("base": sq_bench of --against)
PROGRAMS = {"sq": "sq_bench", "c": "anchors", "go": "go_anchors", "base": "sq_bench"}

# (program, subcommand, RESULT names it prints, flags). Flags: "once": one
# pass only, whatever --repeat says (the 10^6-G runs: gigabytes and
# minutes); "slow": a longer timeout.
RUNS = [
    ("sq", "yield", ["yield"], ""),
    ("sq", "yield-samesite", ["yield-samesite"], ""),
    ("sq", "ctxswap", ["ctxswap"], ""),
    ("sq", "chan", ["chan"], ""),
    ("sq", "ccall", ["ccall"], ""),
    ("sq", "getpid-sq", ["getpid-sq"], ""),
    ("sq", "getpid-raw", ["getpid-raw"], ""),
    ("sq", "callback-bound", ["callback-bound"], ""),
    ("sq", "callback-unbound", ["callback-unbound"], ""),
    ("sq", "splitcheck", ["leaf-split", "leaf-nosplit", "splitcheck"], ""),
    ("c", "boost-jump", ["boost-jump"], ""),
    ("c", "swapcontext", ["swapcontext"], ""),
    ("c", "getpid-raw", ["getpid-raw"], ""),
    ("c", "call-ptr", ["call-ptr"], ""),
    ("go", "gosched", ["gosched"], ""),
    ("go", "chan", ["chan"], ""),
    ("go", "cgocall", ["cgocall"], ""),
    ("go", "callback", ["callback"], ""),
    ("go", "splitcheck", ["leaf-split", "leaf-nosplit", "splitcheck"], ""),
] + [
    # How cost grows: callbacks from T threads, Gs by the 10^5 and 10^6,
    # ping-pong across Ps, the run queue under stealing.
    (prog, "callback-%s-t%d" % (mode, t) if prog == "sq" else "callback-t%d" % t,
     ["callback-%s-t%d" % (mode, t) if prog == "sq" else "callback-t%d" % t], "")
    for t in (1, 2, 8, 64) for prog, mode in (("sq", "bound"), ("sq", "unbound"), ("go", ""))
] + [
    (prog, "chan-p%d" % p, ["chan-p%d" % p], "") for p in (2, 4) for prog in ("sq", "go")
] + [
    (prog, "steal-p%d" % p, ["steal-p%d" % p], "") for p in (1, 2, 4) for prog in ("sq", "go")
] + [
    (prog, "spawn-%s" % n, ["spawn-cold-%s" % n, "spawn-%s" % n, "idle-rss-%s" % n, "idle-pte-%s" % n],
     "slow" + (" once" if n == "1e6" else ""))
    for n in ("1e5", "1e6") for prog in ("sq", "go")
]

# Rows of a table: (measurement, key, anchor label, anchor key, target,
# target text). Keys are "<program>:<RESULT name>". A target is a ratio to
# the anchor ("ratio", x), an absolute number ("abs", x) or None.
R = lambda x: ("ratio", x)	# noqa: E731
TABLES = [
    ("G switch (ns per switch; chan: per round trip)", [
        ("sq_yield ping-pong", "sq:yield", "Boost jump_fcontext", "c:boost-jump", R(2.0), "≤ 2× Boost jump"),
        ("sq_yield ping-pong", "sq:yield", "sq_ctx_swap alone", "sq:ctxswap", None, ""),
        ("sq_yield, one resume pc", "sq:yield-samesite", "Boost jump_fcontext", "c:boost-jump", None, ""),
        ("sq_ctx_swap alone", "sq:ctxswap", "Boost jump_fcontext", "c:boost-jump", None, ""),
        ("sq_yield ping-pong", "sq:yield", "Go Gosched", "go:gosched", None, ""),
        ("sq_yield ping-pong", "sq:yield", "glibc swapcontext", "c:swapcontext", None, ""),
        ("sq_chan round trip", "sq:chan", "Go chan round trip", "go:chan", None, ""),
    ]),
    ("call out (ns per call)", [
        ("sq_ccall, empty C fn", "sq:ccall", "Go cgo call", "go:cgocall", R(0.35), "≤ 0.35× Go cgo"),
        ("sq_ccall, empty C fn", "sq:ccall", "C call via pointer", "c:call-ptr", None, ""),
    ]),
    ("syscall wrappers (ns per getpid)", [
        ("getpid via sq_syscall", "sq:getpid-sq", "raw getpid, same G", "sq:getpid-raw", None, ""),
        ("raw getpid, same G", "sq:getpid-raw", "raw getpid, no runtime", "c:getpid-raw", None, ""),
    ]),
    ("callbacks from a foreign thread (ns per callback)", [
        ("sq_callback, M bound", "sq:callback-bound", "Go callback", "go:callback", R(0.01), "≤ 0.01× Go callback"),
        ("sq_callback, unbound", "sq:callback-unbound", "Go callback", "go:callback", R(0.3), "≤ 0.3× Go callback"),
    ]),
    ("split check (ns per call of a noinline leaf)", [
        ("leaf with split check", "sq:leaf-split", "leaf without check", "sq:leaf-nosplit", None, ""),
        ("split check cost", "sq:splitcheck", "Go prologue check", "go:splitcheck", ("abs", 0.5), "≤ 0.5 ns"),
    ]),
    ("callbacks from T foreign threads at once (ns per callback, all threads; CPU)", [
        ("sq_callback bound, T=%d" % t, "sq:callback-bound-t%d" % t, "Go callback, T=%d" % t,
         "go:callback-t%d" % t, None, "") for t in (1, 2, 8, 64)
    ] + [
        ("sq_callback unbound, T=%d" % t, "sq:callback-unbound-t%d" % t, "Go callback, T=%d" % t,
         "go:callback-t%d" % t, None, "") for t in (1, 2, 8, 64)
    ]),
    ("many Gs: spawn, park, release, join (ns per G; bytes per parked G)", [
        ("spawn+join, 10^5, first round", "sq:spawn-cold-1e5", "Go, 10^5, first round", "go:spawn-cold-1e5", None, ""),
        ("spawn+join, 10^5, reused", "sq:spawn-1e5", "Go, 10^5, reused", "go:spawn-1e5", None, ""),
        ("spawn+join, 10^6, first round", "sq:spawn-cold-1e6", "Go, 10^6, first round", "go:spawn-cold-1e6", None, ""),
        ("spawn+join, 10^6, reused", "sq:spawn-1e6", "Go, 10^6, reused", "go:spawn-1e6", None, ""),
        ("per-G cost 10^6 vs 10^5 (reused)", "sq:spawn-1e6", "same at 10^5", "sq:spawn-1e5", R(1.25), "flat: ≤ 1.25×"),
        ("Go per-G cost 10^6 vs 10^5 (reused)", "go:spawn-1e6", "same at 10^5", "go:spawn-1e5", None, ""),
        ("resident bytes per idle G, 10^5", "sq:idle-rss-1e5", "Go", "go:idle-rss-1e5", R(1.0), "≤ Go"),
        ("resident bytes per idle G, 10^6", "sq:idle-rss-1e6", "Go", "go:idle-rss-1e6", R(1.0), "≤ Go"),
        ("page-table bytes per idle G, 10^5", "sq:idle-pte-1e5", "Go", "go:idle-pte-1e5", None, ""),
        ("page-table bytes per idle G, 10^6", "sq:idle-pte-1e6", "Go", "go:idle-pte-1e6", None, ""),
    ]),
    ("across Ps (ns per round trip; ns per G)", [
        ("chan ping-pong, 2 Ps", "sq:chan-p2", "Go, GOMAXPROCS=2", "go:chan-p2", None, ""),
        ("chan ping-pong, 4 Ps", "sq:chan-p4", "Go, GOMAXPROCS=4", "go:chan-p4", None, ""),
        ("spawn n Gs, 1 P", "sq:steal-p1", "Go, GOMAXPROCS=1", "go:steal-p1", None, ""),
        ("spawn n Gs, 2 Ps (stealing)", "sq:steal-p2", "Go, GOMAXPROCS=2", "go:steal-p2", None, ""),
        ("spawn n Gs, 4 Ps (stealing)", "sq:steal-p4", "Go, GOMAXPROCS=4", "go:steal-p4", None, ""),
    ]),
]

HEADER = ("measurement", "value", "anchor", "anchor value", "ratio", "target", "status")
BEFORE = ("before", "ratio before")

# The tools (docs/bench.md, "The tools"): a syscall-heavy loop (anchors
# getpid-raw) alone, under stackcheck and under strace -f; sigpoke's sweep of
# the runtime's attach/detach and syscall windows (as pytest/test_sigpoke.py
# sweeps them). Measured by run.py itself: CPU time of the whole process
# tree (tracer and tracee) from getrusage(RUSAGE_CHILDREN).
TOOLS_SYSCALLS = 50000
SIGPOKE_WINDOW = "needm,dropm,minit,unminit,entersyscall,reentersyscall,exitsyscall"
TOOLS_TABLE = ("the tools (per traced syscall; per poked instruction)", [
    ("syscall loop alone", "tools:syscall-plain", "", None, None, ""),
    ("stackcheck overhead", "tools:syscall-stackcheck", "strace -f overhead", "tools:syscall-strace", None, ""),
    ("sigpoke, per poked instruction (wall)", "tools:sigpoke-insn-wall", "", None, ("abs", 10e9 / 300),
     "300 instructions < 10 s"),
    ("sigpoke, per poked instruction (CPU)", "tools:sigpoke-insn-cpu", "", None, None, ""),
])

class RunFailed(Exception):
    """A program run that crashed, hung, failed or printed no RESULT."""

    def __init__(self, cmd, reason, stderr, timeout=False):
        super().__init__("%s: %s" % (" ".join(cmd), reason))
        self.cmd, self.reason, self.stderr, self.timeout = cmd, reason, stderr or "", timeout


def clean_env():
    return proc.clean_env({"LC_ALL": "C"})


def parse_results(text):
    """RESULT lines -> {name: {field: value}}; "value" is ns_per_op, or
    bytes_per_op for memory (unit=bytes)."""
    out = {}
    for line in text.splitlines():
        if not line.startswith("RESULT "):
            continue
        fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
        name = fields.pop("name", None)
        if name is None or ("ns_per_op" not in fields and "bytes_per_op" not in fields):
            continue
        fields["value"] = fields.get("ns_per_op", fields.get("bytes_per_op"))
        fields.setdefault("unit", "ns")
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


def run_one(path, sub, names, rounds, flags=""):
    """Run one subcommand; return {name: record} or raise RunFailed."""
    cmd = [str(path), sub, "-r", str(rounds)]
    timeout = RUN_TIMEOUT * (6 if "slow" in flags else 1)
    t0 = time.monotonic()
    r = proc.run(cmd, clean_env(), timeout=timeout, cwd=str(ROOT))
    if r.timed_out:
        raise RunFailed(cmd, "hang: no exit after %d s (killed)" % timeout, r.stderr, timeout=True)
    got = parse_results(r.stdout)
    if r.rc != 0:
        raise RunFailed(cmd, describe_status(r.rc), r.stderr)
    missing = [n for n in names if n not in got]
    if missing:
        raise RunFailed(cmd, "printed no RESULT for " + ", ".join(missing), r.stderr)
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


def judge(target, v, ratio):
    if target is None:
        return ""
    kind, x = target
    got = ratio if kind == "ratio" else v
    if got is None:
        return "n/a"
    return "met" if got <= x else "missed"


def build_rows(rows, results, units, skipped, attempted):
    """Turn table rows into dicts with values, ratios, status, and (with
    --against) the same row for the build it is compared with."""
    out = []
    for label, key, alabel, akey, target, ttext in rows:
        v = results.get(key)
        a = results.get(akey) if akey else None
        ratio = v / a if v is not None and a not in (None, 0) else None
        bkey = "base:" + key[3:] if key.startswith("sq:") else None
        b = results.get(bkey) if bkey else None
        bratio = b / a if b is not None and a not in (None, 0) else None
        anote = missing_note(akey, skipped, attempted) if akey and a is None else None
        out.append({
            "measurement": label, "key": key, "value": v, "unit": units.get(key, "ns"),
            "note": missing_note(key, skipped, attempted) if v is None else None,
            "anchor": alabel, "anchor_key": akey, "anchor_value": a,
            "anchor_note": anote, "ratio": ratio,
            "target": ttext, "target_spec": target, "status": judge(target, v, ratio),
            "before": b, "ratio_before": bratio,
            "status_before": judge(target, b, bratio) if b is not None else None,
        })
    return out


def fmt_value(v, unit):
    if v is None:
        return "—"
    if unit == "bytes":
        return "%.0f B" % v
    if abs(v) >= 1e6:
        return "%.1f ms" % (v / 1e6)
    if abs(v) >= 1e4:
        return "%.1f µs" % (v / 1e3)
    return fmt_ns(v) + " ns"


def footnotes(title, results):
    """Lines printed under a table."""
    if title.startswith("syscall") and "sq:getpid-sq" in results and "sq:getpid-raw" in results:
        yield ("sq_syscall wrapper overhead: %s ns per call (entersyscall + exitsyscall)"
               % fmt_ns(results["sq:getpid-sq"] - results["sq:getpid-raw"]))
    if title.startswith("split check") and "sq:splitcheck" in results:
        yield ("split check cost: median of the per-pair differences (the two leaves"
               " alternate in short slices), not the difference of the medians above")
    if title.startswith("callbacks from T") and any(k.startswith("sq:callback-") for k in results):
        yield ("callbacks per second per CPU = 1e9 / value; wall time per callback is in the"
               " JSON (wall_ns_per_op)")


def print_table(title, rows, against):
    header = HEADER + (BEFORE if against else ())
    cells = [header]
    for r in rows:
        c = (
            r["measurement"],
            fmt_value(r["value"], r["unit"]) if r["value"] is not None else r["note"].upper(),
            r["anchor"] or "—",
            (r["anchor_note"] or fmt_value(r["anchor_value"], r["unit"])) if r["anchor_key"] else "—",
            fmt_ratio(r["ratio"]),
            r["target"] or "—",
            r["status"] or "—",
        )
        if against:
            c += (fmt_value(r["before"], r["unit"]) if r["before"] is not None else "—",
                  fmt_ratio(r["ratio_before"]))
        cells.append(c)
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    numeric = {1, 3, 4, 7, 8}

    def line(c):
        parts = [c[i].rjust(widths[i]) if i in numeric else c[i].ljust(widths[i])
                 for i in range(len(c))]
        return "  " + "  ".join(parts).rstrip()

    print(title)
    print(line(cells[0]))
    print("  " + "  ".join("-" * w for w in widths))
    for c in cells[1:]:
        print(line(c))


def children_cpu_ns():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return int((ru.ru_utime + ru.ru_stime) * 1e9)


def timed(cmd, timeout):
    """Run cmd; (Run, CPU ns of its whole process tree)."""
    c0 = children_cpu_ns()
    r = proc.run(cmd, clean_env(), timeout=timeout, cwd=str(ROOT))
    return r, children_cpu_ns() - c0


def run_tools(build):
    """One pass of the tools' measurements: {key: value}, or raise RunFailed."""
    anchors = build / "bench" / "anchors"
    tools = ROOT / "build" / "tools"
    # getpid-raw with one round: a warm-up of n/10, then n.
    loop = [str(anchors), "getpid-raw", "-n", str(TOOLS_SYSCALLS), "-r", "1"]
    calls = TOOLS_SYSCALLS * 11 // 10
    got = {}
    runs = [("plain", loop),
            ("stackcheck", [str(tools / "stackcheck"), "-q", "--"] + loop),
            ("strace", ["strace", "-f", "-qq", "-o", "/dev/null", "--"] + loop)]
    cpu = {}
    for name, cmd in runs:
        if name == "strace" and not shutil.which("strace"):
            continue
        r, c = timed(cmd, RUN_TIMEOUT * 3)
        if r.timed_out or r.rc != 0:
            raise RunFailed(cmd, "hang" if r.timed_out else describe_status(r.rc), r.stderr,
                            timeout=r.timed_out)
        cpu[name] = c
    got["syscall-plain"] = cpu["plain"] / calls
    got["syscall-stackcheck"] = (cpu["stackcheck"] - cpu["plain"]) / calls
    if "strace" in cpu:
        got["syscall-strace"] = (cpu["strace"] - cpu["plain"]) / calls
    out = tempfile.mkdtemp(prefix="bench-sigpoke-")
    cmd = [str(tools / "sigpoke"), "-q", "-o", out, "-w", SIGPOKE_WINDOW,
           str(build / "ntests" / "sp_window"), "unbound"]
    t0 = time.monotonic()
    r, c = timed(cmd, RUN_TIMEOUT * 10)
    wall = time.monotonic() - t0
    if r.timed_out or r.rc not in (0, 1):
        raise RunFailed(cmd, "hang" if r.timed_out else describe_status(r.rc), r.stderr,
                        timeout=r.timed_out)
    pokes = 0
    with open(os.path.join(out, "records.jsonl")) as f:
        for line in f:
            if json.loads(line).get("rec") == "poke":
                pokes += 1
    shutil.rmtree(out, ignore_errors=True)
    if pokes == 0:
        raise RunFailed(cmd, "sigpoke poked no instruction", r.stderr)
    got["sigpoke-insn-wall"] = wall * 1e9 / pokes
    got["sigpoke-insn-cpu"] = c / pokes
    got["sigpoke-pokes"] = pokes
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True, help="variant build directory, e.g. build/fixed")
    ap.add_argument("--against", default=None,
                    help="another build directory (an older commit's, say): its sq_bench runs "
                         "in the same passes, and every runtime row shows its value and ratio too")
    ap.add_argument("--repeat", type=int, default=5, help="passes over every benchmark (median taken)")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds inside each program run")
    ap.add_argument("--only", default=None, help="regex on <program>:<subcommand> to run a subset "
                    "(tools:tools for the tools' table)")
    ap.add_argument("--out", default=str(ROOT / "out" / "bench.json"), help="JSON results file")
    args = ap.parse_args()
    if args.repeat < 1 or not 1 <= args.rounds <= 101:
        ap.error("--repeat must be >= 1 and --rounds from 1 to 101")

    def builddir(d):
        b = Path(d)
        return b if b.is_absolute() or b.exists() else ROOT / b

    build = builddir(args.build)
    dirs = {k: build / "bench" for k in PROGRAMS}
    if args.against:
        dirs["base"] = builddir(args.against) / "bench"

    skipped = {}
    paths = {}
    for key, name in PROGRAMS.items():
        if key == "base" and not args.against:
            continue
        p = dirs[key] / name
        if p.exists():
            paths[key] = p
        elif key == "go" and not GO_TOOL.exists():
            skipped["go"] = "golang-1.19-go not installed"
        else:
            print("bench: %s is missing: build it with `make bench` (or `make -f bench/bench.mk B=%s`)"
                  % (p, p.parent.parent), file=sys.stderr)
            return 1

    def wanted(prog, sub):
        return args.only is None or re.search(args.only, "%s:%s" % (prog, sub))

    runs = [r for r in RUNS if r[0] in paths and wanted(r[0], r[1])]
    # The --against build runs what sq runs, if its sq_bench has it.
    if "base" in paths:
        have = set(subprocess.run([str(paths["base"]), "list"], capture_output=True,
                                  text=True).stdout.split())
        runs += [("base",) + r[1:] for r in RUNS if r[0] == "sq" and wanted("sq", r[1])
                 and r[1] in have]
    tools = bool(wanted("tools", "tools")) and (ROOT / "build" / "tools" / "stackcheck").exists()
    if not runs and not tools:
        print("bench: nothing to run (--only %r matched no benchmark)" % args.only, file=sys.stderr)
        return 1

    started = time.monotonic()
    load0 = loadavg()
    samples = {}     # key -> list of per-pass records
    failures = []
    dead = set()     # runs that hung: not retried
    for n in range(args.repeat):
        print("bench: pass %d/%d (%d programs)" % (n + 1, args.repeat, len(runs) + tools),
              file=sys.stderr, flush=True)
        for prog, sub, names, flags in runs:
            if (prog, sub) in dead or ("once" in flags and n > 0):
                continue
            try:
                got = run_one(paths[prog], sub, names, args.rounds, flags)
            except RunFailed as e:
                failures.append({"run": "%s %s" % (paths[prog], sub), "pass": n + 1,
                                 "command": e.cmd, "reason": e.reason,
                                 "stderr_tail": e.stderr.splitlines()[-20:]})
                if e.timeout:
                    dead.add((prog, sub))
                continue
            for name in names:
                samples.setdefault("%s:%s" % (prog, name), []).append(got[name])
        if tools and ("tools", "tools") not in dead:
            try:
                got = run_tools(build)
            except RunFailed as e:
                failures.append({"run": "tools", "pass": n + 1, "command": e.cmd,
                                 "reason": e.reason, "stderr_tail": e.stderr.splitlines()[-20:]})
                dead.add(("tools", "tools"))
                got = {}
            for name, v in got.items():
                samples.setdefault("tools:" + name, []).append({"value": v, "unit": "ns"})

    attempted = {"%s:%s" % (prog, name) for prog, _, names, _ in runs for name in names}
    if tools:
        attempted |= {r[1] for r in TOOLS_TABLE[1]}
    results = {k: statistics.median(r["value"] for r in v) for k, v in samples.items()}
    units = {k: v[0].get("unit", "ns") for k, v in samples.items()}
    elapsed = time.monotonic() - started

    print()
    print("stackquake benchmarks: %s%s, %d pass(es) × %d rounds, median of medians; load avg %s → %s"
          % (build, " against %s" % dirs["base"].parent if args.against else "",
             args.repeat, args.rounds,
             "%.2f" % load0 if load0 is not None else "?",
             "%.2f" % loadavg() if loadavg() is not None else "?"))
    print("Times are CPU time per operation (every thread of the process; see docs/bench.md);"
          " ratios are measured in the same run.")
    for key, why in skipped.items():
        print("%s anchors: skipped (%s)" % (key, why))
    print()
    tables = []
    for title, rows in TABLES + ([TOOLS_TABLE] if tools else []):
        if not any(r[1] in results or (r[3] and r[3] in results) for r in rows):
            continue
        built = build_rows(rows, results, units, skipped, attempted)
        tables.append({"title": title, "rows": built})
        print_table(title, built, bool(args.against))
        for line in footnotes(title, results):
            print("  " + line)
        print()

    doc = {
        "schema": 2,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "build": str(build),
        "against": str(dirs["base"].parent) if args.against else None,
        "machine": machine_info(),
        "loadavg_start": load0, "loadavg_end": loadavg(),
        "go": None if "go" in skipped else go_version(),
        "skipped": skipped,
        "repeat": args.repeat, "rounds": args.rounds,
        "elapsed_seconds": round(elapsed, 1),
        "results": {k: {"value": results[k], "unit": units[k], "passes": samples[k]}
                    for k in sorted(samples)},
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
