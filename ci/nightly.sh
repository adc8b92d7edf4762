#!/usr/bin/env bash
# ci/nightly.sh: the nightly fuzz job.
#
#   ci/nightly.sh [BUDGET] [CORPUS_DIR]
#
# BUDGET      total fuzzing time, both engines and every target (default 1h;
#             30m, 4h, ...): fuzz/run.py fuzz --time BUDGET
# CORPUS_DIR  the working corpora, one folder per target (default
#             out/fuzz/corpus). Tonight's run starts from what is there (plus
#             corpora/<target>, the seeds) and leaves its new inputs there:
#             keep the folder between nights (CI cache/artifact).
#
# FZ_NIGHTLY_TARGETS (environment) restricts the targets, e.g. sq_ops.
#
# Findings are triaged (deduplicated by outcome and top frames, minimized,
# replayed three times through the standalone binary). A finding is new
# unless its signature is listed in ci/fuzz-known.txt (one per line, as
# printed by the triage; for findings accepted while their fix is pending).
# Output: out/fuzz/nightly-<date>/ (report.json, triage/, the engines' own
# output). Exit: 0 no new finding, 1 new findings, 2 setup failed.
set -uo pipefail
cd "$(dirname "$0")/.."

budget=${1:-1h}
corpus=${2:-out/fuzz/corpus}
out=out/fuzz/nightly-$(date +%Y%m%d-%H%M%S)
py=/usr/bin/python3
known=ci/fuzz-known.txt

sh mk/deps.sh build test fuzz || exit 2
make --no-print-directory -f fuzz/fuzz.mk fuzz-build >/dev/null || { echo "nightly: build failed" >&2; exit 2; }
mkdir -p "$corpus" "$out"

echo "nightly: fuzzing for $budget from $corpus ($(find "$corpus" -type f | wc -l) inputs)"
# shellcheck disable=SC2086
$py fuzz/run.py fuzz --time "$budget" --corpus "$corpus" --out "$out" \
	${FZ_NIGHTLY_TARGETS:+--targets $FZ_NIGHTLY_TARGETS}
rc=$?
[ $rc -le 1 ] || { echo "nightly: fuzz/run.py failed ($rc)" >&2; exit 2; }

# New findings: triage signatures not in the known list.
new=$($py - "$out/triage/triage.json" "$known" <<'PY'
import json, os, sys
found = json.load(open(sys.argv[1])) if os.path.exists(sys.argv[1]) else []
known = set()
if os.path.exists(sys.argv[2]):
    known = {l.strip() for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")}
for f in found:
    if f["signature"] not in known:
        print(f"{f['signature']}\t{f['representative']}")
PY
)
echo "nightly: corpus now $(find "$corpus" -type f | wc -l) inputs; report in $out"
if [ -n "$new" ]; then
	echo "nightly: NEW FINDINGS:"
	printf '%s\n' "$new" | sed 's/^/  /'
	exit 1
fi
echo "nightly: no new findings"
exit 0
