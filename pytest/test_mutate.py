"""The mutation tool (sqlib/mutate.py, `stackquake mutate`): its mutants
still fit the runtime, and a mutant the campaign should kill is killed."""
import json
import os
import subprocess
import sys

from sqlib import ROOT, mutate


def test_every_mutant_applies(tmp_path):
    ms = mutate.load()
    assert len(ms) >= 20 and len({m.name for m in ms}) == len(ms)
    for m in ms:
        assert m.doc, f"{m.name}: say what it breaks"
        tree = tmp_path / m.name
        for path, _, _ in m.hunks:
            os.makedirs(tree / os.path.dirname(path), exist_ok=True)
            with open(tree / path, "w") as f:
                f.write(open(os.path.join(ROOT, path)).read())
        assert m.apply(str(tree)) is None, f"{m.name} no longer applies: fix mutants/runtime.txt"


def test_a_mutant_is_killed(fixed, tmp_path):
    """exitsyscall leaving throwsplit set: the campaign's first runs die."""
    subprocess.run(["make", "--no-print-directory", "-C", ROOT, "tools"], check=True, stdout=subprocess.DEVNULL)
    r = subprocess.run([os.path.join(ROOT, "stackquake"), "mutate", "--only", "exitsyscall-throwsplit-left",
                        "--budget", "60s", "--out", str(tmp_path)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    (d,) = tmp_path.glob("mutate-*")
    (row,) = json.load(open(d / "mutate.json"))["rows"]
    assert row["result"] == "killed", row
    assert "killed 1/1" in r.stdout
