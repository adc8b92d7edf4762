"""Coverage map: which fault sites, windows and runtime functions a campaign
(and a fuzz run) reached, and how often.

Two sources, one page (out/<run>/coverage/index.html):

  hits     every scenario run that ends prints a "hits" record per fault
           site it reached (fault.c counts them in every harness build); the
           campaign keeps them per run. Summed here per site, and per window
           (the contract's contexts: where a site runs), with the arms the
           campaign put on each site.
  source   clang's source-based coverage of the runtime (runtime/src) in a
           coverage build of the scenarios (make cov: build/cov-<variant>/,
           mk/coverage.mk). With coverage on, the campaign runs that build:
           each run writes its own profile (LLVM_PROFILE_FILE, continuous
           mode, so runs that die of a fatal error count too), merged into
           coverage.profdata every BATCH runs and at the end (llvm-profdata),
           reported per function and per line (llvm-cov: src/index.html
           marks every line never run). The FAULT(site) lines' own counts
           say how often each site was reached in every run, those that
           died included.

Cost: the coverage build's runs are a few per cent slower than the normal
build's (counters in memory, one profile file per run; docs/harness.md
gives the measurement); merges and the page are timed and printed.

  stackquake run [--coverage auto|on|off]      (make run: on)
  stackquake coverage OUT/RUN [--fuzz [DIR...]]
      the page again for a run (its report.json and any profiles left);
      --fuzz adds the fuzzers: the corpora (out/fuzz/corpus/<target> after
      make fuzz, else corpora/<target>) replayed through the coverage build
      of the replay driver (make fuzz-cov: build/fuzz/cov/<target>)
"""
import copy
import glob
import html
import json
import os
import re
import shutil
import subprocess
import sys
import time

from . import BUILD, ROOT, Usage, contract, proc

BATCH = 400	# raw profiles merged at a time during a campaign
FUZZ_TARGETS = ("sq_ops", "sq_unbound", "sq_race", "sq_refuse")
RUNTIME_SRC = os.path.join(ROOT, "runtime", "src")


def tool(name):
    """llvm-profdata / llvm-cov, LLVM 14's first (clang's own version here)."""
    return shutil.which(f"{name}-14") or shutil.which(name)


def cov_dir(variant):
    return os.path.join(BUILD, f"cov-{variant}")


# ---- profiles -------------------------------------------------------------------------

class Profile:
    """Raw profiles under DIR/raw, merged into DIR/coverage.profdata."""

    def __init__(self, d):
        self.dir = d
        self.raw = os.path.join(d, "raw")
        self.data = os.path.join(d, "coverage.profdata")
        self.seconds = 0.0
        self.merges = 0
        self.runs = 0
        os.makedirs(self.raw, exist_ok=True)

    def pattern(self, tag):
        # %c: continuous mode (the counters live in the file); %p: each
        # process of the run (a forking replay driver shares its parent's).
        return os.path.join(self.raw, f"{tag}-%c%p.profraw")

    def merge(self, force=False):
        raws = glob.glob(os.path.join(self.raw, "*.profraw"))
        if not raws or (len(raws) < BATCH and not force):
            return
        t0 = time.monotonic()
        out = self.data + ".tmp"
        args = [tool("llvm-profdata"), "merge", "-sparse", "-o", out]
        args += [self.data] if os.path.exists(self.data) else []
        # A profile cut short (a run killed while its file was being made)
        # is dropped, not fatal: -failure-mode=all fails only if every input does.
        r = subprocess.run(args + ["-failure-mode=all"] + raws, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode == 0:
            os.replace(out, self.data)
            for f in raws:
                os.unlink(f)
        self.seconds += time.monotonic() - t0
        self.merges += 1


class CovTarget:
    """A platform (sqlib/targets.py) whose every run writes its own profile."""

    def __init__(self, inner, profile):
        self.inner, self.profile = inner, profile

    def __getattr__(self, k):
        return getattr(self.inner, k)

    def run(self, cmd, env=None, *args, **kw):
        self.profile.runs += 1
        env = dict(env or {}, LLVM_PROFILE_FILE=self.profile.pattern(f"{self.profile.runs:06d}"))
        try:
            return self.inner.run(cmd, env, *args, **kw)
        finally:
            self.profile.merge()


def unavailable(under):
    """Why the campaign cannot run a coverage build of under, or None."""
    if under.runtime != "sq":
        return f"source coverage is of our runtime's build; target {under.runtime} has none"
    if not under.platform.host_native:
        return f"the coverage build is the host's own (not {under.on})"
    if not tool("llvm-profdata") or not tool("llvm-cov"):
        return "llvm-profdata/llvm-cov not installed (sh mk/deps.sh coverage)"
    return None


def stale(variant):
    """Why build/cov-<variant>/ cannot be used as it is, or None."""
    if not os.path.isdir(os.path.join(cov_dir(variant), "harness")):
        return f"{cov_dir(variant)} not built (make cov{'' if variant == 'fixed' else ' REGRESS=' + variant})"
    args = ["make", "-q", "--no-print-directory", "-C", ROOT, "COVERAGE=1", "scenarios"]
    if variant != "fixed":
        args.append(f"REGRESS={variant}")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    if subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env).returncode != 0:
        return f"{cov_dir(variant)} is older than the sources (make cov)"
    return None


