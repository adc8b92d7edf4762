#!/usr/bin/env python3
"""seeds.py: assemble the seed corpora and the regression reproducers.

Sources are text programs (docs/fuzz.md, "The language"):
  fuzz/seeds/common/*.fz      seeds of every target, one per operation family
  fuzz/seeds/<target>/*.fz    that target's own inputs: one reproducer per
                              REGRESS variant it can find (regress-<variant>)
Each becomes corpora/<target>/<name> (the bytes the fuzzers read), assembled
by the replay binary (--asm). A source's header comments say what it must
replay to, and become corpora/MANIFEST:
  # expect <variant>: <outcome>     (variant: fixed or a REGRESS name)
  # flags: illegal                  (replay with --allow-illegal)
Inputs without an "expect fixed" line must be clean on the fixed runtime.
"""
import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ["sq_ops", "sq_unbound", "sq_race", "sq_refuse"]


def header(path):
    expects, flags = [], "-"
    with open(path) as f:
        for line in f:
            if not line.startswith("#"):
                continue
            body = line[1:].strip()
            if body.startswith("expect ") and ":" in body:
                variant, outcome = body[len("expect "):].split(":", 1)
                expects.append((variant.strip(), outcome.strip()))
            elif body.startswith("flags:"):
                flags = body.split(":", 1)[1].strip() or "-"
    return expects, flags


def main():
    lines = ["# corpora/MANIFEST: what each saved input must replay to (fuzz/seeds.py writes it).",
             "# <target>/<file> <variant> <flags> <outcome>; unlisted inputs are clean on the fixed",
             "# runtime and unchecked on a variant. Outcomes match with numbers blanked."]
    for target in TARGETS:
        replay = os.path.join(ROOT, "build", "fuzz", "replay", target)
        if not os.path.exists(replay):
            sys.exit(f"seeds.py: {replay} not built (make -f fuzz/fuzz.mk fuzz-build)")
        out = os.path.join(ROOT, "corpora", target)
        os.makedirs(out, exist_ok=True)
        srcs = sorted(glob.glob(os.path.join(ROOT, "fuzz", "seeds", "common", "*.fz")) +
                      glob.glob(os.path.join(ROOT, "fuzz", "seeds", target, "*.fz")))
        for src in srcs:
            name = os.path.basename(src)[:-3]
            dst = os.path.join(out, name)
            r = subprocess.run([replay, "--asm", src, dst], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"seeds.py: {r.stderr.strip()}")
            expects, flags = header(src)
            for variant, outcome in expects:
                lines.append(f"{target}/{name} {variant} {flags} {outcome}")
        print(f"seeds.py: {len(srcs)} inputs in corpora/{target}/")
    with open(os.path.join(ROOT, "corpora", "MANIFEST"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
