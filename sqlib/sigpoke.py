"""sigpoke as an injector: time-bounded sweeps of the runtime's signal
windows, each unsafe instruction a finding with the command that replays it.

  windows()                    the runtime's named windows (the contract's
                               SQ_WINDOWS): attach, detach, syscall,
                               sighandler -> Window
  program(bdir, window)        the argv that runs a window over and over:
                               BDIR/ntests/sp_window in the window's mode
  check(bdir)                  why sweeps cannot run here, or None
  sweep(argv, env, window, budget_seconds, outdir, seed=None, sample=None)
                               -> Findings (a list of Finding)
  replay(finding)              run a finding's reproducer again -> (class,
                               message) of that one poke

A sweep runs tools/sigpoke (docs/sigpoke.md) once, bounded: --max-seconds
stops it starting pokes after budget_seconds (a poke under way finishes,
so it ends at most two handler timeouts and a settle later, and the run is
killed with its process group past that), and with a seed it pokes only
`sample` instructions drawn from that seed (sigpoke's --sample/--seed), so
that successive jobs with successive seeds cover different parts of a
window. Every random choice comes from the seed the caller passes.

What is judged comes from sigpoke's records (--records), never from its
table: a poke whose class is a finding in the oracle's vocabulary
(sqlib.outcome) becomes a Finding; sigpoke itself failing is one finding of
class harness-error. The program's environment is passed with sigpoke's -E,
so a reproducer is one self-contained command line.
"""
import os
import shlex
import tempfile
from dataclasses import dataclass

from . import BUILD, contract, outcome, proc, records, targets

SIGPOKE = os.path.join(BUILD, "tools", "sigpoke")
SIGNAL = "SIGURG"
TIMEOUT_MS = 2000	# sigpoke's -t (its default): a delivery, a handler's return
SAMPLE = 32		# instructions a seeded sweep pokes, unless told
GRACE = 10		# seconds past the bound before the sweep is killed


@dataclass(frozen=True)
class Window:
    name: str
    functions: tuple	# the runtime's functions, swept with their inlined copies
    mode: str		# the sp_window mode that runs them
    comm: str		# the thread to poke there, "" for any
    doc: str


def windows():
    """name -> Window, in the contract's order."""
    return {w["name"]: Window(w["name"], tuple(w["functions"]), w["mode"], w["comm"], w["doc"])
            for w in contract.windows()}


def window(name):
    ws = windows()
    if name not in ws:
        raise KeyError(f"unknown window {name!r}; one of: {', '.join(ws)}")
    return ws[name]


def program(bdir, win):
    """The argv of the runtime's window program (runtime/tests/sp_window.c,
    the normal flavour: the instructions that ship) that runs win."""
    win = window(win) if isinstance(win, str) else win
    return [os.path.join(bdir, "ntests", "sp_window"), win.mode]


def check(bdir=None, sigpoke=SIGPOKE):
    """Why sigpoke sweeps cannot run here (None when they can): it traces
    host x86-64 programs with ptrace."""
    if targets.HOST_ARCH != "x86_64":
        return f"sigpoke runs on x86-64 only, not {targets.HOST_ARCH}"
    if not os.access(sigpoke, os.X_OK):
        return f"{sigpoke} not built (make tools)"
    if bdir and not os.access(program(bdir, next(iter(windows())))[0], os.X_OK):
        return f"{bdir}/ntests/sp_window not built (make)"
    return None


@dataclass
class Finding:
    """One unsafe instruction: what happened there, and how to do it again."""
    window: str
    cls: str		# the oracle's class (sqlib.outcome)
    message: str
    func: str		# the window function ("dropm")
    strip: str		# its copy ("dropm@sq_callback")
    loc: str		# sym+0xoff, what --at takes
    addr: str		# link-time address, hex
    insn: str
    delivery: str	# at, deferred, undelivered, ...
    delivered_at: str
    reproducer: list	# argv: sigpoke --at LOC ... -- PROGRAM ARGS
    log: str = ""	# the program's output in the run that found it

    def command(self):
        return " ".join(shlex.quote(a) for a in self.reproducer)

    def signature(self):
        """What makes two findings the same: class, message, and the window
        function whose copy the instruction is in."""
        return outcome.signature(self.cls, self.message) + f" | sigpoke {self.window}:{self.func}"

    def record(self):
        """The finding as a campaign record, with the members
        campaign.execute's records have (job, label, class, message,
        signature, command, stdout, stderr: the program's output in the
        run that found it)."""
        job = {"injector": "sigpoke", "window": self.window, "loc": self.loc, "addr": self.addr,
               "strip": self.strip, "insn": self.insn, "delivery": self.delivery,
               "delivered_at": self.delivered_at, "argv": self.reproducer}
        return {"job": job, "label": f"sigpoke/{self.window}@{self.loc}", "class": self.cls,
                "message": self.message, "signature": self.signature(), "command": self.command(),
                "stdout": "", "stderr": _tail(self.log)}


