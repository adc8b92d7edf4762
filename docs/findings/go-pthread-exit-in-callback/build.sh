#!/bin/sh
# build.sh [gc|gccgo]: build ./repro-<toolchain> offline (golang-1.19-go, gccgo-12).
set -eu
cd "$(dirname "$0")/golib"
export GOPROXY=off GOFLAGS=-mod=readonly GOCACHE=${GOCACHE:-/tmp/repro-gocache} CGO_ENABLED=1
if [ "${1:-gc}" = gccgo ]; then
	/usr/bin/go-12 build -compiler gccgo -o ../repro-gccgo .
else
	/usr/lib/go-1.19/bin/go build -o ../repro-gc .
fi
