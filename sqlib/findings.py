"""Known findings: what the campaign has found before, in docs/findings/.

Each finding on a real runtime has a folder there with its stand-alone
reproduction, its README (what, how to run it, replay rate, versions, the
upstream report) and finding.json: the targets it shows on, the upstream
issue, and the regular expressions that recognise it in a campaign's
"<class>: <message> @ <label>". The campaign marks what it recognises as
known; only findings nobody has written up make a run fail.
"""
import functools
import json
import os
import re

from . import ROOT

DIR = os.path.join(ROOT, "docs", "findings")


@functools.lru_cache(maxsize=None)
def known():
    out = []
    for name in sorted(os.listdir(DIR)) if os.path.isdir(DIR) else []:
        p = os.path.join(DIR, name, "finding.json")
        if os.path.exists(p):
            with open(p) as f:
                d = json.load(f)
            d["name"] = name
            d["res"] = [re.compile(x) for x in d["match"]]
            out.append(d)
    return out


def recognise(target, cls, message, label):
    """The known finding this is (its record), or None."""
    text = f"{cls}: {message} @ {label}"
    for k in known():
        if target in k["targets"] and any(r.search(text) for r in k["res"]):
            return k
    return None