class Findings(list):
    """sweep()'s answer: the findings, plus what the sweep covered."""

    def __init__(self, items=(), summary=None, command=(), run=None):
        super().__init__(items)
        self.summary = summary or {}	# sigpoke's summary record
        self.command = list(command)
        self.run = run			# proc.Run of sigpoke itself


@dataclass
class _Opts:
    signal: str = SIGNAL
    comm: str = ""
    timeout_ms: int = TIMEOUT_MS


def _envflags(env):
    out = []
    for k, v in sorted((env or {}).items()):
        out += ["-E", f"{k}={v}"]
    return out


def _common(o):
    """Options a sweep and its replays share: what the poke is."""
    out = ["--signal", o.signal] + (["--comm", o.comm] if o.comm else [])
    return out + (["--timeout", str(o.timeout_ms)] if o.timeout_ms != TIMEOUT_MS else [])


def reproducer(loc, argv, env, o, sigpoke=SIGPOKE):
    """The one-poke command for loc (what sigpoke's replay.sh holds)."""
    return [sigpoke, "--at", loc] + _common(o) + _envflags(env) + ["--"] + list(argv)


def sweep(program_argv, env, win, budget_seconds, outdir, seed=None, sample=None, signal=SIGNAL,
          comm=None, timeout_ms=TIMEOUT_MS, sigpoke=SIGPOKE):
    """Sweep win (a name or a Window) in program_argv, run with env added,
    for at most budget_seconds; sigpoke's output goes to outdir. With seed,
    poke `sample` instructions (default SAMPLE) drawn from it. comm: the
    thread to poke (default: the window's). Returns Findings."""
    w = window(win) if isinstance(win, str) else win
    o = _Opts(signal, w.comm if comm is None else comm, timeout_ms)
    os.makedirs(outdir, exist_ok=True)
    recfile = os.path.join(outdir, "records.jsonl")
    cmd = ([sigpoke, "-q", "-o", outdir, "--records", recfile, "-w", ",".join(w.functions),
            "--max-seconds", f"{budget_seconds:g}"] + _common(o) + _envflags(env)
           + (["--sample", str(sample or SAMPLE), "--seed", str(seed)] if seed is not None else [])
           + ["--"] + list(program_argv))
    limit = budget_seconds + 2 * timeout_ms / 1000 + GRACE
    run = proc.run(cmd, env=proc.clean_env(), timeout=limit)
    recs = _records(recfile) if run.rc in (0, 1) and not run.timed_out else []
    summary = records.first(recs, "summary")
    if summary is None:
        return Findings([_failed(w, run, cmd)], {}, cmd, run)
    found = [_finding(w, r, program_argv, env, o, outdir, sigpoke)
             for r in records.of(recs, "poke") if outcome.is_finding(r["class"])]
    return Findings(found, summary, cmd, run)


def _tail(path, limit=65536):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-limit:]
    except OSError:
        return ""


def _records(path):
    try:
        with open(path) as f:
            return records.parse(f.read())
    except OSError:
        return []


def _finding(w, r, argv, env, o, outdir, sigpoke):
    log = os.path.join(outdir, "logs", f"run-{r['run']:03d}.log") if r.get("run") else ""
    return Finding(w.name, r["class"], r["message"], r["func"], r["strip"], r["loc"], r["addr"],
                   r["insn"], r["delivery"], r["delivered_at"] or "",
                   reproducer(r["loc"], argv, env, o, sigpoke), log)


def _failed(w, run, cmd):
    """sigpoke itself failed (exit 2 or 3, or killed past its bound): one
    harness-error whose reproducer is the sweep itself."""
    why = "sigpoke timed out" if run.timed_out else f"sigpoke exit status {run.rc}"
    lines = [l for l in run.stderr.splitlines() if l.strip()]
    said = next((l for l in lines if l.startswith("sigpoke: ")), lines[0] if lines else "")
    return Finding(w.name, "harness-error", f"{why}: {said}" if said else why,
                   "", "", "", "", "", "", "", list(cmd))


def replay(finding, timeout=120):
    """Run finding's reproducer again: (class, message) of its one poke, as
    sigpoke's records say ("harness-error" if sigpoke could not run it).
    Output-only options go in front of the reproducer's own."""
    with tempfile.TemporaryDirectory(prefix="sigpoke-replay-") as tmp:
        recfile = os.path.join(tmp, "records.jsonl")
        argv = finding.reproducer
        cmd = [argv[0], "-q", "--records", recfile] + argv[1:]
        run = proc.run(cmd, env=proc.clean_env(), timeout=timeout)
        pokes = records.of(_records(recfile), "poke")
    if run.timed_out or run.rc not in (0, 1) or len(pokes) != 1:
        return "harness-error", f"replay failed: exit status {run.rc}"
    return pokes[0]["class"], pokes[0]["message"]
