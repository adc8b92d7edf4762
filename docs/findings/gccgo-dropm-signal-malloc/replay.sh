#!/bin/sh
# replay.sh [BUDGET_S]: run the stackquake scenario that found it, seed after
# seed, until the runtime dies or BUDGET_S (default 120) seconds pass.
# Prints the seed and the fatal line; exit 0 when it reproduced.
# Needs `make go-scenarios` (build/gccgo/harness/sc_attachsig).
cd "$(dirname "$0")/../../.."
end=$(( $(date +%s) + ${1:-120} ))
seed=1
while [ "$(date +%s)" -lt "$end" ]; do
	if ! GOMAXPROCS=2 build/gccgo/harness/sc_attachsig --seed $seed --mode unbound \
		--injector storm --iters 20000 >/tmp/gccgo-replay.$$ 2>&1; then
		echo "seed $seed: $(grep -v -e '^{' -e '^\[sc\]' /tmp/gccgo-replay.$$ | grep -m1 .)"
		rm -f /tmp/gccgo-replay.$$
		exit 0
	fi
	seed=$((seed + 1))
done
echo "no crash in ${1:-120} s ($((seed - 1)) runs)"
rm -f /tmp/gccgo-replay.$$
exit 1
