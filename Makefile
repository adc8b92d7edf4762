# stackquake: the one entry point.
#
#   make                 build the fixed runtime (normal and harness flavours),
#                        its test programs and the tools
#   make REGRESS=<name>  the same with one historical fix undone, in build/<name>/
#   make variants        every variant side by side
#   make run             the main job: the default campaign (every scenario x
#                        injector, BUDGET=3m), summary on stdout, report under out/;
#                        TARGET=go|gccgo runs it against Go 1.19 / gccgo 12 (the
#                        campaign builds their scenarios first: mk/go.mk)
#   make regress         time to detection of every regression variant, with fault
#                        sites and with the storm baseline (STORM_BUDGET=30s)
#   make test            the pytest suite; JUnit XML in out/junit.xml
#   make test-vms        the suite on a pool of guests (VM_POOL; docs/vm.md)
#   make vm-images       build the guests' kernels and root file systems
#   make bench           performance tables, ratios against anchors run alongside
#   make bench-split     the split check's cost on this ARCH/LIBC/SQ_SPLIT alone
#   make fuzz            both fuzz engines for FUZZ_TIME (10m), then triage
#   make go-scenarios    the scenarios against Go 1.19 and gccgo 12 through cgo,
#                        in build/go/ and build/gccgo/ (mk/go.mk, docs/targets.md)
#   make cov             the scenarios again with source-based coverage, in
#                        build/cov-<variant>/ (mk/coverage.mk; make run uses it)
#
# make test / run / bench install missing Debian packages first (mk/deps.sh).

ARCH    ?= $(shell uname -m)
REGRESS ?=
# The variant list is the runtime's (SQ_VARIANTS, read by mk/contract.mk).
include mk/contract.mk
VARIANTS := $(SQ_VARIANTS)
NPROC    := $(shell nproc 2>/dev/null || echo 2)
PYTHON  ?= /usr/bin/python3
CC      := clang
BUDGET  ?= 3m
TARGET  ?= sq
STORM_BUDGET ?= 30s

ifeq ($(REGRESS),)
VARIANT := fixed
else
VARIANT := $(REGRESS)
ifeq ($(filter $(REGRESS),$(VARIANTS)),)
$(error unknown REGRESS=$(REGRESS); one of: $(VARIANTS))
endif
endif

B := build/$(VARIANT)
REGRESS_DEF = $(if $(REGRESS),$(call SQ_REGRESS_DEF,$(REGRESS)))

CFLAGS  := -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
           -fno-omit-frame-pointer -fno-stack-protector \
           -Iruntime/include -Iruntime/src -Iruntime/src/arch/$(ARCH) $(REGRESS_DEF)
LDLIBS  := -lpthread

# Target arch and C library: B, CC, CFLAGS, LDFLAGS, EMU (docs/arch.md).
include mk/arch.mk
# COVERAGE=1: B is build/cov-<variant>, CFLAGS get clang's coverage (mk/coverage.mk).
include mk/coverage.mk

# Runtime code, and everything that runs on G stacks, gets the split check:
# an inline compare with a TCB word on x86-64 glibc, an entry hook elsewhere
# (mk/split.mk). Everything that links split-checked objects takes LDFLAGS.
include mk/split.mk
SPLIT_CFLAGS := $(SQ_SPLIT_CFLAGS)
CFLAGS  += $(call SQ_SPLIT_INC,runtime)
LDFLAGS += $(SQ_SPLIT_LDFLAGS)