def runs_on(mode, under, outdir):
    """The campaign's hook: the build its runs use. mode on: the coverage
    build (an error if it cannot be had); auto: it when it is there and up
    to date; off: under itself. The note says which, and why."""
    if mode == "off":
        under.coverage_note = "off (--coverage off)"
        return under
    why = unavailable(under) or stale(under.variant)
    if why:
        if mode == "on":
            raise Usage(f"--coverage on: {why}")
        under.coverage_note = f"sites only: {why}"
        return under
    # Only the scenario programs change (hdir): bdir stays the normal build,
    # whose window program sigpoke sweeps (the instructions that ship).
    cu = copy.copy(under)
    cu.hdir = os.path.join(cov_dir(under.variant), "harness")
    cu.coverage = Profile(os.path.join(outdir, "coverage"))
    cu.platform = CovTarget(under.platform, cu.coverage)
    cu.coverage_note = f"on: the campaign's scenarios ran from {os.path.relpath(cu.hdir, ROOT)}/"
    return cu


# ---- what was reached -----------------------------------------------------------------

def site_ids():
    """Contract site name -> (file, line, col) of its FAULT(ID) in runtime/src."""
    where = {}
    names = {s.upper().replace(".", "_").replace("-", "_"): s for s in contract.sites()}
    for f in glob.glob(os.path.join(RUNTIME_SRC, "**", "*.c"), recursive=True):
        with open(f) as fh:
            for i, line in enumerate(fh, 1):
                m = re.search(r"\bFAULT\((\w+)\)", line)
                if m and m.group(1) in names and "define" not in line:
                    where[names[m.group(1)]] = (f, i, m.start() + 1)
    return where


def sites_from_runs(runs):
    """Per site: hits summed over the runs that printed them, runs that
    reached it, and the arms the campaign put on it (action -> runs)."""
    out = {s: {"hits": 0, "runs": 0, "armed": {}} for s in contract.sites()}
    for r in runs:
        for site, n in (r.get("hits") or {}).items():
            if site in out and n > 0:
                out[site]["hits"] += n
                out[site]["runs"] += 1
        for spec in (r.get("job") or {}).get("arms", []):
            site, action = contract.parse_spec(spec)[:2]
            if site in out:
                sig = [p for p in spec.split(":")[2:] if p.startswith("SIG")]
                a = action + (":" + sig[0] if sig else "")
                out[site]["armed"][a] = out[site]["armed"].get(a, 0) + 1
    return out


def line_count(file_json, line, col):
    """Execution count at (line, col) from llvm-cov export segments: the
    last segment with a count that starts at or before it."""
    count = None
    for seg in file_json["segments"]:
        l, c, n, has = seg[0], seg[1], seg[2], seg[3]
        if (l, c) > (line, col):
            break
        if has:
            count = n
    return count


def export(profdata, objects):
    """llvm-cov export of the runtime's sources for these binaries."""
    args = [tool("llvm-cov"), "export", "-instr-profile=" + profdata, objects[0]]
    for o in objects[1:]:
        args += ["-object", o]
    r = subprocess.run(args + [RUNTIME_SRC], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"llvm-cov export: {r.stderr[-2000:]}")
    return json.loads(r.stdout)["data"][0]


