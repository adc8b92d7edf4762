#!/bin/sh
# deps.sh GROUP...: make sure the Debian packages a make target needs are
# installed. As root it runs apt-get; otherwise it prints the exact command
# and fails. Groups: build test bench fuzz cross ssh vm coverage.
set -eu

# sigpoke (make tools, part of make all) reads DWARF with elfutils' libdw and
# decodes instructions with capstone.
pkgs_build="clang make libdw-dev libcapstone-dev"
# pytest/test_go.py runs the scenarios against gc and gccgo (mk/go.mk).
pkgs_test="python3-pytest python3-pytest-xdist strace libboost-context-dev gdb golang-1.19-go gccgo-12"
pkgs_bench="libboost-context-dev golang-1.19-go"
# The Go targets (make go-scenarios, mk/go.mk): gc and gccgo, and the
# Boost.Context the scenarios' stack switches link.
pkgs_go="golang-1.19-go gccgo-12 libboost-context-dev"
pkgs_fuzz="afl++ libclang-rt-14-dev zip"
pkgs_cross="qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-riscv64-linux-gnu libc6-dev-riscv64-cross musl-tools"
# Source-based coverage (make run's coverage page): llvm-profdata-14, llvm-cov-14.
pkgs_coverage="llvm-14"
# The SSH target's test starts its own sshd on 127.0.0.1 (pytest/test_targets.py).
pkgs_ssh="openssh-client openssh-server"
# VM targets (pytest/sqvm.py): QEMU for both guest arches, mmdebstrap to
# unpack the guests' Debian packages (tools/vm/mkimage.py; the kernels,
# sshd and the rest come in as packages of the guest's arch, not here),
# SeaBIOS and the option ROMs x86 guests boot through, procps (pgrep).
pkgs_vm="qemu-system-x86 qemu-system-arm qemu-system-data seabios ipxe-qemu mmdebstrap openssh-client procps"

want=""
for group in "$@"; do
	eval "list=\${pkgs_$group:-}"
	[ -n "$list" ] || { echo "deps.sh: unknown group '$group'" >&2; exit 2; }
	want="$want $list"
done

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		case " $missing " in *" $p "*) ;; *) missing="$missing $p" ;; esac
	fi
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages:$missing" >&2
	echo "deps.sh: run as root: apt-get update && $cmd" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
