"""sqlib: the one Python core every stackquake driver uses.

  proc       run a command in its own process group with a timeout; nothing
             of it survives (proc.run), and the environment a run starts from
  duration   "90s", "5m", "1h" -> seconds
  records    the JSON-line records the C programs print (harness/record.h)
  contract   the runtime's tables (build/contract.json, from sq_contract.h)
             and what each scenario program says of itself (--describe)
  targets    where programs run: local, musl, qemu-<arch>, ssh://...
  outcome    the oracle: one vocabulary of outcome classes and how a run
             lands in one; finding signatures
  campaign   the `stackquake` command: run, regress, repro, list
  derand     a finding -> a deterministic, minimized reproducer (derandomize)
  emitc      a finding -> a stand-alone C program (repro --emit-c; templates/)
  gitbisect  the first commit at which a finding reproduces (bisect)
  coverage   what a campaign (and the fuzzers) reached: the coverage page
  sigpoke    sigpoke as an injector: time-bounded sweeps of the runtime's
             signal windows, findings with their reproducers

Standard library only.
"""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")


class Usage(Exception):
    """Bad input from the user: the message says what and what is expected."""