def show_html(profdata, objects, outdir):
    args = [tool("llvm-cov"), "show", "-format=html", "-output-dir=" + outdir, "-show-line-counts-or-regions",
            "-instr-profile=" + profdata, "-project-title=stackquake runtime", objects[0]]
    for o in objects[1:]:
        args += ["-object", o]
    subprocess.run(args + [RUNTIME_SRC], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def functions(exp):
    """Runtime functions: name -> (count, file, line)."""
    out = {}
    for f in exp["functions"]:
        fn = f["filenames"][0]
        if not fn.startswith(RUNTIME_SRC + os.sep):
            continue
        name = f["name"].split(":")[-1]
        rel = os.path.relpath(fn, ROOT)
        line = f["regions"][0][0] if f["regions"] else 0
        key = (name, rel)
        c, _, _ = out.get(key, (0, rel, line))
        out[key] = (c + f["count"], rel, line)
    return out


def source_map(profdata, objects):
    """Functions, totals and per-site line counts of one profile."""
    exp = export(profdata, objects)
    files = {f["filename"]: f for f in exp["files"]}
    sites = {}
    for s, (f, line, col) in site_ids().items():
        sites[s] = line_count(files[f], line, col) if f in files else None
    return {"functions": functions(exp), "totals": exp["totals"], "sites": sites}


# ---- the page ---------------------------------------------------------------------------

def pct(t):
    return f"{t['covered']}/{t['count']} ({t['percent']:.0f}%)" if t.get("count") else "-"


def build_map(covdir, runs, objects=None, profile=None, fuzz=None, meta=None):
    """Everything the page shows, as a dict (coverage.json)."""
    sites = sites_from_runs(runs)
    ctx = {s["name"]: s["context"] for s in contract.load()["sites"]}
    m = {"sites": sites, "contexts": {c["name"]: c["doc"] for c in contract.load()["contexts"]},
         "site_context": ctx, "runs": len(runs), "meta": meta or {}}
    if profile and os.path.exists(profile) and objects:
        src = source_map(profile, objects)
        for s, n in src["sites"].items():
            sites[s]["line"] = n
        m["functions"] = {f"{k[1]}:{k[0]}": v for k, v in src["functions"].items()}
        m["totals"] = src["totals"]
        show_html(profile, objects, os.path.join(covdir, "src"))
    if fuzz:
        m["fuzz"] = fuzz
    return m


def summary(m):
    sites = m["sites"]
    reached = [s for s, v in sites.items() if v["hits"] or v.get("line")]
    never = sorted(set(sites) - set(reached))
    rt = m.get("meta", {}).get("runtime", "sq")
    if rt != "sq":		# the sites are our runtime's (SQ_SITES); another has none
        return f"coverage: none on target {rt} (fault sites and source coverage are stackquake's runtime's)"
    out = f"coverage: fault sites reached {len(reached)}/{len(sites)}"
    if never:
        out += f" (never: {', '.join(never)})"
    if "totals" in m:
        t = m["totals"]
        out += f"; runtime functions {pct(t['functions'])}, lines {pct(t['lines'])}, branches {pct(t['branches'])}"
    if m.get("fuzz"):
        out += f"; fuzzers: functions {pct(m['fuzz']['totals']['functions'])}"
    return out


def _row(cells, cls=""):
    return f"<tr{' class=' + repr(cls) if cls else ''}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>\n"


def write_page(covdir, m, note=""):
    os.makedirs(covdir, exist_ok=True)
    e = html.escape
    meta = m.get("meta", {})
    parts = [f"""<!doctype html><html><head><meta charset="utf-8"><title>stackquake coverage</title>
<style>body{{font:14px sans-serif;margin:2em}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}} td:nth-child(n+2){{font-family:monospace}}
tr.never td{{background:#fdd}} tr.fuzzonly td{{background:#ffd}} .note{{color:#555}}</style></head><body>
<h1>What the campaign reached</h1>
<p>{e(meta.get('label', ''))} &mdash; {m['runs']} runs{e(', seed ' + str(meta['seed'])) if 'seed' in meta else ''}.
{e(note)}</p><p><b>{e(summary(m))}</b></p>
<p class="note">Rows in red: never reached. <i>hits</i>: the sites' own counters, summed over the runs that
ended normally ("hits" records); <i>line</i>: the execution count of the site's FAULT() line in the coverage
build, over every run (those that died included); <i>armed</i>: campaign runs that armed an action there.</p>"""]
    if "totals" in m:
        parts.append('<p>Line by line, never-run code marked: <a href="src/index.html">src/index.html</a> '
                     '(llvm-cov).</p>')
    by_ctx = {}
    for s, v in m["sites"].items():
        by_ctx.setdefault(m["site_context"][s], []).append((s, v))
    parts.append("<h2>Windows (where a site runs)</h2><table><tr><th>window</th><th>sites reached</th>"
                 "<th>hits</th><th>what</th></tr>\n")
    for c, doc in m["contexts"].items():
        ss = by_ctx.get(c, [])
        got = [s for s, v in ss if v["hits"] or v.get("line")]
        parts.append(_row([e(c), f"{len(got)}/{len(ss)}", sum(v["hits"] for _, v in ss), e(doc)],
                          "never" if not got else ""))
    parts.append("</table><h2>Fault sites</h2><table><tr><th>site</th><th>window</th><th>hits</th>"
                 "<th>runs</th><th>line</th><th>armed</th></tr>\n")
    for s, v in m["sites"].items():
        armed = ", ".join(f"{a} ({n})" for a, n in sorted(v["armed"].items())) or "never"
        line = v.get("line")
        parts.append(_row([e(s), e(m["site_context"][s]), v["hits"], v["runs"], "-" if line is None else line,
                           e(armed)], "never" if not (v["hits"] or line) else ""))
    parts.append("</table>")
    if "functions" in m:
        fz = (m.get("fuzz") or {}).get("functions", {})
        never = sum(1 for c, _, _ in m["functions"].values() if not c)
        parts.append(f"<h2>Runtime functions</h2><p>{never} never reached by the campaign"
                     + (" (yellow: reached by the fuzzers only)" if fz else "") + ".</p>"
                     "<table><tr><th>function</th><th>calls (campaign)</th>"
                     + ("<th>calls (fuzzers)</th>" if fz else "") + "<th>where</th></tr>\n")
        for key, (c, f, line) in sorted(m["functions"].items(), key=lambda kv: (kv[1][1], kv[1][2])):
            name = key.split(":")[-1]
            cls = "" if c else ("fuzzonly" if fz.get(key, (0,))[0] else "never")
            cells = [e(name), c] + ([fz.get(key, (0,))[0]] if fz else []) + [f"{e(f)}:{line}"]
            parts.append(_row(cells, cls))
        parts.append("</table>")
    if m.get("fuzz"):
        fzm = m["fuzz"]
        parts.append(f"<h2>Fuzzers</h2><p>{e(fzm['note'])}</p><p>functions {pct(fzm['totals']['functions'])}, "
                     f"lines {pct(fzm['totals']['lines'])}; line by line: <a href=\"fuzz/index.html\">"
                     f"fuzz/index.html</a></p>")
    parts.append("</body></html>\n")
    with open(os.path.join(covdir, "index.html"), "w") as f:
        f.write("".join(parts))
    with open(os.path.join(covdir, "coverage.json"), "w") as f:
        json.dump(m, f, indent=1)


def objects_of(hdir):
    return sorted(p for p in glob.glob(os.path.join(hdir, "sc_*")) if "." not in os.path.basename(p)
                  and os.access(p, os.X_OK))


def after_campaign(outdir, runs, runs_under, meta):
    """The campaign's hook: merge what is left, write the page, append the
    one-line summary to report.txt and print it."""
    t0 = time.monotonic()
    covdir = os.path.join(outdir, "coverage")
    prof = getattr(runs_under, "coverage", None)
    note = "coverage " + getattr(runs_under, "coverage_note", "")
    objects = None
    if prof:
        prof.merge(force=True)
        objects = objects_of(runs_under.hdir)
        shutil.rmtree(prof.raw, ignore_errors=True)
    m = build_map(covdir, runs, objects, prof.data if prof else None, meta=meta)
    cost = ""
    if prof:
        cost = (f" (profiles merged in {prof.merges} batches, {prof.seconds:.1f}s; page "
                f"{time.monotonic() - t0 - 0:.1f}s)")
    write_page(covdir, m, note + cost)
    line = summary(m) + f"\n  page: {os.path.relpath(os.path.join(covdir, 'index.html'))}  [{note}{cost}]\n"
    with open(os.path.join(outdir, "report.txt"), "a") as f:
        f.write("\n" + line)
    print(line, end="")
    return m


# ---- stackquake coverage RUN [--fuzz] ---------------------------------------------------------

def fuzz_map(covdir, dirs=None, times=1, say=None):
    """The fuzzers' reach: every input of the corpora replayed through
    build/fuzz/cov/<target>. Returns the fuzz part of the map."""
    bins = {t: os.path.join(BUILD, "fuzz", "cov", t) for t in FUZZ_TARGETS}
    missing = [b for b in bins.values() if not os.path.exists(b)]
    if missing:
        raise Usage(f"--fuzz: {missing[0]} not built (make fuzz-cov)")
    prof = Profile(os.path.join(covdir, "fuzz-profile"))
    used = []
    for t, b in bins.items():
        ds = [d for d in (dirs or []) if os.path.basename(os.path.normpath(d)) == t] if dirs else []
        if not ds:
            work = os.path.join(ROOT, "out", "fuzz", "corpus", t)
            ds = [work if os.path.isdir(work) else os.path.join(ROOT, "corpora", t)]
        for d in ds:
            n = len(os.listdir(d)) if os.path.isdir(d) else 0
            if say:
                say(f"coverage: replaying {n} inputs of {os.path.relpath(d, ROOT)} through {os.path.relpath(b, ROOT)}")
            env = proc.clean_env({"LLVM_PROFILE_FILE": prof.pattern(t)})
            proc.run([b, "--times", str(times), d], env, timeout=3600)
            used.append(f"{os.path.relpath(d, ROOT)} ({n})")
    prof.merge(force=True)
    objs = list(bins.values())
    exp = export(prof.data, objs)
    show_html(prof.data, objs, os.path.join(covdir, "fuzz"))
    shutil.rmtree(prof.raw, ignore_errors=True)
    return {"functions": {f"{k[1]}:{k[0]}": v for k, v in functions(exp).items()}, "totals": exp["totals"],
            "note": "corpora replayed through the coverage build of the replay driver: " + ", ".join(used)}


def cmd_coverage(a):
    say = lambda m: print(m, file=sys.stderr, flush=True)
    run = a.run
    rep = os.path.join(run, "report.json")
    if not os.path.exists(rep):
        raise Usage(f"{run}: no report.json (want a campaign's out/run-... directory)")
    with open(rep) as f:
        r = json.load(f)
    covdir = os.path.join(run, "coverage")
    prof = Profile(covdir) if os.path.isdir(os.path.join(covdir, "raw")) or \
        os.path.exists(os.path.join(covdir, "coverage.profdata")) else None
    objects = None
    if prof:
        prof.merge(force=True)
        objects = objects_of(os.path.join(cov_dir(r.get("variant", "fixed")), "harness"))
    fz = fuzz_map(covdir, a.fuzz or None, say=say) if a.fuzz is not None else None
    meta = {"label": f"target={r.get('target')} variant={r.get('variant')} on={r.get('on')}", "seed": r.get("seed")}
    m = build_map(covdir, r["runs"], objects, prof.data if prof else None, fuzz=fz, meta=meta)
    write_page(covdir, m, "coverage page rebuilt by `stackquake coverage`")
    print(summary(m))
    print(f"page: {os.path.join(covdir, 'index.html')}")
    return 0


def add_parser(sub):
    p = sub.add_parser("coverage", help="the coverage page of a campaign run (and the fuzzers')")
    p.add_argument("run", metavar="OUT/RUN", help="a campaign's output directory")
    p.add_argument("--fuzz", nargs="*", metavar="CORPUS",
                   help="add the fuzzers: corpora replayed through build/fuzz/cov/<target> "
                        "(default: out/fuzz/corpus/<target>, else corpora/<target>)")
    return p
