"""The runtime's contract, read from its one source.

build/contract.json is what runtime/describe.c prints from
runtime/include/sq_contract.h (`make contract`); it is remade here when it
is missing or older than the header. Nothing in Python retypes a variant,
a fault site, an action, a fatal message or an arm rule: it asks this
module.

Each scenario program says what it is and how its target dies
(`sc_x --describe`, records "info", "target", "fatal"); describe() runs it
once per build of the program and caches the answer beside it.
"""
import functools
import json
import os
import subprocess

from . import BUILD, ROOT, Usage, records

JSON = os.path.join(BUILD, "contract.json")
_SOURCES = [os.path.join(ROOT, "runtime", "include", "sq_contract.h"),
            os.path.join(ROOT, "runtime", "describe.c")]


def _stale():
    if not os.path.exists(JSON):
        return True
    t = os.path.getmtime(JSON)
    return any(os.path.exists(s) and os.path.getmtime(s) > t for s in _SOURCES)


@functools.lru_cache(maxsize=None)
def load():
    """The contract as a dict (variants, fatals, contexts, sites, actions,
    verdicts, windows, arms)."""
    if _stale():
        r = subprocess.run(["make", "--no-print-directory", "-C", ROOT, "contract"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise Usage(f"cannot build the contract (make contract):\n{r.stdout[-2000:]}")
    with open(JSON) as f:
        return json.load(f)


def variants(arch=None):
    """Variant names; with arch, only those an arch build can show."""
    return [v["name"] for v in load()["variants"] if arch is None or v["arch"] in ("", arch)]


def variant_arch(name):
    """The one arch whose code holds the variant's mistake, or None."""
    for v in load()["variants"]:
        if v["name"] == name:
            return v["arch"] or None
    raise Usage(f"unknown variant {name!r}; one of: fixed, {', '.join(variants())}")


def check_variant(name):
    if name != "fixed":
        variant_arch(name)
    return name


def sites():
    return [s["name"] for s in load()["sites"]]


def actions():
    return [a["name"] for a in load()["actions"]]


def fatals():
    return load()["fatals"]


def windows():
    """The runtime's signal windows (SQ_WINDOWS): name, functions, the
    sp_window mode that runs them, the thread to poke (comm), doc."""
    return load()["windows"]


def fatal(key):
    for f in fatals():
        if f["key"] == key:
            return f
    raise KeyError(key)


@functools.lru_cache(maxsize=None)
def _arms():
    return {(a["site"], a["action"], a["every"]): (a["verdict"], a["fatal"]) for a in load()["arms"]}


def verdict(site, action, every=False):
    """(verdict, fatal key or None) for arming action at site."""
    try:
        return _arms()[(site, action, bool(every))]
    except KeyError:
        raise Usage(f"unknown site or action: {site}:{action}") from None


def parse_spec(spec):
    """"site:action[:N][:every][:SIG]" -> (site, action, every)."""
    parts = spec.split(":")
    if len(parts) < 2:
        raise Usage(f"bad fault spec {spec!r}: want site:action[:N][:every][:SIG]")
    return parts[0], parts[1], "every" in parts[2:]


def owed_fatals(arms):
    """Keys of the fatal errors a correct runtime owes for these armed specs."""
    out = set()
    for spec in arms:
        v, f = verdict(*parse_spec(spec))
        if v == "refused":
            out.add(f)
    return out


# ---- what a scenario program says of itself -----------------------------------

class Described:
    """A scenario program's --describe: info, its target, its fatal table."""

    def __init__(self, recs):
        info = records.first(recs, "info") or {}
        self.name = info.get("name")
        self.what = info.get("what", "")
        self.modes = (info.get("modes") or "").split("|")
        self.iters = info.get("iters")
        self.threads = info.get("threads")
        self.campaign_iters = info.get("campaign_iters")
        self.target = records.first(recs, "target") or {}
        self.fatals = records.of(recs, "fatal")
        self.axes = records.of(recs, "envaxis")


def describe(path, run):
    """Run `path --describe` (with run(cmd) -> (rc, out, err, timed_out): a
    target's run, sqlib/targets.py) once per build of the program; the
    answer is cached beside it."""
    st = os.stat(path)
    cache = path + ".describe.json"
    stamp = [st.st_mtime_ns, st.st_size]
    try:
        with open(cache) as f:
            c = json.load(f)
        if c.get("stamp") == stamp:
            return Described(c["recs"])
    except (OSError, ValueError):
        pass
    rc, out, err, _ = run([path, "--describe"])
    recs = records.parse(out)
    if rc != 0 or not records.first(recs, "info"):
        raise Usage(f"{path} --describe failed (exit {rc}): {err.strip()[-500:]}")
    try:
        with open(cache + ".tmp", "w") as f:
            json.dump({"stamp": stamp, "recs": recs}, f)
        os.replace(cache + ".tmp", cache)
    except OSError:
        pass
    return Described(recs)


def scenarios(harness_dir, run):
    """{name: Described} for every scenario program in harness_dir."""
    if not os.path.isdir(harness_dir):
        raise Usage(f"{harness_dir} is not built")
    out = {}
    for f in sorted(os.listdir(harness_dir)):
        p = os.path.join(harness_dir, f)
        if f.startswith("sc_") and "." not in f and os.access(p, os.X_OK):
            out[f] = describe(p, run)
    if not out:
        raise Usage(f"no scenario programs in {harness_dir}")
    return out
