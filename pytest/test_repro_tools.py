"""From finding to fix: derandomize, emit-c, bisect, coverage (sqlib/derand.py,
emitc.py, gitbisect.py, coverage.py)."""
import fcntl
import json
import os
import random
import re
import shutil
import subprocess

import pytest

import sqtest
from sqlib import campaign, contract, coverage, derand, emitc, gitbisect
from sqtest import ROOT

SQ = [os.path.join(ROOT, "stackquake")]
STORM_BUDGET = 20	# seconds of storm per variant to find a finding to derandomize
ATTACH_ARM = "minit.before_sigaltstack:signal:1:SIGURG"
NO_SIGSTACK = "signal arrived on a thread with no signal stack"


def sq(*args, timeout=900):
    return subprocess.run(SQ + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


def make(*args):
    """make in the tree, one at a time with every other worker's (sqtest's lock)."""
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    with open(os.path.join(ROOT, "build", ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        r = subprocess.run(["make", "--no-print-directory", "-j2", "-C", ROOT] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=sqtest.make_env())
    assert r.returncode == 0, r.stdout[-3000:]


@pytest.fixture(scope="session")
def scenarios_built(variant_runner):
    for v in ["fixed"] + sqtest.variants():
        variant_runner(v)
        make(*(["REGRESS=" + v] if v != "fixed" else []), "scenarios")
    make("contract", "tools")


def finding(tmp_path, name="f.json", **kw):
    d = {"scenario": "sc_attachsig", "mode": "unbound", "injector": "sites", "seed": 1, "arms": [ATTACH_ARM],
         "env": dict(derand.PINNED), "iters": 1, "threads": 1, "timeout": 20, "axes": "", "target": "sq",
         "variant": "attachsig", "on": "local", "class": "unexpected-fatal", "message": NO_SIGSTACK}
    d.update(kw)
    p = tmp_path / name
    p.write_text(json.dumps(d))
    return p


# ---- emit-c --------------------------------------------------------------------------

def test_every_scenario_mode_has_a_template():
    """The templates are written from the scenarios: one per mode, no more."""
    assert set(emitc.modes()) == set(sqtest.scenario_modes())


def test_every_storm_template_builds(tmp_path, scenarios_built):
    """Each mode's program with the storm written in builds and runs: the
    storm's helpers and a scenario's own (sc_locked's ring) go in once."""
    tdir = os.path.join(ROOT, "sqlib", "templates")
    storming = [(s, m) for s, m in sqtest.scenario_modes()
                if "storm_start(" in open(os.path.join(tdir, f"{s}.{m}.c")).read()]
    assert ("sc_locked", "sleep") in storming, storming
    for s, m in storming:
        f = tmp_path / f"{s}.{m}.json"
        f.write_text(json.dumps({"scenario": s, "mode": m, "injector": "storm", "seed": 3, "iters": 20,
                                 "target": "sq", "variant": "fixed", "on": "local", "class": "clean"}))
        r = sq("repro", "--emit-c", f, "--check", 1)
        assert "did not build" not in r.stdout + r.stderr and "reproduced" in r.stdout, \
            f"{s}/{m}:\n" + r.stdout[-2000:] + r.stderr[-2000:]


def test_sc_sched_is_a_checked_setting(scenarios_built):
    r = subprocess.run([os.path.join(ROOT, "build", "fixed", "harness", "sc_syscall"), "--iters", "1"],
                       env=dict(os.environ, SC_SCHED="soon"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    assert r.returncode == 64 and "SC_SCHED=soon: want a positive number" in r.stderr


def test_emit_c_refuses_what_it_cannot_write(tmp_path, scenarios_built):
    r = sq("repro", "--emit-c", finding(tmp_path, axes="segv-sent"))
    assert r.returncode == 2 and "environment axes" in r.stderr, r.stderr


def test_emit_c_of_a_storm_finding_reproduces(tmp_path, scenarios_built):
    """Not only derandomized findings: the storm comes along (and with it,
    chance: a storm's program reproduces some of the time)."""
    f = finding(tmp_path, injector="storm", arms=[], env={"SQ_MAXPROCS": "2"}, iters=3000, threads=None)
    r = sq("repro", "--emit-c", f, "--check", 5)
    assert int(r.stdout.rsplit("reproduced ", 1)[1].split("/")[0]) >= 1, r.stdout + r.stderr[-3000:]
    src = (tmp_path / "f.c").read_text()
    includes = {l.split()[1] for l in src.splitlines() if l.startswith("#include")}
    assert {i for i in includes if i.startswith('"')} == {'"sq.h"', '"sq_harness.h"'}, includes
    assert "storm_start();" in src


# ---- derandomize, then emit-c: every variant's storm finding ---------------------------------

# Variants whose window opens where an asynchronous preemption signal lands:
# no schedule pins that (the picker chooses Gs, not signal times), so their
# findings stay probabilistic; they must still replay and reproduce.
SIGNAL_TIMED = sqtest.SIGNAL_TIMED
# Their search cannot succeed: a short budget still replays the original.
SIGNAL_TIMED_BUDGET = 20
# Variants only an environment axis shows (handlers-plain), which emit-c
# does not write into its programs.
AXIS_ONLY = {"hostonstack"}


def reproduced(variant, out, cls):
    """How many of emit-c --check's runs reproduced: the same message, or,
    for SIGNAL_TIMED variants, the same class (the register that changed
    is the one the signal happened to catch)."""
    if variant not in SIGNAL_TIMED:
        return int(out.rsplit("reproduced ", 1)[1].split("/")[0])
    return sum(int(m.group(1)) for m in re.finditer(r"^ +(\d+) x ([a-z-]+):", out, re.M) if m.group(2) == cls)


def derandomized(variant, row):
    return row["status"] in ("derandomized", "deterministic") or \
        (variant in SIGNAL_TIMED and row["status"] in ("probabilistic", "improved"))

@pytest.mark.parametrize("variant", sqtest.variants())
def test_storm_finding_is_derandomized_and_emitted(variant, tmp_path, scenarios_built):
    if variant in SIGNAL_TIMED:
        pytest.skip(f"{variant}'s window is where a preemption signal lands: no arm or schedule pins it, "
                    "so there is nothing to derandomize; its campaign finding is emitted below")
    path, t, under = derand.storm_finding(variant, STORM_BUDGET, 1, str(tmp_path))
    if not path:
        pytest.skip(f"the storm found nothing on {variant} in {t:.0f}s (nothing to derandomize)")
    row = derand.derandomize(path, 180)
    assert derandomized(variant, row), row
    assert row["replays"] == f"{derand.REPLAYS}/{derand.REPLAYS}", row
    assert json.loads(open(path).read())["injector"] == "storm"	# the original is kept as it was
    reproducer = row["reproducer"]
    det = json.loads(open(reproducer).read())
    assert det["injector"] != "storm" and det["derandomized"]["original_replays"], det
    r = sq("repro", reproducer, "--times", 10)
    assert r.returncode == 0 and "10/10" in r.stdout, r.stdout + r.stderr[-2000:]
    r = sq("repro", "--emit-c", reproducer, "--check", 10)
    assert reproduced(variant, r.stdout, row["class"]) >= 9, r.stdout + r.stderr[-3000:]


@pytest.mark.parametrize("variant", sqtest.variants())
def test_campaign_finding_of_every_variant_is_emitted(variant, tmp_path, scenarios_built):
    """The campaign's own finding on each variant (what regress keeps):
    derandomized or minimized, and its C program reproduces it."""
    if variant in AXIS_ONLY:
        pytest.skip(f"{variant} shows only under an environment axis, which emit-c does not write")
    under = campaign.Under("sq", variant, "local")
    runs = (r for r in campaign.campaign_runs(random.Random(1), under) if not r["job"]["axes"])
    rec, t = campaign.first_detection(runs, 120)	# emit-c writes no environment axes
    assert rec, f"the campaign found nothing on {variant} in {t:.0f}s"
    path = tmp_path / f"{variant}.json"
    path.write_text(json.dumps(campaign.reproducer(rec, under)))
    row = derand.derandomize(str(path), SIGNAL_TIMED_BUDGET if variant in SIGNAL_TIMED else 120)
    assert derandomized(variant, row), row
    r = sq("repro", "--emit-c", row.get("reproducer", str(path)), "--check", 10)
    assert reproduced(variant, r.stdout, row["class"]) >= 9, \
        f"{rec['label']} -> {row}\n" + r.stdout + r.stderr[-3000:]


def test_a_finding_that_does_not_replay_stays_probabilistic(tmp_path, scenarios_built):
    f = finding(tmp_path, variant="fixed", injector="storm", arms=[], env={}, iters=10,
                **{"class": "crash", "message": "killed by SIGBUS"})
    row = derand.derandomize(str(f), 8)
    assert row["status"] == "probabilistic" and row["replays"].startswith("0/"), row
    assert not os.path.exists(derand.det_path(str(f)))


def test_derandomize_minimizes(tmp_path, scenarios_built):
    """From many iterations, threads and an every-hit arm to one of each."""
    f = finding(tmp_path, arms=[ATTACH_ARM.replace(":1:", ":every:")], iters=500, threads=4,
                env={"SQ_MAXPROCS": "2", "SQ_CALLBACK_BIND": "0"})
    r = sq("derandomize", f, "--budget", "120s")
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    det = json.loads((tmp_path / "f.det.json").read_text())
    assert det["iters"] == 1 and det["threads"] == 1 and det["arms"] == [ATTACH_ARM], det
    assert "SQ_CALLBACK_BIND" not in det["env"], det	# the mode unbinds by itself


# ---- bisect -----------------------------------------------------------------------------

def scratch_repo(dst):
    """The project's tree (as it is now) committed in a fresh repository,
    then: a commit that breaks the build, one harmless, one that fixes it,
    one that makes needm install g before the signal stack and dropm
    remove it after (the attachsig variant's order, unconditionally), one
    harmless. Returns the revs."""
    files = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], stdout=subprocess.PIPE,
                           check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        if os.path.isfile(os.path.join(ROOT, f)):
            os.makedirs(os.path.dirname(os.path.join(dst, f)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, f), os.path.join(dst, f))

    def git(*a):
        return subprocess.run(["git", "-C", dst, "-c", "user.name=t", "-c", "user.email=t@t"] + list(a),
                              stdout=subprocess.PIPE, check=True, text=True).stdout.strip()

    def commit(msg, path=None, old=None, new=None):
        if path:
            p = os.path.join(dst, path)
            s = open(p).read()
            assert old in s
            open(p, "w").write(s.replace(old, new, 1 if "error" in new else -1))
        git("add", "-A")
        git("commit", "-qm", msg)
        return git("rev-parse", "HEAD")

    git("init", "-q")
    revs = [commit("c0: the tree")]
    revs.append(commit("c1: breaks the build", "runtime/src/chan.c", "#include", "#error broken\n#include"))
    revs.append(commit("c2: README", "README.md", "# stackquake", "# stackquake (scratch)"))
    revs.append(commit("c3: fixes the build", "runtime/src/chan.c", "#error broken\n", ""))
    revs.append(commit("c4: needm installs g before the signal stack", "runtime/src/callback.c",
                       "REGRESS(ATTACHSIG)", "1"))
    revs.append(commit("c5: README again", "README.md", "(scratch)", "(scratch, again)"))
    return revs


def test_replays_per_revision_follow_the_rate():
    assert gitbisect.replays_for(1.0) == 3
    assert gitbisect.replays_for(0.5) == 7	# 0.5^7 < 1%
    assert gitbisect.replays_for(0.05) == 30
    for p in (0.2, 0.3, 0.6, 0.9):
        n = gitbisect.replays_for(p)
        assert (1 - p) ** n <= 0.01 and (n == 3 or (1 - p) ** (n - 1) > 0.01)


def test_bisect_finds_the_commit_that_introduced_the_bug(tmp_path, scenarios_built):
    repo = tmp_path / "repo"
    revs = scratch_repo(str(repo))
    f = finding(tmp_path, variant="fixed")
    out = tmp_path / "bisect.json"
    r = sq("bisect", "--repo", repo, "--good", revs[0], "--bad", revs[-1], f, "--out", out, timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["first_bad"] == revs[4], r.stdout
    assert f"first bad commit: {revs[4]} c4: needm installs g before the signal stack" in r.stdout
    verdicts = {e["rev"]: e["verdict"] for e in res["evidence"]}
    assert verdicts[revs[4]] == "bad" and verdicts.get(revs[3]) == "good", res["evidence"]
    assert all(e["verdict"] == "skip" for e in res["evidence"] if e["rev"] in revs[1:3]), res["evidence"]
    # The scratch work tree is gone, and the user's tree was never touched.
    assert subprocess.run(["git", "-C", repo, "worktree", "list"], stdout=subprocess.PIPE,
                          text=True).stdout.count("\n") == 1
    assert not (repo / "build").exists()


@pytest.mark.parametrize("args,msg", [
    (["--good", "HEAD", "--bad", "HEAD~1"], "is not an ancestor of"),
    (["--good", "no-such-rev"], "no-such-rev"),
])
def test_bisect_bad_input_is_a_clear_error(tmp_path, args, msg):
    r = sq("bisect", *args, finding(tmp_path))
    assert r.returncode == 2 and msg in r.stderr, r.stdout + r.stderr[-2000:]


# ---- coverage ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def cov_built(scenarios_built):
    if not coverage.tool("llvm-cov") or not coverage.tool("llvm-profdata"):
        pytest.skip("llvm-cov/llvm-profdata not installed (sh mk/deps.sh coverage)")
    make("cov")


def test_campaign_writes_the_coverage_page(tmp_path, cov_built):
    r = sq("run", "--budget", "15s", "--seed", 5, "--coverage", "on", "--derandomize", "0", "--out", tmp_path)
    assert r.returncode in (0, 1), r.stdout + r.stderr[-3000:]
    run = next(p for p in tmp_path.iterdir() if p.name.startswith("run-"))
    m = json.loads((run / "coverage" / "coverage.json").read_text())
    assert set(m["sites"]) == set(contract.sites())
    assert m["totals"]["functions"]["covered"] > 0 and m["functions"]
    # Every FAULT() line's count is at least the hits the runs printed.
    for s, v in m["sites"].items():
        assert v["line"] is not None and v["line"] >= v["hits"], (s, v)
    assert (run / "coverage" / "index.html").exists() and (run / "coverage" / "src" / "index.html").exists()
    assert not (run / "coverage" / "raw").exists()
    report = (run / "report.txt").read_text()
    assert "coverage: fault sites reached" in report and "runtime functions" in report
    # The campaign's scenarios ran from the coverage build; sigpoke's sweeps
    # stay on the normal build's window program.
    rep = json.loads((run / "report.json").read_text())
    scen = [x for x in rep["runs"] if x["job"]["injector"] != "sigpoke"]
    assert scen and all("/build/cov-fixed/harness/" in x["command"] for x in scen)
    assert all("/cov-" not in x["command"] for x in rep["runs"] if x["job"]["injector"] == "sigpoke")


def test_coverage_off_still_maps_the_sites(tmp_path, scenarios_built):
    r = sq("run", "--budget", "3s", "--seed", 5, "--coverage", "off", "--derandomize", "0", "--out", tmp_path)
    assert "coverage off" in r.stdout and "fault sites reached" in r.stdout, r.stdout


def test_coverage_build_missing_or_stale(tmp_path, monkeypatch, scenarios_built):
    under = campaign.Under("sq", "mapstack", "local")
    monkeypatch.setattr(coverage, "cov_dir", lambda v: str(tmp_path / f"cov-{v}"))
    with pytest.raises(campaign.Usage, match="not built \\(make cov REGRESS=mapstack\\)"):
        coverage.runs_on("on", under, str(tmp_path))
    assert coverage.runs_on("auto", under, str(tmp_path)) is under
    assert under.coverage_note.startswith("sites only")


def test_coverage_of_the_fuzzers(tmp_path, cov_built):
    make("-f", "fuzz/fuzz.mk", "fuzz-cov")
    run = tmp_path / "run-x"
    run.mkdir()
    (run / "report.json").write_text(json.dumps({"target": "sq", "variant": "fixed", "on": "local", "seed": 1,
                                                 "runs": []}))
    corpus = tmp_path / "sq_ops"
    shutil.copytree(os.path.join(ROOT, "corpora", "sq_ops"), corpus)
    r = sq("coverage", run, "--fuzz", corpus)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    m = json.loads((run / "coverage" / "coverage.json").read_text())
    assert m["fuzz"]["totals"]["functions"]["covered"] > 50, m["fuzz"]["totals"]
    assert (run / "coverage" / "fuzz" / "index.html").exists()
