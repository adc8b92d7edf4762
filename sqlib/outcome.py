"""The oracle: how a run ended, in one vocabulary for every driver.

Classes (a finding is any class not in GOOD):
  clean             ran to completion, exit 0
  expected-fatal    the fatal error the program declared, or one a correct
                    runtime owes for what was armed (the contract's rules)
  unexpected-fatal  any other fatal error of the target's runtime
  crash             killed by a signal, or an exit status nobody declared
  hang              the watchdog fired (the group got SIGABRT: a dump)
  invariant         a self-check of the runtime or of the program failed
  wrong-result      the program's own check failed, or a declared fatal
                    error never came
  stackcheck-kill   stackcheck killed it: OpenBSD would have (MAP_STACK)
  leak              a resource grew per cycle beyond the stated bound
  skipped           the target cannot run this (the program said why)
  harness-error     the harness itself failed (could not start the program)

The C programs that classify by themselves (the fuzz interpreter's
findings, sigpoke's pokes) use these names too.
"""
import re
import signal

from . import records

CLASSES = ("clean", "expected-fatal", "unexpected-fatal", "crash", "hang", "invariant",
           "wrong-result", "stackcheck-kill", "leak", "skipped", "harness-error")
GOOD = ("clean", "expected-fatal", "skipped")
SHORT = {"clean": "clean", "expected-fatal": "exp", "unexpected-fatal": "fatal", "crash": "crash",
         "hang": "hang", "invariant": "inv", "wrong-result": "wrong", "stackcheck-kill": "sckill",
         "leak": "leak", "skipped": "skip", "harness-error": "herr"}

KILL_RE = re.compile(r"^stackcheck: KILL .*$", re.M)
DETAIL_RE = re.compile(r"^runtime: (.*)$", re.M)
# A scenario's event line for people ("[sc] ...", harness/scenario.h): one
# write, so always whole, but it may land inside a fatal error that the
# runtime writes in pieces (Go prints "fatal error: " and the message with
# separate writes): "fatal error: [sc] CALLS ok=600 bad=0\nunexpected signal...".
EVENT_RE = re.compile(r"\[sc\] [^\n]*\n")


def is_finding(cls):
    return cls not in GOOD


def signame(n):
    try:
        return signal.Signals(n).name
    except ValueError:
        return f"signal {n}"


def blank(text):
    """Addresses, ranges and numbers blanked: what stays the same run to run."""
    return re.sub(r"0x[0-9a-f]+|[0-9a-f]{8,}-[0-9a-f]{8,}|\d+", "#", text)


def signature(cls, message, stderr=""):
    """What makes two findings the same: class, message, and the first
    detail line the runtime printed, numbers blanked."""
    m = DETAIL_RE.search(stderr or "")
    detail = blank(m.group(1)) if m else ""
    return f"{cls}: {blank(message)}" + (f" | {detail}" if detail else "")


class FatalTable:
    """A target's fatal errors (sqt_fatals: key, prefix, message, class),
    matched against the lines of a run's stderr. A line is a row's when it
    starts with the row's prefix and message (Go's messages go on with
    numbers: "goroutine stack exceeds 1000000000-byte limit"); the longest
    match wins. A line with a fatal prefix ("fatal error: ", "fatal: ") and
    no row is a fatal error the table does not know."""

    def __init__(self, rows):
        self.rows = sorted(rows, key=lambda r: len(r["prefix"] + r["message"]), reverse=True)
        self.prefixes = sorted({r["prefix"] for r in self.rows if r["prefix"].startswith("fatal")},
                               key=len, reverse=True)

    def match(self, line):
        """(row or None, message) if line is one of the target's fatal
        errors, or looks like one (a fatal prefix, unknown message)."""
        for r in self.rows:
            if line.startswith(r["prefix"] + r["message"]):
                return r, line[len(r["prefix"]):]
        for p in self.prefixes:
            if line.startswith(p):
                return None, line[len(p):]
        return None

    def find(self, stderr):
        """The first fatal error in stderr: (row or None, message), or None.
        The scenario's own event lines are taken out first, wherever they
        landed."""
        for line in EVENT_RE.sub("", stderr or "").splitlines():
            m = self.match(line)
            if m:
                return m
        return None


