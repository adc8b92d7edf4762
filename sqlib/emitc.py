"""Stand-alone C reproductions: a finding as a short program against the
target's public API, with no harness in it (no scenario.h, no sqlib).

  stackquake repro --emit-c FINDING.json [-o PATH] [--check N]

The program is the finding's scenario mode (sqlib/templates/<scenario>.<mode>.c,
written from harness/<scenario>.c: the same calls in the same order, so an
arm on the Nth hit of a site lands where it landed in the scenario),
specialised with the finding's seed (the scenario's random draws are the
harness's xorshift from it), iterations, threads, storm, schedule and the
runtime's settings (SQ_FAULT for the arms), on top of a prelude per target:

  sq         sq.h and sq_harness.h, linked with build/<variant>/libsq-harness.a;
             one file, PATH (default FINDING.c) and one clang line
  go, gccgo  the same C over a small Go file built as a C archive
             (sqlib/templates/go/repro.go: an export per call, as harness/go
             does); a directory, PATH (default FINDING-<target>/), with
             repro.c, golib/ and build.sh

The header comment says what the finding is, how to build and run it and
how a run that reproduces it ends. --check N builds it and runs it N times,
judging each run with the campaign's oracle against the finding's class
and message (exit 0 when all N reproduce).
"""
import os
import re
import subprocess
import sys

from . import ROOT, Usage, contract, outcome, proc
from . import campaign

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
GO = "/usr/lib/go-1.19/bin/go"
GCCGO_GO = "/usr/bin/go-12"
GCCGO = "/usr/bin/gccgo-12"
# The runtime's split check, per mode, as mk/split.mk compiles and links it:
# (compile flags, link flags). Which mode a library was built in is read
# from the library itself (split_mode).
SPLIT_FLAGS = {"tcb": ("-Xclang -fsplit-stack", " -fuse-ld=bfd"),
               "hook": ("-finstrument-function-entry-bare", "")}


def split_mode(lib):
    """tcb if the library defines the runtime's own __morestack, else hook."""
    r = subprocess.run(["nm", "--defined-only", lib], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True)
    return "tcb" if re.search(r" T __morestack$", r.stdout, re.M) else "hook"


def template_for(scenario, mode):
    return os.path.join(TEMPLATES, f"{scenario}.{mode}.c")


def modes():
    """(scenario, mode) pairs that have a template."""
    out = []
    for f in sorted(os.listdir(TEMPLATES)):
        m = re.fullmatch(r"(sc_[a-z0-9_]+)\.([a-z0-9_-]+)\.c", f)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def _read(name):
    with open(os.path.join(TEMPLATES, name)) as f:
        return f.read()


def _directives(text):
    """The template's "//! key value" lines, and the text without them."""
    d, body = {}, []
    for line in text.splitlines(keepends=True):
        m = re.match(r"//! (\w+) ?(.*)$", line)
        if m:
            d[m.group(1)] = m.group(2).strip()
        else:
            body.append(line)
    return d, "".join(body)


# Without a storm: its calls, and the thread slots only it reads.
STORM_LINE = re.compile(r"^\s*(storm_start|storm_end|target|untarget)\(.*\);.*\n|^\s*storm_nsigs = .*\n"
                        r"|^\s*int slot = \(int\)\(long\)arg;\n", re.M)


def _conditional(text, flags):
    """Keep a "//@if NAME" ... "//@endif" block when flags[NAME]; drop the markers."""
    out, keep = [], [True]
    for line in text.splitlines(keepends=True):
        m = re.match(r"//@if (\w+)\s*$", line)
        if m:
            keep.append(keep[-1] and bool(flags.get(m.group(1))))
        elif re.match(r"//@endif\s*$", line):
            keep.pop()
        elif keep[-1]:
            out.append(line)
    return "".join(out)


