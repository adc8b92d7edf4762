#!/bin/sh
# selftest.sh BUILD [EMU...]: run the runtime's self-test programs of one
# build directory (build/<variant>[-<arch>][-musl]) directly, each under EMU
# when given (qemu-aarch64, qemu-riscv64), and check each outcome: PASS for
# the tests that must pass, "fatal error: <msg>" with exit 2 for rt_fatal's
# subcommands (the table of pytest/test_fatal.py, plus the guard-page and
# ccall-switch cases of test_core.py / test_callback.py).
#
# This is the pytest suite's core in miniature, without pytest (which runs
# the real thing on every build: make test ARCH=... / LIBC=..., docs/arch.md).
# Logs go to BUILD/selftest/<case>.log; the last line is "N passed, N
# failed". Exit status 0 when nothing failed.
#
#   SELFTEST_ONLY=regex   run only the cases whose name matches
#   SELFTEST_SCALE=N      divide the iteration counts by N (slow emulators)
set -u

[ $# -ge 1 ] || { echo "usage: $0 BUILD [EMU...]" >&2; exit 64; }
B=$1
shift
EMU="$*"
LOGS=$B/selftest
SCALE=${SELFTEST_SCALE:-1}
mkdir -p "$LOGS"
npass=0
nfail=0
failed=""

# run NAME TIMEOUT EXPECT ENV... -- PROG ARGS...
# EXPECT: pass:<test> | fatal:<message>
run() {
	name=$1 tmo=$2 expect=$3
	shift 3
	envs="" ulim=""
	while [ "$1" != "--" ]; do
		case $1 in
		ULIMIT_V=*) ulim=${1#ULIMIT_V=} ;;	# RLIMIT_AS in KiB, as ulimit -v
		*) envs="$envs $1" ;;
		esac
		shift
	done
	shift
	if [ -n "${SELFTEST_ONLY:-}" ] && ! echo "$name" | grep -Eq "$SELFTEST_ONLY"; then
		return
	fi
	log=$LOGS/$name.log
	t0=$(date +%s.%N)
	# shellcheck disable=SC2086
	(
		[ -z "$ulim" ] || ulimit -v "$ulim"
		exec env $envs timeout -s ABRT -k 5 "$tmo" $EMU "$B/$@"
	) </dev/null >"$log.out" 2>"$log.err"
	rc=$?
	t1=$(date +%s.%N)
	secs=$(awk "BEGIN { print $t1 - $t0 }")
	{ echo "--- command:${ulim:+ (ulimit -v $ulim)}$envs $EMU $B/$*"; echo "--- exit status: $rc"
	  echo "--- stdout:"; cat "$log.out"; echo "--- stderr:"; cat "$log.err"; } >"$log"
	ok=0
	case $expect in
	pass:*)
		[ $rc -eq 0 ] && grep -qx "PASS ${expect#pass:}" "$log.out" && ok=1 ;;
	fatal:*)
		[ $rc -eq 2 ] && [ "$(grep -m1 '^fatal error: ' "$log.err")" = "fatal error: ${expect#fatal:}" ] && ok=1 ;;
	esac
	rm -f "$log.out" "$log.err"
	if [ $ok -eq 1 ]; then
		npass=$((npass + 1))
		printf 'ok    %-44s %6.1fs\n' "$name" "$secs"
	else
		nfail=$((nfail + 1))
		failed="$failed $name"
		printf 'FAIL  %-44s %6.1fs rc=%s (want %s) log: %s\n' "$name" "$secs" "$rc" "$expect" "$log"
	fi
}

n() { echo $(($1 / SCALE)); }

