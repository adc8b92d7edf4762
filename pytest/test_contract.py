"""The runtime's contract is written once (runtime/include/sq_contract.h)
and read by everyone else: nothing else retypes a variant, a fault site or
a fatal message, the generated pages are up to date, every variant has an
implementation, and the Makefiles, the JSON and the C agree."""
import os
import re
import subprocess
import sys

import pytest

import sqtest
from sqlib import ROOT, contract, docs, outcome

# Where a name may stand: its table, the runtime that implements it, tests
# and their data (saved reproducers and what they must replay to), the pages
# generated from the table, and another runtime's own table of fatal errors
# (harness/target_<runtime>.c: Go's texts, some the same words as ours).
ALLOWED = re.compile(r"^(runtime/include/sq_contract\.h|runtime/src/|runtime/tests/|pytest/|harness/target_go\.c|"
                     r"tools/[^/]+/tests/|tools/nosplit/fixtures/|tools/cross/selftest\.sh|"
                     r"corpora/|fuzz/seeds/|docs/findings/[^/]+/|" + "|".join(re.escape(p) for p in docs.PAGES) + ")")
# docs/findings/*/ record what a runtime printed, word for word.
# Prose for people: a page may name a variant, site or message where it
# explains or reports one; every such name is checked against the table
# below instead (test_prose_names_exist).
PROSE = re.compile(r"\.md$")


def names():
    c = contract.load()
    return ([("variant", v["name"]) for v in c["variants"]] + [("site", s["name"]) for s in c["sites"]]
            + [("fatal message", f["message"]) for f in c["fatals"]])


def git_grep(pattern):
    r = subprocess.run(["git", "-C", ROOT, "grep", "-n", "-I", "-P", pattern], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if r.returncode not in (0, 1):
        pytest.skip(f"git grep failed: {r.stderr.strip()}")
    return r.stdout.splitlines()


def test_no_copies_of_the_contract():
    """git grep finds no variant name, fault-site name or fatal message
    outside its table, the runtime, tests and generated pages."""
    bad = []
    for what, name in names():
        for line in git_grep(r"(?<![\w.-])" + re.escape(name) + r"(?![\w-])"):
            path = line.split(":", 1)[0]
            if not ALLOWED.match(path) and not PROSE.search(path):
                bad.append(f"{what} {name!r}: {line[:160]}")
    assert not bad, "copies of the contract (use sq_contract.h / sqlib.contract instead):\n" + "\n".join(bad)


def test_prose_names_exist():
    """What pages call a site (`x.y`), a variant (REGRESS=x) or a fatal
    error (`fatal error: x`) is in the table: prose cannot drift either."""
    sites, variants = set(contract.sites()), set(contract.variants())
    msgs = {f["message"] for f in contract.fatals()}
    prefixes = {s.split(".")[0] for s in sites}
    bad = []
    md = subprocess.run(["git", "-C", ROOT, "ls-files", "*.md"], stdout=subprocess.PIPE, text=True).stdout.split()
    # Pages about other runtimes quote their fatal errors, not ours.
    ours = [m for m in md if not m.startswith("docs/findings/") and m != "docs/targets.md"]
    for rel in md:
        text = open(os.path.join(ROOT, rel)).read()
        for m in re.finditer(r"`([a-z0-9]+)\.([a-z0-9_]+)(?::[^`]*)?`", text):
            if m.group(2) in ("c", "h", "S", "py", "md", "mk", "txt", "json"):
                continue	# a file, not a site
            if m.group(1) in prefixes and f"{m.group(1)}.{m.group(2)}" not in sites:
                bad.append(f"{rel}: unknown fault site {m.group(0)}")
        for m in re.finditer(r"REGRESS=([a-z0-9-]+)", text):
            if m.group(1) not in variants:
                bad.append(f"{rel}: unknown variant REGRESS={m.group(1)}")
        for m in re.finditer(r"fatal error: ([^`\n\"]+)", text) if rel in ours else ():
            got = m.group(1).strip().rstrip(".")
            # a message may go on (details) or wrap onto the next line
            if got[:1].islower() and not any(got.startswith(x) or x.startswith(got) for x in msgs):
                bad.append(f"{rel}: unknown fatal error {got!r}")
    assert not bad, "\n".join(bad)


def test_generated_pages_are_up_to_date():
    r = subprocess.run([sys.executable, "-m", "sqlib.docs", "--check"], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0, r.stdout


def test_every_variant_has_an_implementation():
    """REGRESS(ID) is used somewhere in the runtime for each row (a
    misspelt one does not compile; a row nobody implements is caught here)."""
    src = ""
    for d, _, fs in os.walk(os.path.join(ROOT, "runtime", "src")):
        src += "".join(open(os.path.join(d, f)).read() for f in fs if f.endswith((".c", ".h", ".S")))
    for v in contract.load()["variants"]:
        assert f"REGRESS({v['key'].upper()})" in src, f"variant {v['name']}: no REGRESS({v['key'].upper()})"


def test_every_site_is_placed():
    src = ""
    for d, _, fs in os.walk(os.path.join(ROOT, "runtime", "src")):
        src += "".join(open(os.path.join(d, f)).read() for f in fs if f.endswith(".c"))
    for s in contract.load()["sites"]:
        key = s["name"].upper().replace(".", "_")
        assert f"FAULT({key})" in src, f"site {s['name']}: no FAULT({key}) in the runtime"


def test_makefiles_read_the_same_variants():
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", ROOT, "-f", "mk/contract.mk",
                        "-f", "-", "print"], input="print:\n\t@echo $(SQ_VARIANTS)\n",
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert r.stdout.split() == contract.variants(), r.stdout


def test_arm_rules():
    """The rules as the harness reads them: a split in a syscall window and
    systemstack from the signal handler are refused with their errors."""
    window = [s["name"] for s in contract.load()["sites"] if s["context"] == "window"]
    assert window
    for s in window:
        v, f = contract.verdict(s, "split")
        assert v == "refused" and contract.fatal(f)["class"] == "refusal"
    gsig = [s["name"] for s in contract.load()["sites"] if s["context"] == "gsignal"]
    assert [contract.verdict(s, "systemstack")[0] for s in gsig] == ["refused"] * len(gsig)
    assert [contract.verdict(s, "signal", True)[0] for s in gsig] == ["livelock"] * len(gsig)
    assert contract.owed_fatals([f"{window[0]}:split:every"]) == {"split_bad_time"}
    assert contract.owed_fatals([f"{window[0]}:spin"]) == set()


def test_fuzz_interpreter_speaks_the_outcome_vocabulary():
    """The C code that classifies by itself (the fuzz interpreter's
    findings) uses the oracle's class names."""
    used = set()
    for f in os.listdir(os.path.join(ROOT, "fuzz")):
        if f.endswith(".c"):
            used |= set(re.findall(r'fz_fail\("([^"]+)"', open(os.path.join(ROOT, "fuzz", f)).read()))
    assert used and used <= set(outcome.CLASSES), used - set(outcome.CLASSES)


def test_scenarios_describe_their_target(fixed):
    """Every scenario program says what it is and its target's fatal table
    is the contract's."""
    sqtest.build("fixed", "scenarios", "contract")
    scen = contract.scenarios(os.path.join(fixed.dir, "harness"), lambda cmd: fixed.target.run(cmd, timeout=60))
    assert set(scen) == {s for s, _ in sqtest.scenario_modes()}
    for d in scen.values():
        assert d.target["name"] == "sq" and d.campaign_iters > 0
        assert {f["key"]: f["message"] for f in d.fatals} == {f["key"]: f["message"] for f in contract.fatals()}
