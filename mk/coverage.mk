# mk/coverage.mk: COVERAGE=1, a build with clang's source-based coverage,
# included by the top Makefile after mk/arch.mk (docs/harness.md, "Coverage").
#
#   make COVERAGE=1 scenarios   (or: make cov)
#
# The same runtime and scenarios as build/<variant>/, compiled again with
# counters (-fprofile-instr-generate -fcoverage-mapping) into
# build/cov-<variant>/; the normal build is untouched. Counters are in
# continuous mode (-runtime-counter-relocation, with %c in LLVM_PROFILE_FILE):
# they live in the profile file itself, so a run that ends by the runtime's
# raw exit_group (every fatal error), a signal or SIGKILL still counts.
# Counters are updated atomically (-fprofile-update=atomic): a plain
# load-add-store loses counts when threads race on a line, and when a signal
# handler that runs the same line (the asynchronous preemption path) lands
# between the load and the store; the page compares line counts with the
# sites' own atomic hit counts. Value profiling is off: it would put calls to the profile runtime at
# indirect calls inside the runtime's windows. The nosplit gate is the
# normal build's; a coverage build skips it.
#
# Host builds only (glibc, the host's arch): llvm-profdata and llvm-cov
# read the host's binaries.

COVERAGE ?=
COV_CFLAGS := -fprofile-instr-generate -fcoverage-mapping -fprofile-update=atomic \
              -mllvm -runtime-counter-relocation -mllvm -disable-vp

ifneq ($(COVERAGE),)
ifneq ($(CROSS)$(filter musl,$(LIBC)),)
$(error COVERAGE=1 is for the host's own glibc build)
endif
B      := build/cov-$(VARIANT)
CFLAGS += $(COV_CFLAGS)
endif
