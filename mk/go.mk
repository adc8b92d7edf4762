# mk/go.mk: the scenario programs against real Go runtimes (docs/targets.md).
# Included by the top Makefile; nothing here is part of the default `make`.
#
#   make go-scenarios    build/go/harness/sc_*     gc: Debian's Go 1.19
#                        build/gccgo/harness/sc_*  gccgo 12 (libgo), when
#                        installed; a clear message otherwise
#
# The same scenario sources as build/fixed/harness/, linked with
# harness/target_go.c and the Go side (harness/go) built as a C archive
# (-buildmode=c-archive) by each toolchain. The Go build is offline: a
# module without requirements, GOPROXY=off, GOFLAGS=-mod=readonly, and
# GOPATH/GOCACHE under build/. Toolchains: mk/deps.sh go.

GO       ?= /usr/lib/go-1.19/bin/go
GCCGO_GO ?= /usr/bin/go-12
GCCGO    ?= /usr/bin/gccgo-12

GO_HAVE    := $(wildcard $(GO))
GCCGO_HAVE := $(and $(wildcard $(GCCGO_GO)),$(wildcard $(GCCGO)))

GO_SIDE  := $(wildcard harness/go/*.go harness/go/*.c harness/go/*.h) harness/go/go.mod
GO_ENV    = GO111MODULE=on GOFLAGS=-mod=readonly GOPROXY=off GOWORK=off GOTOOLCHAIN=local \
            GOPATH=$(abspath build/$(1)/path) GOCACHE=$(abspath build/$(1)/cache) \
            CGO_ENABLED=1

# Scenario C: the harness flags without the runtime's split check (the
# code that runs on Go's stacks is C to Go, and Go has no split hook).
GO_SC_CFLAGS := $(filter-out -Iruntime/src -Iruntime/src/%,$(CFLAGS)) -Iharness -Iharness/arch/$(ARCH)
GO_SC_LIBS   := -lpthread -lboost_context

.PHONY: go-scenarios go-gc-scenarios go-gccgo-scenarios
go-scenarios: go-gc-scenarios go-gccgo-scenarios

ifeq ($(GO_HAVE),)
go-gc-scenarios:
	@echo "go.mk: $(GO) not found: no gc scenarios (mk/deps.sh go: apt-get install golang-1.19-go)" >&2; exit 1
else
go-gc-scenarios: $(SC_SRCS:harness/%.c=build/go/harness/%)
endif

ifeq ($(GCCGO_HAVE),)
go-gccgo-scenarios:
	@echo "go.mk: gccgo 12 not installed ($(GCCGO), $(GCCGO_GO)): skipping build/gccgo (mk/deps.sh go: apt-get install gccgo-12)"
else
go-gccgo-scenarios: $(SC_SRCS:harness/%.c=build/gccgo/harness/%)
endif

# The Go side, once per toolchain; cgo compiles harness/go/sqgo.c with CC.
build/go/libsqgo.a: $(GO_SIDE)
	@mkdir -p $(dir $@)
	cd harness/go && $(call GO_ENV,go) CC=clang $(GO) build -buildmode=c-archive -o $(abspath $@) .

build/gccgo/libsqgo.a: $(GO_SIDE)
	@mkdir -p $(dir $@)
	cd harness/go && $(call GO_ENV,gccgo) CC=gcc GCCGO=$(GCCGO) $(GCCGO_GO) build -compiler gccgo -buildmode=c-archive -o $(abspath $@) .

build/go/harness/target_go.o build/gccgo/harness/target_go.o: harness/target_go.c harness/target.h harness/go/sqgo.h
	@mkdir -p $(dir $@)
	$(CC) $(GO_SC_CFLAGS) -c $< -o $@

build/go/harness/%: harness/%.c $(SC_HDRS) build/go/harness/target_go.o build/go/libsqgo.a
	$(CC) $(GO_SC_CFLAGS) $< $(GO_SC_ARCH_OBJS) build/go/harness/target_go.o build/go/libsqgo.a $(GO_SC_LIBS) -o $@

# gccgo's archive needs libgo, which gccgo's driver knows where to find.
build/gccgo/harness/%: harness/%.c $(SC_HDRS) build/gccgo/harness/target_go.o build/gccgo/libsqgo.a
	$(CC) $(GO_SC_CFLAGS) -c $< -o $@.o
	$(GCCGO) $@.o $(GO_SC_ARCH_OBJS) build/gccgo/harness/target_go.o build/gccgo/libsqgo.a $(GO_SC_LIBS) -o $@
	@rm -f $@.o

# sc_preempt's register loop (harness/arch/<arch>/regloop.S), per toolchain dir.
build/go/harness/regloop.o build/gccgo/harness/regloop.o: harness/arch/$(ARCH)/regloop.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@
build/go/harness/sc_preempt: build/go/harness/regloop.o $(SC_ARCH_HDRS)
build/go/harness/sc_preempt: GO_SC_ARCH_OBJS := build/go/harness/regloop.o
build/gccgo/harness/sc_preempt: build/gccgo/harness/regloop.o $(SC_ARCH_HDRS)
build/gccgo/harness/sc_preempt: GO_SC_ARCH_OBJS := build/gccgo/harness/regloop.o