def _cstr(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rel(path):
    p = os.path.abspath(path)
    return os.path.relpath(p, ROOT) if p.startswith(ROOT + os.sep) else p


class Emitted:
    """What emit() wrote: the files, the one-line build command (run from
    the stackquake tree), the program, how to run it, and the finding."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def settings_of(d):
    """The runtime's settings a finding ran with: its env (harness settings
    taken out: SC_SCHED becomes the program's picker, SC_MAPSTACK its
    MAP_STACK stacks) and SQ_FAULT for its arms."""
    env = dict(d.get("env") or {})
    sched = int(env.pop("SC_SCHED", 0) or 0)
    env.pop("SC_MAPSTACK", None)
    if d.get("arms"):
        env["SQ_FAULT"] = ",".join(d["arms"])
    return env, sched


def emit(d, path=None, source=None, under=None):
    """Write the program for finding d (a reproducer dict); returns Emitted."""
    runtime = d.get("target", "sq")
    variant = d.get("variant", "fixed")
    s, m = d["scenario"], d["mode"]
    if d.get("injector") == "sigpoke":
        raise Usage("emit-c: a sigpoke finding is a signal at one instruction, delivered by ptrace: "
                    "it replays through sigpoke (stackquake repro), not as a program of its own")
    if d.get("axes"):
        raise Usage(f"emit-c: the finding runs under environment axes ({d['axes']}): the axis is the "
                    f"program's world, not its code; see docs/findings/ for hand-written reproductions")
    tpath = template_for(s, m)
    if not os.path.exists(tpath):
        raise Usage(f"emit-c: no template for {s} mode {m} (sqlib/templates/)")
    if d.get("on", "local") not in ("local", None):
        raise Usage(f"emit-c: the finding ran on {d['on']}; the program is built for this host "
                    f"(replay it there with ./stackquake repro --on)")
    if under is None:
        under = campaign.Under(runtime, variant, "local")
    desc = under.scenarios[s]
    directives, body = _directives(open(tpath).read())
    if runtime != "sq" and (directives.get("arms") or directives.get("only") == "sq"):
        raise Usage(f"emit-c: {s} mode {m} needs what {runtime} does not have (the scenario skips there)")
    env, sched = settings_of(d)
    if runtime != "sq" and sched:
        raise Usage("emit-c: SC_SCHED is our runtime's picker; a Go finding has no schedule to pin")
    iters = d.get("iters") or desc.campaign_iters
    threads = d.get("threads") or desc.threads or 1
    stackcheck = d.get("injector") == "stackcheck"
    expect = directives.get("expect", "clean").split()
    exp_fatal = f',\\"fatal\\":\\"{expect[1].lower()}\\"' if len(expect) > 1 else ""
    subst = {
        "@SEED@": str(d.get("seed", 1)), "@ITERS@": str(iters), "@THREADS@": str(threads),
        "@SCHED@": str(sched),
        "@MAPSTACK@": "1" if stackcheck else "0", "@SCENARIO@": s,
        "@EXPECT_OUTCOME@": expect[0], "@EXPECT_FATAL@": exp_fatal,
        "@SETTINGS_C@": "".join(f"\t{{ {_cstr(k)}, {_cstr(v)} }},\n" for k, v in sorted(env.items())),
    }
    # A scenario's own helpers, shared by its modes' templates (sc_locked's
    # ring, where the mode uses it).
    if directives.get("uses") == "locked":
        body = _conditional(_read("locked.c"), {"ring": "ring_turns(" in body}) + body
    # The storm, where the scenario starts one (sc_syscall, sc_sigstack: none).
    storm = d.get("injector") == "storm" and "storm_start(" in body
    if not storm:
        body = STORM_LINE.sub("", body)
    flags = {"storm": storm, "sched": bool(sched), "rand": "randn(" in body, "threads": "nthreads" in body,
             "iters": re.search(r"\biters\b", body) is not None,
             "quiesce": bool(re.search(r"finish\([^;]*, 1\);", body)),
             "callback": "callback(" in body, "leak": "res_read(" in body,
             "idlestop": "idle_stop(" in body}
    flags["mono"] = storm or "mono_ns(" in body
    flags["violation"] = flags["callback"] or flags["leak"] or "violation(" in body
    code = _read("prelude_sq.c" if runtime == "sq" else "prelude_go.c") + _read("common.c")
    if directives.get("uses") == "cstack":
        code += _read("cstack.c")
    code = _conditional(code, flags) + "\n" + body
    for k, v in subst.items():
        code = code.replace(k, v)
    left = re.findall(r"@[A-Z_]+@", code)
    if left:
        raise RuntimeError(f"emit-c: template {tpath} left {left} unfilled")
    libs = "-lpthread" + (" -lboost_context" if directives.get("uses") == "cstack" else "")
    # sc_preempt's register loop: the harness's own assembly, built with it.
    arch = os.uname().machine
    extra = (f" -I harness/arch/{arch} harness/arch/{arch}/regloop.S"
             if directives.get("uses") == "regloop" else "")
    base = os.path.abspath(path) if path else None
    if runtime == "sq":
        cfile = base or _default_base(source, d) + ".c"
        exe = cfile[:-2] if cfile.endswith(".c") else cfile + ".bin"
        lib = os.path.join(under.bdir, "libsq-harness.a")
        cf, lf = SPLIT_FLAGS[split_mode(lib)]
        build = (f"clang -O2 -g -std=gnu11 {cf} -I runtime/include{extra} {_rel(cfile)} {_rel(lib)} "
                 f"{libs}{lf} -o {_rel(exe)}")
        files = [cfile]
        built_by = f"libsq-harness.a of build/{variant}/ (make{'' if variant == 'fixed' else ' REGRESS=' + variant})"
    else:
        ddir = base or _default_base(source, d) + f"-{runtime}"
        os.makedirs(os.path.join(ddir, "golib"), exist_ok=True)
        cfile = os.path.join(ddir, "repro.c")
        exe = os.path.join(ddir, "repro")
        with open(os.path.join(ddir, "golib", "go.mod"), "w") as f:
            f.write("module repro\n\ngo 1.18\n")
        with open(os.path.join(ddir, "golib", "repro.go"), "w") as f:
            f.write(_read(os.path.join("go", "repro.go")))
        goenv = "GOPROXY=off GOFLAGS=-mod=readonly CGO_ENABLED=1 GOCACHE=${GOCACHE:-/tmp/repro-gocache}"
        if runtime == "go":
            build = (f"cd {_rel(ddir)} && (cd golib && {goenv} {GO} build -buildmode=c-archive -o ../lib.a .) "
                     f"&& clang -O2 -g repro.c lib.a {libs} -o repro")
        else:
            build = (f"cd {_rel(ddir)} && (cd golib && {goenv} GCCGO={GCCGO} {GCCGO_GO} build -compiler gccgo "
                     f"-buildmode=c-archive -o ../lib.a .) && {GCCGO} -O2 -g repro.c lib.a {libs} -o repro")
        with open(os.path.join(ddir, "build.sh"), "w") as f:
            f.write(f"#!/bin/sh\n# Build ./repro offline (Debian's {'golang-1.19-go' if runtime == 'go' else 'gccgo-12'}),"
                    f" from the stackquake tree.\nset -eu\n{build}\n")
        files = [cfile, os.path.join(ddir, "golib", "repro.go"), os.path.join(ddir, "build.sh")]
        built_by = f"the Go side in golib/ ({under.version}), a C archive"
    run = ([os.path.join(campaign.BUILD, "tools", "stackcheck"), "-q", "--"] if stackcheck else []) + [exe]
    header = _header(d, source, s, m, desc, iters, threads, sched, env, built_by, build, run, directives)
    with open(cfile, "w") as f:
        f.write(header + code)
    return Emitted(files=files, cfile=cfile, exe=exe, build=build, run=run, finding=d, under=under,
                   runtime=runtime)


def _default_base(source, d):
    if source:
        return source[:-5] if source.endswith(".json") else source
    return os.path.join(os.getcwd(), f"{d['scenario']}-{d['mode']}-{d.get('seed', 1)}")


def _header(d, source, s, m, desc, iters, threads, sched, env, built_by, build, run, directives):
    sett = ", ".join(f"{k}={v}" for k, v in sorted(env.items())) or "none"
    how = []
    if d.get("injector") == "storm":
        how.append("a storm thread signalling every caller thread (SIGURG, SIGPROF, SIGUSR1)")
    if sched:
        how.append(f"schedule {sched} (one P; each choice of the next G drawn from it)")
    if d.get("injector") == "stackcheck":
        how.append("run under stackcheck (OpenBSD's MAP_STACK rule), C stacks mapped MAP_STACK")
    fatal = f'"{outcome_line(d)}" on stderr' if d["class"] in ("unexpected-fatal", "expected-fatal") else d["class"]
    lines = [
        f"{os.path.basename(source or 'finding')}: a stand-alone reproduction, written by",
        "`stackquake repro --emit-c` (no harness in it: the target's public API only).",
        "",
        f"  finding   {d['class']}: {d.get('message', '')}",
        f"  runtime   {d.get('target', 'sq')}" + (f", variant {d.get('variant')}" if d.get("target", "sq") == "sq" else ""),
        f"  scenario  harness/{s}.c, mode {m}: {desc.what}",
        f"  replay    seed {d.get('seed', 1)}, {iters} iterations, {threads} threads",
        f"  settings  {sett}",
    ]
    if how:
        lines.append(f"  also      {'; '.join(how)}")
    if d.get("derandomized"):
        dr = d["derandomized"]
        lines.append(f"  found     {dr.get('original')} (replayed {dr.get('original_replays')}); "
                     f"derandomized: replays {dr.get('replays')}")
    lines += ["", f"Build (from the stackquake tree; {built_by}):", f"  {build}",
              f"Run: {' '.join(_rel(x) if os.path.isabs(x) else x for x in run)}",
              f"It reproduces when it ends with {fatal}; otherwise it prints PASS and exits 0."]
    return "/*\n" + "".join(f" * {l}".rstrip() + "\n" for l in lines) + " */\n"


def outcome_line(d):
    return "fatal error: " + d.get("message", "") if d.get("target", "sq") == "sq" else d.get("message", "")


# ---- building and checking ------------------------------------------------------------

def build(em, timeout=600):
    """Build an emitted program with its own command line; (ok, output)."""
    env = proc.clean_env()
    r = subprocess.run(["sh", "-c", em.build], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, env=env, timeout=timeout)
    return r.returncode == 0 and os.path.exists(em.exe), r.stdout


def judge(em, rc, out, err, timed_out):
    """The campaign's oracle on one run of the program: (class, message)."""
    d = em.finding
    return outcome.classify(rc, out, err, timed_out, em.under.fatals, contract.owed_fatals(d.get("arms", [])),
                            armed=bool(d.get("arms")), timeout=campaign.WATCHDOG,
                            under_stackcheck=d.get("injector") == "stackcheck")