RT_SPLIT := $(call SQ_SPLIT_SRCS,runtime)
RT_SRCS := $(wildcard runtime/src/*.c) runtime/src/os/linux.c $(filter %.c,$(RT_SPLIT))
RT_SASM := $(filter %.S,$(RT_SPLIT))
RT_ASM  := runtime/src/arch/$(ARCH)/asm.S
RT_HDRS := $(wildcard runtime/src/*.h runtime/include/*.h runtime/src/arch/$(ARCH)/*.h \
             runtime/src/split/$(SQ_SPLIT)/*.h)

TEST_SRCS := $(wildcard runtime/tests/*.c)
TESTS   := $(TEST_SRCS:runtime/tests/%.c=$(B)/tests/%) \
           $(TEST_SRCS:runtime/tests/%.c=$(B)/ntests/%)

SC_SRCS   := $(wildcard harness/sc_*.c)
SCENARIOS := $(SC_SRCS:harness/%.c=$(B)/harness/%)
SC_HDRS   := $(wildcard harness/*.h)

LIB     := $(B)/libsq.a
HLIB    := $(B)/libsq-harness.a

# The test programs and scenarios read nothing of SQ_REGRESS: they are
# compiled once per target, in $(C) (build/common, build/common-aarch64, ...),
# and each variant's build links those objects with its own runtime. They
# are compiled with SQ_REGRESS set to a name nothing declares, so that one
# that starts to test REGRESS() fails to build instead of linking the fixed
# runtime's reading into every variant.
C := $(subst $(VARIANT),common,$(B))
COMMON_CFLAGS = $(filter-out $(REGRESS_DEF),$(CFLAGS)) -DSQ_REGRESS=sq_regress_is_not_set_in_common_objects

# The nosplit check (tools/nosplit, docs/nosplit.md): every chain of nosplit
# functions fits NOSPLIT_BUDGET bytes below the last split check, and nothing
# a syscall window calls on the G's stack has a split check. It reads the
# objects and the X.su that -fstack-usage writes next to each X.o, and the
# runtime's own config (window roots, exceptions, libc allowances): the tool
# knows no runtime. A gate for the fixed runtime; regression variants only
# report (one of them breaks the window rule on purpose, and variants must
# still build). x86-64 objects only.
SU_CFLAGS      := -fstack-usage
NOSPLIT_BUDGET := 4096
NOSPLIT_CONF   := runtime/nosplit.conf
NOSPLIT_CHECK  := $(PYTHON) tools/nosplit/nosplit-check --budget $(NOSPLIT_BUDGET) \
                  --config $(NOSPLIT_CONF) $(if $(REGRESS),--report-only)
NOSPLIT_OK     := $(if $(COVERAGE),,$(if $(filter x86_64,$(ARCH)),$(B)/nosplit.ok))

.PHONY: $(VARIANTS:%=variant-%)
.PHONY: test-vms vm-images deps-vm deps-go deps-fuzz all lib tests scenarios variants run regress test bench bench-split clean deps-build deps-test deps-bench tools contract docs selftest cov
all: lib tests scenarios $(SQ_TOOLS) contract
lib: $(LIB) $(HLIB) $(NOSPLIT_OK)
tests: $(TESTS)
scenarios: $(SCENARIOS)

# The contract as JSON (runtime/describe.c): how Python, the docs and the
# tests read the runtime's tables. A host program whatever ARCH and LIBC are.
CONTRACT_JSON := build/contract.json
contract: $(CONTRACT_JSON)
build/describe: runtime/describe.c runtime/include/sq_contract.h
	@mkdir -p $(dir $@)
	clang -O1 -Wall -Wextra -Werror -Iruntime/include $< -o $@
$(CONTRACT_JSON): build/describe
	build/describe > $@.tmp && mv $@.tmp $@

# The coverage build of the scenarios (mk/coverage.mk), beside the normal one.
cov:
	@$(MAKE) --no-print-directory COVERAGE=1 scenarios

# Every regression variant, after the fixed build (which makes the tools
# and the contract they share); with -j, the variants side by side.
variants: all
	@$(MAKE) --no-print-directory $(VARIANTS:%=variant-%)
$(VARIANTS:%=variant-%): variant-%:
	@$(MAKE) --no-print-directory REGRESS=$* all

$(B)/obj/%.o: runtime/src/%.c $(RT_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SPLIT_CFLAGS) $(SU_CFLAGS) -c $< -o $@

$(B)/hobj/%.o: runtime/src/%.c $(RT_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SPLIT_CFLAGS) $(SU_CFLAGS) -DSQ_HARNESS=1 -c $< -o $@

$(B)/obj/asm.o $(B)/hobj/asm.o: $(RT_ASM)
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@

# The split mode's assembly (split/tcb/morestack.S). Two rules: a pattern
# rule with two targets would make both with one recipe.
$(B)/obj/split/%.o: runtime/src/split/%.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@
$(B)/hobj/split/%.o: runtime/src/split/%.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@

RT_OBJS  := $(RT_SRCS:runtime/src/%.c=$(B)/obj/%.o) $(B)/obj/asm.o $(RT_SASM:runtime/src/%.S=$(B)/obj/%.o)
RT_HOBJS := $(RT_SRCS:runtime/src/%.c=$(B)/hobj/%.o) $(B)/hobj/asm.o $(RT_SASM:runtime/src/%.S=$(B)/hobj/%.o)

$(LIB): $(RT_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(HLIB): $(RT_HOBJS)
	@rm -f $@
	ar rcs $@ $^

$(B)/nosplit.ok: $(RT_OBJS) $(RT_HOBJS) tools/nosplit/nosplit-check $(NOSPLIT_CONF)
	$(NOSPLIT_CHECK) $(RT_OBJS)
	$(NOSPLIT_CHECK) $(RT_HOBJS)
	@touch $@

# Runtime self-tests link the harness flavour: they arm fault sites.
$(C)/tests/%.o: runtime/tests/%.c runtime/tests/rt_test.h $(RT_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(COMMON_CFLAGS) $(SPLIT_CFLAGS) -Iruntime/tests -Iharness -c $< -o $@
$(B)/tests/%: $(C)/tests/%.o $(HLIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(HLIB) $(LDFLAGS) $(LDLIBS) -o $@

# The same programs on the normal flavour: no fault sites, plain-store
# status transitions; the tests that need neither run on both. (sigpoke
# sweeps ntests/sp_window: the instructions that ship.)
$(B)/ntests/%: $(C)/tests/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

# Harness scenarios, linked with the harness flavour through the target
# interface. Their G code gets split checks like any code meant to run on
# Gs (preemption happens at split checks); the plain C they run on foreign
# stacks is marked nosplit (harness/cstack.h: no_instrument_function,
# no_split_stack).
$(C)/harness/target_sq.o: harness/target_sq.c harness/target.h runtime/include/sq.h
	@mkdir -p $(dir $@)
	$(CC) $(COMMON_CFLAGS) -c $< -o $@

$(C)/harness/%.o: harness/%.c $(SC_HDRS) $(RT_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(COMMON_CFLAGS) $(SPLIT_CFLAGS) -Iharness -Iharness/arch/$(ARCH) -c $< -o $@

$(B)/harness/%: $(C)/harness/%.o $(C)/harness/target_sq.o $(HLIB) $(CTX_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(SC_ARCH_OBJS) $(C)/harness/target_sq.o $(HLIB) $(LDFLAGS) $(LDLIBS) $(CTX_LIBS) -o $@

# make would delete the compiled objects as intermediates after a link.
.PRECIOUS: $(C)/tests/%.o $(C)/harness/%.o

# Per-arch harness code (harness/arch/<arch>/): sc_preempt's register loop.
SC_ARCH_HDRS := $(wildcard harness/arch/$(ARCH)/*.h)
$(C)/harness/regloop.o: harness/arch/$(ARCH)/regloop.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@
$(C)/harness/sc_preempt.o: $(SC_ARCH_HDRS)
$(B)/harness/sc_preempt: $(C)/harness/regloop.o
$(B)/harness/sc_preempt: SC_ARCH_OBJS := $(C)/harness/regloop.o

# The same scenarios against real Go runtimes: make go-scenarios.
include mk/go.mk

# Stack-switching tests call in from Boost.Context stacks too.
$(B)/tests/rt_callback $(B)/ntests/rt_callback: LDLIBS += $(CTX_LIBS)
$(B)/tests/rt_callback $(B)/ntests/rt_callback: $(CTX_DEPS)

# The ptrace tools: stackcheck (MAP_STACK), sigpoke (a signal at every
# instruction). Each builds with gcc and libc alone, with its own stand-alone
# test programs: the tools work from outside any runtime. The program that
# sweeps the runtime's windows with sigpoke, sp_window, is one of the
# runtime's test programs above ($(B)/ntests/sp_window, normal flavour).
tools:
	@$(MAKE) --no-print-directory -C tools/stackcheck OUT=$(abspath build/tools)
	@$(MAKE) --no-print-directory -C tools/sigpoke OUT=$(abspath build/tools)

deps-build:
	@sh mk/deps.sh build
deps-test:
	@sh mk/deps.sh build test cross ssh fuzz vm coverage
deps-fuzz:
	@sh mk/deps.sh build fuzz
deps-go:
	@sh mk/deps.sh build go
deps-vm:
	@sh mk/deps.sh build test cross ssh vm

# Fuzzing (docs/fuzz.md): fuzz-build, fuzz (FUZZ_TIME=10m), fuzz-smoke,
# fuzz-replay, fuzz-variants, fuzz-asan, fuzz-oss.
include fuzz/fuzz.mk
fuzz-build: | deps-fuzz
deps-bench:
	@sh mk/deps.sh build bench

# The campaign runs the coverage build of the runtime (make cov) and writes
# out/<run>/coverage/index.html; COVERAGE_RUN=off runs the normal build only.
COV_RUN = $(if $(filter sq,$(TARGET)),$(if $(filter local,$(TEST_TARGET)),$(or $(COVERAGE_RUN),on),off),off)

run: deps-test
	@$(MAKE) --no-print-directory all
	$(if $(filter on,$(COV_RUN)),@$(MAKE) --no-print-directory cov)
	@./stackquake run --target $(TARGET) --variant $(VARIANT) --on $(TEST_TARGET) --budget $(BUDGET) \
		--coverage $(COV_RUN)

regress: deps-test
	@$(MAKE) --no-print-directory variants
	@./stackquake regress --on $(TEST_TARGET) --budget-storm $(STORM_BUDGET)

# make test: the whole suite on this build's target: the host (local),
# qemu-<arch> for ARCH=aarch64|riscv64, musl for LIBC=musl. The host's own
# run adds the multi-arch subset on SMOKE_TARGETS (pytest/conftest.py).
# pytest gets no MAKEFLAGS/ARCH/LIBC: each build it makes names its target.
TEST_TARGET   := $(if $(filter musl,$(LIBC)),musl,$(if $(CROSS),qemu-$(ARCH),local))
SMOKE_TARGETS ?= qemu-aarch64 qemu-riscv64 musl
PYTEST_TARGETS = --target=$(TEST_TARGET) $(if $(filter local,$(TEST_TARGET)),$(SMOKE_TARGETS:%=--smoke-target=%))

test: deps-test
	@$(MAKE) --no-print-directory -j$(NPROC) variants
	@mkdir -p out
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u ARCH -u LIBC -u REGRESS \
		$(PYTHON) -m pytest -q -n 2 --dist loadgroup pytest $(PYTEST_TARGETS) --junitxml=out/junit.xml

# The runtime's self-tests without pytest, on this build's target (under
# qemu-user for a cross ARCH): tools/cross/selftest.sh.
selftest: lib tests
	sh tools/cross/selftest.sh $(B) $(EMU)

# docs/fatal-errors.md and docs/contract.md, from the contract (sqlib/docs.py).
docs: contract
	@$(PYTHON) -m sqlib.docs

# make test-vms: the suite on every guest of VM_POOL (pytest/vm-pool.txt:
# x86-64 with 1 and with 4 vCPUs, aarch64 under TCG), one pytest-xdist
# worker per guest, each owning its guest (sqlib/vm.py, docs/vm.md).
# Only the tests that run on a target (--targets-only): make test runs the
# host's own. VM_TIMEOUT bounds the whole run: on expiry pytest gets
# SIGINT, as from Ctrl-C, and its guests go with it.
VM_POOL    ?= pytest/vm-pool.txt
VM_TIMEOUT ?= 60m
VM_WORKERS  = $(shell grep -c '^[a-z]' $(VM_POOL))
VM_ARCHES   = $(sort $(filter-out $(HOST_ARCH),$(shell sed -n 's/^vm:\([a-z0-9_]*\).*/\1/p' $(VM_POOL))))
test-vms: deps-vm
	@$(MAKE) --no-print-directory variants
	@for a in $(VM_ARCHES); do for v in fixed $(VARIANTS); do \
		$(MAKE) --no-print-directory ARCH=$$a $$([ $$v = fixed ] || echo REGRESS=$$v) lib tests scenarios || exit 1; \
	done; done
	@$(MAKE) --no-print-directory vm-images
	@mkdir -p out
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u ARCH -u LIBC -u REGRESS \
		timeout -s INT -k 60 $(VM_TIMEOUT) $(PYTHON) -m pytest -q -n $(VM_WORKERS) --dist loadgroup \
		pytest --pool $(VM_POOL) --targets-only --junitxml=out/junit-vms.xml

vm-images: deps-vm
	@$(PYTHON) tools/vm/mkimage.py x86_64
	@$(PYTHON) tools/vm/mkimage.py aarch64

bench: deps-bench
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory -f bench/bench.mk B=$(B) CC=$(CC) CFLAGS="$(CFLAGS)" SPLIT_CFLAGS="$(SPLIT_CFLAGS)" LDFLAGS="$(LDFLAGS)"
	@$(PYTHON) bench/run.py --build $(B)

# The split check's cost on this build's target (ARCH, LIBC, SQ_SPLIT):
# sq_bench alone (the anchors need Boost and Go, which only the host's
# glibc build has), under qemu-user for a cross ARCH (docs/bench.md).
bench-split: lib
	@$(MAKE) --no-print-directory -f bench/bench.mk B=$(B) CC="$(CC)" CFLAGS="$(CFLAGS)" SPLIT_CFLAGS="$(SPLIT_CFLAGS)" LDFLAGS="$(LDFLAGS)" $(B)/bench/sq_bench
	$(EMU) $(B)/bench/sq_bench splitcheck -r 9

clean:
	rm -rf build out
