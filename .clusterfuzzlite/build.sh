#!/bin/bash -eu
# .clusterfuzzlite/build.sh: build every fuzz target for ClusterFuzzLite (or
# OSS-Fuzz) with the environment's compiler and engine:
#   CC, CFLAGS          compiler and flags (coverage, sanitizer)
#   LIB_FUZZING_ENGINE  what to link for the engine (-fsanitize=fuzzer, or
#                       AFL++'s driver)
#   OUT                 where the binaries, their .options and their
#                       <target>_seed_corpus.zip go
#   SANITIZER           address, undefined, coverage, none (optional)
#   WORK                scratch space for objects (optional)
# The same script is tested locally (pytest/test_fuzz.py) with local values.

# The repository: where this runs from in the image (WORKDIR), or $SRC.
if [ -f fuzz/fuzz.mk ]; then repo=$PWD; else repo=$SRC/stackquake; fi
cd "$repo"

make -f fuzz/fuzz.mk -j"$(nproc)" fuzz-oss \
	CC="$CC" CFLAGS="$CFLAGS" LIB_FUZZING_ENGINE="$LIB_FUZZING_ENGINE" OUT="$OUT" \
	FZ_OUT="${WORK:-$repo/build}/fuzz-oss"
