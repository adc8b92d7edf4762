#!/bin/sh
# build.sh [gc|gccgo]: build ./repro-<toolchain> offline from Debian's packages
# (golang-1.19-go, gccgo-12): the Go side (golib/) as a C archive, linked
# into the C host (host.c).
set -eu
cd "$(dirname "$0")"
tc=${1:-gc}
export GOPROXY=off GOFLAGS=-mod=readonly GOCACHE=${GOCACHE:-/tmp/repro-gocache} CGO_ENABLED=1
if [ "$tc" = gccgo ]; then
	(cd golib && /usr/bin/go-12 build -compiler gccgo -buildmode=c-archive -o ../lib.a .)
	gcc -O1 -o repro-gccgo host.c lib.a -lgo -lpthread
else
	(cd golib && /usr/lib/go-1.19/bin/go build -buildmode=c-archive -o ../lib.a .)
	cc -O1 -o repro-gc host.c lib.a -lpthread
fi
rm -f lib.a lib.h