def _died_of(rc, under_stackcheck=False):
    """The signal a run died of (a shell wrapper says 128 + n), or 0."""
    if rc is None:
        return 0
    if rc < 0:
        return -rc
    return rc - 128 if rc > 128 else 0


def _wrong(stdout, recs):
    failed = [c for c in records.of(recs, "envcheck") if not c.get("ok")]
    if failed:
        return f"environment axis {failed[0]['axis']}: {failed[0]['detail']}"
    return next((l for l in stdout.splitlines() if l.startswith("FAIL")), "exit 1")


def _by_axis(env, rc, fatal, stdout, stderr, recs, under_stackcheck):
    """A run under an environment axis that owes a death (envaxes.h):
    signal: dies of the axis's signal, no fatal error of the runtime's own;
    crash: dies of it, or of a fatal error of class crash;
    death: any fatal error or signal, not clean."""
    want, sig = env["expect"], env.get("signal", 0)
    died = _died_of(rc, under_stackcheck)
    row, msg = fatal if fatal else (None, "")
    how = f"killed by {signame(died)}" if died else f"exit status {rc}"
    if want == "signal" and died == sig and not fatal:
        return "expected-fatal", f"{how}, as the axis owes"
    if want == "crash" and (died == sig or (row and row["class"] == "crash")):
        return "expected-fatal", msg or f"{how}, as the axis owes"
    if want == "death" and (fatal or died):
        return "expected-fatal", msg or how
    if fatal:
        return "unexpected-fatal", msg
    if died:
        return "crash", how
    if rc == 1:
        return "wrong-result", _wrong(stdout, recs)
    if rc not in (0, None):
        return "crash", f"exit status {rc}"
    return "wrong-result", (f"the environment axis owed a death ({want}"
                            f"{' by ' + signame(sig) if sig else ''}); the program ran to completion")


def classify(rc, stdout, stderr, timed_out, fatals, owed=(), armed=False, timeout=None,
             under_stackcheck=False):
    """The class and message of one scenario run. fatals: the target's
    FatalTable; owed: fatal keys the armed sites are owed (contract rules);
    armed: some site was armed (a declared fatal may then not come)."""
    if timed_out:
        return "hang", f"watchdog: no progress for {timeout}s" if timeout else "watchdog fired"
    kill = KILL_RE.search(stderr or "")
    if kill:
        return "stackcheck-kill", re.sub(r"pid=\d+ tid=\d+ ", "", kill.group(0))
    recs = records.parse(stdout) + records.parse(stderr)
    expects = records.of(recs, "expect")
    declared = {e.get("fatal") for e in expects if e.get("outcome") == "fatal"}
    skip = records.first(recs, "skip")
    if skip:	# the mode never ran: what an environment axis says is moot
        return "skipped", skip.get("reason", "")
    f = fatals.find(stderr)
    env = records.first(recs, "env")
    if env and env.get("expect", "scenario") != "scenario":
        if f and f[0] and f[0]["key"] in declared | set(owed):
            return "expected-fatal", f[1]	# the scenario's own end came first
        return _by_axis(env, rc, f, stdout, stderr, recs, under_stackcheck)
    if f:
        row, msg = f
        key = row["key"] if row else None
        return ("expected-fatal" if key and key in declared | set(owed) else "unexpected-fatal"), msg
    if rc is None:
        return "harness-error", "the program did not start"
    if rc < 0:
        return "crash", "killed by " + signame(-rc)
    if rc >= 128 and under_stackcheck:
        return "crash", "killed by " + signame(rc - 128)
    v = records.first(recs, "violation")
    if v and rc == 3:	# an outside oracle (harness/outside.h)
        if v["oracle"] == "leak":
            return "leak", v["detail"]
        return "invariant", f"{v['oracle']}: {v['detail']}"
    inv = records.first(recs, "invariant")
    if rc == 3 or inv or "invariant: " in (stderr or ""):
        line = next((l for l in stderr.splitlines() if l.startswith("invariant: ")), "exit status 3")
        return "invariant", line.removeprefix("invariant: ")	# the class says it
    if rc == 1:
        return "wrong-result", _wrong(stdout, recs)
    if rc != 0:
        return "crash", f"exit status {rc}"
    if declared and not any(e.get("outcome") == "clean" for e in expects) and not armed:
        return "wrong-result", "expected a fatal error, ran to completion"
    return "clean", ""