def check(em, times):
    """Run the program times times; (how many reproduced, the classes seen)."""
    from .derand import same_as
    d = em.finding
    label = campaign.Job.from_json(d).label()
    same = same_as(d["class"], d.get("message", ""), em.runtime, label)
    k, seen = 0, {}
    for _ in range(times):
        r = proc.run(em.run, proc.clean_env(), campaign.WATCHDOG, progress=None)
        cls, msg = judge(em, r.rc, r.stdout, r.stderr, r.timed_out)
        key = f"{cls}: {outcome.blank(msg)}"
        first = seen.setdefault(key, [f"{cls}: {msg}", 0])
        first[1] += 1
        k += same({"class": cls, "message": msg, "label": label})
    return k, [(n, text) for text, n in seen.values()]


def cmd_emit(a):
    """stackquake repro --emit-c FINDING [-o PATH] [--check N]."""
    from .derand import load
    d = load(a.file)
    em = emit(d, a.output, a.file)
    print(f"wrote {', '.join(_rel(f) for f in em.files)}")
    print(f"build: {em.build}")
    print(f"run:   {' '.join(_rel(x) for x in em.run)}")
    if not a.check:
        return 0
    ok, log = build(em)
    if not ok:
        print(log[-4000:], file=sys.stderr)
        print("emit-c: the program did not build")
        return 1
    k, seen = check(em, a.check)
    for n, text in sorted(seen, reverse=True):
        print(f"  {n} x {text}")
    print(f"reproduced {k}/{a.check} ({d['class']}: {d.get('message', '')})")
    return 0 if k == a.check else 1


def add_arguments(p):
    """The repro subcommand's options for this module."""
    p.add_argument("--emit-c", action="store_true",
                   help="write a stand-alone C program that reproduces the finding (sqlib/emitc.py)")
    p.add_argument("-o", "--output", help="with --emit-c: where (a .c file; a directory for Go targets)")
    p.add_argument("--check", type=int, default=0, metavar="N",
                   help="with --emit-c: build it and run it N times; exit 0 when all N reproduce")
