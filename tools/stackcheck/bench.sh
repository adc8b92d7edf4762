#!/bin/sh
# bench.sh: stackcheck's slowdown on a syscall-heavy loop.
#
#   tools/stackcheck/bench.sh [N]      (default N=200000 getpid calls)
#
# Runs sc_getpid_loop natively, under stackcheck in each mode, and under
# strace as an anchor, and prints the wall time of each run and its ratio to
# the native run. Builds first
# (make -C tools/stackcheck, OUT as for the build; default ../../build/tools).
# Reports only: it never fails on time.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/../../build/tools}
n=${1:-200000}

make -s -C "$here" OUT="$out" >/dev/null
sc=$out/stackcheck
loop=$out/stackcheck-tests/sc_getpid_loop

now() { date +%s%N; }

# run prints the wall time in ns of one run of its arguments.
run() {
	t0=$(now)
	"$@" >/dev/null 2>&1
	t1=$(now)
	echo $((t1 - t0))
}

# best of three, to keep a stray scheduling hiccup out of the ratio.
best() {
	b=
	for _ in 1 2 3; do
		t=$(run "$@")
		if [ -z "$b" ] || [ "$t" -lt "$b" ]; then b=$t; fi
	done
	echo "$b"
}

# line prints one result row; times are integer ns, so awk does the division.
line() {
	awk -v name="$1" -v t="$2" -v base="$native" -v n="$n" 'BEGIN {
		printf "  %-22s %10.1f ms  %7.1f ns/call  ratio %.1f\n", name, t / 1e6, t / n, t / base
	}'
}

native=$(best "$loop" "$n")
printf 'stackcheck bench: %d getpid calls, best of 3\n' "$n"
line native "$native"
for mode in seccomp syscall regs; do
	line "stackcheck -m $mode" "$(best "$sc" -q -m "$mode" "$loop" "$n")"
done
# Anchor: strace does the same ptrace round trip per stop (and formats output).
if command -v strace >/dev/null 2>&1; then
	line "strace -f (anchor)" "$(best strace -f -qq -o /dev/null "$loop" "$n")"
	line "strace --seccomp-bpf" "$(best strace -f -qq --seccomp-bpf -e trace=getpid -o /dev/null "$loop" "$n")"
fi