for fl in tests ntests; do
	for p in 1 2; do
		run "$fl-chain-P$p" 300 pass:chain SQ_MAXPROCS=$p -- $fl/rt_sched chain "$(n 10000)"
		run "$fl-blocked-read-P$p" 120 pass:blocked-read SQ_MAXPROCS=$p -- $fl/rt_sched blocked-read
		run "$fl-preempt-P$p" 120 pass:preempt SQ_MAXPROCS=$p -- $fl/rt_sched preempt
	done
	run "$fl-stack-list" 60 pass:list -- $fl/rt_stack list
	for bind in 1 0; do
		run "$fl-cb-threads-bind$bind" 600 pass:threads SQ_CALLBACK_BIND=$bind -- \
			$fl/rt_callback threads "$(n 10000)"
	done
	run "$fl-cb-stackswitch" 60 pass:stackswitch -- $fl/rt_callback stackswitch
	run "$fl-cb-nested" 120 pass:nested SQ_MAXPROCS=2 -- $fl/rt_callback nested
	run "$fl-cb-blocking-callback" 120 pass:blocking-callback SQ_MAXPROCS=1 -- \
		$fl/rt_callback blocking-callback
	run "$fl-cb-attach-storm" 900 pass:attach-storm -- $fl/rt_callback attach-storm "$(n 100000)"
	for bind in 1 0; do
		run "$fl-cb-late-caller-bind$bind" 60 pass:late-caller SQ_CALLBACK_BIND=$bind SQ_MAXPROCS=1 -- \
			$fl/rt_callback late-caller
		run "$fl-cb-own-sigstack-bind$bind" 300 pass:own-sigstack SQ_CALLBACK_BIND=$bind -- \
			$fl/rt_callback own-sigstack "$(n 2000)"
	done
	run "$fl-cb-check-attach" 300 pass:check-attach -- $fl/rt_callback check-attach "$(n 20000)"
	for t in lock-main lock-other nesting exit-thread goexit; do
		run "$fl-lock-$t" 300 pass:$t -- $fl/rt_lock $t
	done
	run "$fl-lock-exit-main" 60 pass:exit-main SQ_MAXPROCS=1 -- $fl/rt_lock exit-main
	for t in sleep mutex spawn-stack mid; do
		run "$fl-sched-$t" 120 pass:$t SQ_MAXPROCS=1 -- $fl/rt_sched $t
	done
done
run "cb-forward" 60 pass:forward -- tests/rt_callback forward
run "cb-prof" 120 pass:prof -- tests/rt_callback prof
run "cb-ccall-switch" 60 "fatal:callback with sp out of bounds" -- tests/rt_callback ccall-switch
run "maymorestack-preempt" 120 pass:preempt SQ_MAXPROCS=1 SQ_DEBUG=maymorestack=yield -- \
	tests/rt_sched preempt
run "maymorestack-chain" 300 pass:chain SQ_MAXPROCS=2 SQ_DEBUG=maymorestack=yield -- \
	tests/rt_sched chain 500

# rt_fatal: every entry of the fatal-error table (pytest/test_fatal.py CASES).
while IFS='|' read -r sub args envs msg; do
	[ -n "$sub" ] || continue
	# Under qemu-user the runtime cannot count the process's threads (the
	# emulator's /proc/self/stat has no count): it declares no deadlock.
	case $sub in deadlock*|goexit-main) [ -n "$EMU" ] && continue ;; esac
	# shellcheck disable=SC2086
	run "fatal-$sub${args:+-$args}" 60 "fatal:$msg" $envs -- tests/rt_fatal $sub $args
done <<'EOF'
split-in-syscall|||stack split at bad time
morestack-g0|||morestack on g0
morestack-gsignal|||morestack on gsignal
overflow|||stack overflow
overflow-guardpage|||stack overflow
misuse|gstatus||bad g status transition
systemstack-gsignal|||systemstack called from signal stack
misuse|mcall-g0||mcall called on g0
misuse|mcall-return||mcall function returned
misuse|syscall-bounds||entersyscall inconsistent
misuse|stackfree||freeing a stack that was not allocated
deadlock|||all goroutines are asleep - deadlock!
deadlock-after-callback|||all goroutines are asleep - deadlock!
goexit-main|locked||no goroutines (main called sq_goexit) - deadlock!
misuse|schedlock||schedule: holding locks
misuse|pstate||bad p state
no-sigstack|||signal arrived on a thread with no signal stack
handler-off-sigstack|||signal handler not running on the signal stack
segv|||unexpected signal
callback-on-g|||callback from a goroutine stack
misuse|newm|SQ_MAXPROCS=2|cannot create thread
main-twice|||sq_main called twice
not-init|||runtime not initialized
yield-foreign|||bad argument to runtime call
leak|||invariant violated
thread-exit|||thread exited with runtime frames on its stack
goexit-callback|||goexit inside a callback
goexit-nested|||goexit inside a callback
mutex-unlocked|||bad argument to runtime call
EOF
run "fatal-stackalloc-fails" 120 "fatal:out of memory allocating stack" ULIMIT_V=1048576 -- \
	tests/rt_fatal stackalloc-fails

[ -n "$failed" ] && echo "failed:$failed"
echo "$npass passed, $nfail failed"
[ $nfail -eq 0 ]
