"""Records: the one way stackquake's C programs talk to its drivers.

A record is a line holding one JSON object whose first member is "rec",
its kind (harness/record.h writes them). Everything else a program prints
is for people and is never parsed.
"""
import json

PREFIX = '{"rec":'


def parse(text):
    """Every record in text, in order. Lines that look like records but do
    not parse (a program killed mid-write) are skipped."""
    out = []
    for line in (text or "").splitlines():
        if line.startswith(PREFIX):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def of(recs, kind):
    return [r for r in recs if r.get("rec") == kind]


def first(recs, kind, default=None):
    return next((r for r in recs if r.get("rec") == kind), default)
