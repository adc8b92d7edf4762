# fuzz/fuzz.mk: the fuzz targets, their builds, and the commands that run them.
#
# Standalone:   make -f fuzz/fuzz.mk <goal>      (from the repository root)
# Included by the top Makefile (docs/fuzz.md): the same goals.
#
#   fuzz-build     libFuzzer, AFL++ and replay builds of every target on the
#                  fixed runtime, and the replay build of every REGRESS variant
#   fuzz-variants  libFuzzer and AFL++ builds of every REGRESS variant (time to finding)
#   fuzz-asan      the ASan/UBSan libFuzzer build (see docs/fuzz.md on ASan)
#   fuzz-cov       the replay driver with source-based coverage (build/fuzz/cov/),
#                  for `stackquake coverage RUN --fuzz`
#   fuzz           both engines for FUZZ_TIME in all (default 10m), AFL++ as one
#                  main and secondaries over FUZZ_JOBS cores, then triage
#   fuzz-smoke     a short run of both engines (FUZZ_SMOKE_TIME, default 20s each)
#   fuzz-replay    replay every corpus entry through the standalone binaries
#                  against corpora/MANIFEST (fixed and every variant)
#   fuzz-oss       ClusterFuzzLite/OSS-Fuzz: build with $CC $CFLAGS and link
#                  $LIB_FUZZING_ENGINE, binaries into $OUT (.clusterfuzzlite/build.sh)
#
# Builds go to build/fuzz/<engine>[-<variant>]/: engines libfuzzer, afl,
# replay, asan. The runtime is compiled again for each, with the engine's
# compiler and coverage flags, so that the fuzzers see its edges.

FZ_ARCH     := $(shell uname -m)
FZ_CC       ?= clang
FZ_AFLCC    ?= afl-clang-fast
FZ_PYTHON   ?= /usr/bin/python3
FZ_TARGETS  := sq_ops sq_unbound sq_race sq_refuse
include $(dir $(lastword $(MAKEFILE_LIST)))../mk/contract.mk
# The variants a build for this arch can show (the runtime's table).
FZ_VARIANTS := $(call SQ_VARIANTS_FOR,$(FZ_ARCH))
FZ_OUT      ?= build/fuzz
FUZZ_TIME   ?= 10m
FUZZ_JOBS   ?= $(shell nproc)
FUZZ_SMOKE_TIME ?= 20s

