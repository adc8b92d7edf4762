# bench/bench.mk: build the benchmark programs into $(B)/bench/.
#
# Called by `make bench` from the top directory, which passes B, CC, CFLAGS,
# SPLIT_CFLAGS and LDFLAGS and has already built $(B)/libsq.a:
#
#   make -f bench/bench.mk B=build/fixed CC=clang CFLAGS="..." SPLIT_CFLAGS="..." LDFLAGS="..."
#
# Alone (make -f bench/bench.mk B=build/fixed) it takes the split mode of
# this machine from mk/split.mk, as the top Makefile does.
#
#   sq_bench     the runtime's paths; its own code gets the split check too
#   anchors      C anchors (Boost.Context, swapcontext, getpid, call), no runtime
#   go_anchors   Go 1.19 anchors, only when the toolchain is installed
#
# The Go build is offline: a go.mod with no requirements, GOPROXY=off, and
# GOPATH/GOCACHE under build/go/.

B            ?= build/fixed
ifeq ($(origin CC),default)
CC           := clang
endif
ARCH         ?= $(shell uname -m)
LIBC         ?= glibc
include mk/split.mk
CFLAGS       ?= -O2 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
                -fno-omit-frame-pointer -fno-stack-protector \
                -Iruntime/include -Iruntime/src -Iruntime/src/arch/$(ARCH) \
                $(call SQ_SPLIT_INC,runtime)
SPLIT_CFLAGS ?= $(SQ_SPLIT_CFLAGS)
LDFLAGS      ?= $(SQ_SPLIT_LDFLAGS)
GO           ?= /usr/lib/go-1.19/bin/go

BB  := $(B)/bench
LIB := $(B)/libsq.a

PROGS := $(BB)/sq_bench $(BB)/anchors $(if $(wildcard $(GO)),$(BB)/go_anchors)

.PHONY: all
all: $(PROGS)
	@$(if $(wildcard $(GO)),:,echo "bench.mk: $(GO) not found: Go anchors not built (install golang-1.19-go)")

$(LIB):
	@echo "bench.mk: $(LIB) is missing; build it first: make $(LIB)" >&2; exit 1

# The same leaf twice: with the split check and without (see leaf.c).
$(BB)/leaf_split.o: bench/leaf.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SPLIT_CFLAGS) -DLEAF=bench_leaf_split -c $< -o $@

$(BB)/leaf_nosplit.o: bench/leaf.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DLEAF=bench_leaf_nosplit -c $< -o $@

# Foreign C code: no split check.
$(BB)/cside.o: bench/cside.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

SQ_OBJS := $(BB)/leaf_split.o $(BB)/leaf_nosplit.o $(BB)/cside.o

$(BB)/sq_bench: bench/sq_bench.c bench/bench.h runtime/include/sq.h $(SQ_OBJS) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SPLIT_CFLAGS) $< $(SQ_OBJS) $(LIB) $(LDFLAGS) -lpthread -lm -o $@

$(BB)/anchors: bench/anchors.c bench/bench.h harness/fcontext.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iharness $< -lboost_context -lm -o $@

GO_SRCS := $(wildcard bench/go/*.go bench/go/*.c) bench/go/go.mod
GO_ENV  := GO111MODULE=on GOFLAGS=-mod=readonly GOPROXY=off GOWORK=off \
           GOPATH=$(abspath build/go/path) GOCACHE=$(abspath build/go/cache) \
           CGO_ENABLED=1 CC=$(CC)

$(BB)/go_anchors: $(GO_SRCS)
	@mkdir -p $(dir $@)
	cd bench/go && $(GO_ENV) $(GO) build -o $(abspath $@) .