FZ_RTDIR   ?= runtime
# The split check as the product has it on this machine (mk/split.mk): the
# runtime's own mode, flags and sources; hook mode for ASan builds (asan,
# and OSS-Fuzz, whose sanitizers come from outside), which tcb cannot
# compile (mk/split.mk).
ARCH       ?= $(FZ_ARCH)
LIBC       ?= glibc
include $(dir $(lastword $(MAKEFILE_LIST)))../mk/split.mk
FZ_RT_BASE := $(wildcard $(FZ_RTDIR)/src/*.c) $(FZ_RTDIR)/src/os/linux.c
FZ_RT_ASM  := $(FZ_RTDIR)/src/arch/$(FZ_ARCH)/asm.S
FZ_HDRS    := $(wildcard $(FZ_RTDIR)/src/*.h $(FZ_RTDIR)/include/*.h $(FZ_RTDIR)/src/arch/$(FZ_ARCH)/*.h \
                $(FZ_RTDIR)/src/split/*/*.h) \
              $(wildcard harness/arch/$(FZ_ARCH)/*.h) \
              $(wildcard fuzz/*.h) harness/cstack.h harness/fcontext.h fuzz/nocov.txt
FZ_CFLAGS  := -std=gnu11 -O1 -g -fno-omit-frame-pointer -fno-stack-protector \
              -Wall -Wextra -Wno-unused-parameter \
              -I$(FZ_RTDIR)/include -I$(FZ_RTDIR)/src -I$(FZ_RTDIR)/src/arch/$(FZ_ARCH) -Iharness \
              -Iharness/arch/$(FZ_ARCH) -Ifuzz \
              -DSQ_HARNESS=1
FZ_MODE_asan := hook
FZ_MODE_oss  := hook
# $(call FZ_MODE,engine): the split mode of an engine's builds.
FZ_MODE     = $(or $(FZ_MODE_$(1)),$(SQ_SPLIT))
# Runtime code and code meant to run on Gs get the split check (docs/runtime.md).
FZ_SPLITF   = -I$(FZ_RTDIR)/src/split/$(1) $(SQ_SPLIT_CFLAGS_$(1))
FZ_RT_SRCS  = $(FZ_RT_BASE) $(filter %.c,$(call SQ_SPLIT_SRCS_$(1),$(FZ_RTDIR)))
FZ_RT_SASM  = $(filter %.S,$(call SQ_SPLIT_SRCS_$(1),$(FZ_RTDIR)))
FZ_LIBS     = -lpthread -lboost_context $(SQ_SPLIT_LDFLAGS_$(1))

# Per engine: the compiler for instrumented code, its coverage flags, the
# link flags, and the driver holding main.
FZ_CCOV_libfuzzer := $(FZ_CC)
FZ_COVF_libfuzzer := -fsanitize=fuzzer-no-link -fsanitize-coverage-ignorelist=fuzz/nocov.txt
FZ_LINK_libfuzzer := $(FZ_CC) -fsanitize=fuzzer
FZ_MAIN_libfuzzer :=
FZ_CCOV_asan      := $(FZ_CC)
# Full ASan (stack poisoning included) and UBSan: the runtime and
# harness/cstack.h tell ASan of every stack switch (fiber annotations,
# docs/fuzz.md "ASan").
FZ_COVF_asan      := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=function \
                     -fsanitize-coverage-ignorelist=fuzz/nocov.txt
FZ_LINK_asan      := $(FZ_CC) -fsanitize=fuzzer,address,undefined
FZ_MAIN_asan      :=
FZ_CCOV_afl       := AFL_QUIET=1 AFL_LLVM_DENYLIST=$(CURDIR)/fuzz/nocov.txt $(FZ_AFLCC)
FZ_COVF_afl       :=
FZ_LINK_afl       := AFL_QUIET=1 $(FZ_AFLCC)
FZ_MAIN_afl       := afl_main
FZ_CCOV_replay    := $(FZ_CC)
FZ_COVF_replay    :=
FZ_LINK_replay    := $(FZ_CC)
FZ_MAIN_replay    := replay_main
# stab: the replay driver with libFuzzer-style counters and its own
# stability measurement (replay --stability), to find unstable edges.
FZ_CCOV_stab      := $(FZ_CC)
FZ_COVF_stab      := -fsanitize-coverage=inline-8bit-counters,pc-table \
                     -fsanitize-coverage-ignorelist=fuzz/nocov.txt
FZ_LINK_stab      := $(FZ_CC)
FZ_MAIN_stab      := replay_main
FZ_MAINF_stab     := -DFZ_STAB=1
# cov: the replay driver with clang's source-based coverage (mk/coverage.mk's
# flags), for the coverage page's fuzzer section (stackquake coverage --fuzz).
FZ_CCOV_cov       := $(FZ_CC)
FZ_COVF_cov       := -fprofile-instr-generate -fcoverage-mapping -fprofile-update=atomic \
                     -mllvm -runtime-counter-relocation -mllvm -disable-vp
FZ_LINK_cov       := $(FZ_CC) -fprofile-instr-generate
FZ_MAIN_cov       := replay_main


# What makes each target (fuzz/fuzz_target.c).
FZ_TFLAGS_sq_ops     := -DFZ_UNBOUND=0 -DFZ_ASYNC_TARGET=0
FZ_TFLAGS_sq_unbound := -DFZ_UNBOUND=1 -DFZ_ASYNC_TARGET=0
FZ_TFLAGS_sq_race    := -DFZ_UNBOUND=0 -DFZ_ASYNC_TARGET=1
FZ_TFLAGS_sq_refuse  := -DFZ_UNBOUND=0 -DFZ_ASYNC_TARGET=0 -DFZ_REFUSE_TARGET=1

# $(1) build name, $(2) engine, $(3) variant ("" for fixed)
define FZ_BUILD
FZ_D_$(1)   := $(FZ_OUT)/$(1)
FZ_DEF_$(1) := $(if $(3),$(call SQ_REGRESS_DEF,$(3)))
FZ_M_$(1)   := $(call FZ_MODE,$(2))
FZ_CF_$(1)  := $(FZ_CFLAGS) -I$(FZ_RTDIR)/src/split/$$(FZ_M_$(1))
FZ_SP_$(1)  := $$(SQ_SPLIT_CFLAGS_$$(FZ_M_$(1)))
FZ_RTO_$(1) := $$(patsubst $(FZ_RTDIR)/src/%.c,$$(FZ_D_$(1))/rt/%.o,$$(call FZ_RT_SRCS,$$(FZ_M_$(1)))) \
               $$(FZ_D_$(1))/rt/asm.o \
               $$(patsubst $(FZ_RTDIR)/src/%.S,$$(FZ_D_$(1))/rt/%.o,$$(call FZ_RT_SASM,$$(FZ_M_$(1))))
FZ_LIBO_$(1) := $$(addprefix $$(FZ_D_$(1))/,interp_g.o interp_c.o decode.o oracle.o regloop.o)
FZ_BIN_$(1) := $$(addprefix $$(FZ_D_$(1))/,$$(FZ_TARGETS))

$$(FZ_D_$(1))/rt/%.o: $(FZ_RTDIR)/src/%.c $$(FZ_HDRS)
	@mkdir -p $$(dir $$@)
	$$(FZ_CCOV_$(2)) $$(FZ_CF_$(1)) $$(FZ_SP_$(1)) $$(FZ_COVF_$(2)) $$(FZ_DEF_$(1)) -c $$< -o $$@
$$(FZ_D_$(1))/rt/asm.o: $$(FZ_RT_ASM)
	@mkdir -p $$(dir $$@)
	$$(FZ_CC) -c $$< -o $$@
$$(FZ_D_$(1))/rt/split/%.o: $(FZ_RTDIR)/src/split/%.S
	@mkdir -p $$(dir $$@)
	$$(FZ_CC) -c $$< -o $$@
# `tight`'s register loop (harness/arch/<arch>/regloop.S, sc_preempt's).
$$(FZ_D_$(1))/regloop.o: harness/arch/$(FZ_ARCH)/regloop.S
	@mkdir -p $$(dir $$@)
	$$(FZ_CC) -c $$< -o $$@
# G side: split checks and coverage. C side and decoder: coverage only.
$$(FZ_D_$(1))/interp_g.o: fuzz/interp_g.c $$(FZ_HDRS)
	@mkdir -p $$(dir $$@)
	$$(FZ_CCOV_$(2)) $$(FZ_CF_$(1)) $$(FZ_SP_$(1)) $$(FZ_COVF_$(2)) $$(FZ_DEF_$(1)) -c $$< -o $$@
$$(FZ_D_$(1))/interp_c.o $$(FZ_D_$(1))/decode.o: $$(FZ_D_$(1))/%.o: fuzz/%.c $$(FZ_HDRS)
	@mkdir -p $$(dir $$@)
	$$(FZ_CCOV_$(2)) $$(FZ_CF_$(1)) $$(FZ_COVF_$(2)) $$(FZ_DEF_$(1)) -c $$< -o $$@
# oracle.c must not feed coverage: waits, /proc, the crash path.
$$(FZ_D_$(1))/oracle.o: fuzz/oracle.c $$(FZ_HDRS)
	@mkdir -p $$(dir $$@)
	$$(FZ_CC) $$(FZ_CF_$(1)) $$(FZ_DEF_$(1)) $(if $(filter asan,$(2)),-fsanitize=address) -c $$< -o $$@
$$(FZ_D_$(1))/target-%.o: fuzz/fuzz_target.c $$(FZ_HDRS)
	@mkdir -p $$(dir $$@)
	$$(FZ_CCOV_$(2)) $$(FZ_CF_$(1)) $$(FZ_COVF_$(2)) $$(FZ_TFLAGS_$$*) -c $$< -o $$@
$$(FZ_D_$(1))/afl_main.o: fuzz/afl_main.c
	@mkdir -p $$(dir $$@)
	$$(FZ_CCOV_afl) $$(FZ_CF_$(1)) -c $$< -o $$@
$$(FZ_D_$(1))/replay_main-%.o: fuzz/replay_main.c $$(FZ_HDRS)
	@mkdir -p $$(dir $$@)
	$$(FZ_CC) $$(FZ_CF_$(1)) $$(FZ_MAINF_$(2)) -DFZ_TARGET='"$$*"' $$(FZ_TFLAGS_$$*) -c $$< -o $$@

$$(FZ_BIN_$(1)): $$(FZ_D_$(1))/%: $$(FZ_D_$(1))/target-%.o $$(FZ_RTO_$(1)) $$(FZ_LIBO_$(1)) \
		$$(if $$(FZ_MAIN_$(2)),$$(FZ_D_$(1))/$$(FZ_MAIN_$(2))$$(if $$(filter replay stab cov,$(2)),-%).o)
	$$(FZ_LINK_$(2)) $$^ $$(call FZ_LIBS,$$(FZ_M_$(1))) -o $$@
.PRECIOUS: $$(FZ_D_$(1))/%.o
endef

FZ_BUILDS := libfuzzer:libfuzzer: afl:afl: replay:replay: asan:asan: stab:stab: cov:cov: \
             $(foreach v,$(FZ_VARIANTS),replay-$(v):replay:$(v) libfuzzer-$(v):libfuzzer:$(v) afl-$(v):afl:$(v))
$(foreach b,$(FZ_BUILDS),$(eval $(call FZ_BUILD,$(word 1,$(subst :, ,$(b))),$(word 2,$(subst :, ,$(b))),$(word 3,$(subst :, ,$(b))))))

.PHONY: fuzz-build fuzz-variants fuzz-asan fuzz-stab fuzz-cov fuzz fuzz-smoke fuzz-replay fuzz-oss fuzz-seeds
fuzz-build: $(FZ_BIN_libfuzzer) $(FZ_BIN_afl) $(FZ_BIN_replay) \
            $(foreach v,$(FZ_VARIANTS),$(FZ_BIN_replay-$(v)))
fuzz-variants: $(foreach v,$(FZ_VARIANTS),$(FZ_BIN_libfuzzer-$(v)) $(FZ_BIN_afl-$(v)))
fuzz-asan: $(FZ_BIN_asan)
fuzz-stab: $(FZ_BIN_stab)
fuzz-cov: $(FZ_BIN_cov)

# The seed corpora are assembled from their text form (fuzz/seeds/<target>/*.fz).
fuzz-seeds: $(FZ_BIN_replay)
	@$(FZ_PYTHON) fuzz/seeds.py

fuzz: fuzz-build
	@$(FZ_PYTHON) fuzz/run.py fuzz --time $(FUZZ_TIME) --jobs $(FUZZ_JOBS)

fuzz-smoke: fuzz-build
	@$(FZ_PYTHON) fuzz/run.py smoke --time $(FUZZ_SMOKE_TIME)

fuzz-replay: fuzz-build
	@$(FZ_PYTHON) fuzz/run.py replay

# ClusterFuzzLite / OSS-Fuzz: CC, CFLAGS, LIB_FUZZING_ENGINE and OUT come from
# the environment (.clusterfuzzlite/build.sh). Coverage and sanitizers are
# in CFLAGS; the runtime gets its split checks on top.
ifneq ($(OUT),)
FZ_OSS_D := $(FZ_OUT)/oss
FZ_OSS_M   := $(call FZ_MODE,oss)
FZ_OSS_RTO := $(patsubst $(FZ_RTDIR)/src/%.c,$(FZ_OSS_D)/rt/%.o,$(call FZ_RT_SRCS,$(FZ_OSS_M))) \
              $(FZ_OSS_D)/rt/asm.o \
              $(patsubst $(FZ_RTDIR)/src/%.S,$(FZ_OSS_D)/rt/%.o,$(call FZ_RT_SASM,$(FZ_OSS_M)))
$(FZ_OSS_D)/rt/%.o: $(FZ_RTDIR)/src/%.c $(FZ_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FZ_CFLAGS) $(call FZ_SPLITF,$(FZ_OSS_M)) -c $< -o $@
$(FZ_OSS_D)/rt/asm.o: $(FZ_RT_ASM)
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@
$(FZ_OSS_D)/rt/split/%.o: $(FZ_RTDIR)/src/split/%.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@
$(FZ_OSS_D)/regloop.o: harness/arch/$(FZ_ARCH)/regloop.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@
$(FZ_OSS_D)/interp_g.o: $(FZ_OSS_D)/%.o: fuzz/%.c $(FZ_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FZ_CFLAGS) $(call FZ_SPLITF,$(FZ_OSS_M)) -c $< -o $@
$(FZ_OSS_D)/interp_c.o $(FZ_OSS_D)/decode.o $(FZ_OSS_D)/oracle.o: $(FZ_OSS_D)/%.o: fuzz/%.c $(FZ_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FZ_CFLAGS) -I$(FZ_RTDIR)/src/split/$(FZ_OSS_M) -c $< -o $@
$(FZ_OSS_D)/target-%.o: fuzz/fuzz_target.c $(FZ_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FZ_CFLAGS) -I$(FZ_RTDIR)/src/split/$(FZ_OSS_M) $(FZ_TFLAGS_$*) -c $< -o $@
$(addprefix $(OUT)/,$(FZ_TARGETS)): $(OUT)/%: $(FZ_OSS_D)/target-%.o $(FZ_OSS_RTO) \
		$(addprefix $(FZ_OSS_D)/,interp_g.o interp_c.o decode.o oracle.o regloop.o)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $^ $(LIB_FUZZING_ENGINE) $(call FZ_LIBS,$(FZ_OSS_M)) -o $@
fuzz-oss: $(addprefix $(OUT)/,$(FZ_TARGETS))
	@for t in $(FZ_TARGETS); do \
		rm -f $(OUT)/$${t}_seed_corpus.zip; \
		(cd corpora/$$t && zip -q -r $(abspath $(OUT))/$${t}_seed_corpus.zip .) || exit 1; \
		printf '[libfuzzer]\nhandle_usr1=0\nhandle_usr2=0\ntimeout=25\nmax_len=64\n' > $(OUT)/$$t.options; \
	done
else
fuzz-oss:
	@echo "fuzz-oss: set CC, CFLAGS, LIB_FUZZING_ENGINE and OUT (see .clusterfuzzlite/build.sh)" >&2; exit 2
endif
