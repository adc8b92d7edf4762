# mk/arch.mk: target architecture and C library, included by the top Makefile
# after it has set ARCH, VARIANT, CC, CFLAGS and LDLIBS (see docs/arch.md).
#
#   ARCH=x86_64|aarch64|riscv64   default: the host's (uname -m)
#   LIBC=glibc|musl               default: glibc
#
# Sets:
#   B          build/<variant> for the host's own arch with glibc (as before),
#              build/<variant>-<arch> for a cross arch,
#              build/<variant>-<arch>-musl for musl
#   CC         clang --target=<triple> for a cross arch or musl (the asm rule
#              uses $(CC) alone, so the target travels in CC, not in CFLAGS);
#              untouched for the host's own glibc build
#   CFLAGS     += the target's flags (musl: its headers instead of glibc's)
#   LDFLAGS    the target's link flags: -static for cross arches and musl
#   EMU        what runs a target binary here: qemu-<arch> for a cross arch,
#              empty for the host's own. Test runners prefix commands with it.
#   CTX_LIBS   what rt_callback (and the harness scenarios) link for their
#              Boost.Context stack switches: -lboost_context natively on
#              glibc, else stackquake's own Boost-ABI switch (tools/cross/
#              fcontext/<arch>.S); CTX_DEPS lists that object
#   SQ_TOOLS   "tools" when the ptrace tools can run the target (the host's
#              own arch), else empty: qemu-user cannot ptrace its guest
#
# Cross builds use Debian's cross toolchains (mk/deps.sh cross: gcc-<arch>-
# linux-gnu, libc6-dev-<arch>-cross, qemu-user): clang finds the cross GCC
# installation under /usr/lib/gcc-cross/<triple>/ by itself and links with
# <triple>-ld. Binaries are static, so `qemu-aarch64 ./prog` runs them with
# no -L sysroot and no binfmt set-up.
#
# musl: Debian's musl-dev is for the host architecture only, so LIBC=musl
# means x86_64 here. clang compiles against musl's headers (plus the kernel's
# linux/, asm/ and asm-generic/ through a small overlay under $(B)/, since
# musl ships none) and links musl's crt files and libc.a statically.

HOST_ARCH := $(shell uname -m)
LIBC      ?= glibc
SQ_ARCHES := x86_64 aarch64 riscv64

ifeq ($(filter $(ARCH),$(SQ_ARCHES)),)
$(error unknown ARCH=$(ARCH); one of: $(SQ_ARCHES))
endif
ifeq ($(filter $(LIBC),glibc musl),)
$(error unknown LIBC=$(LIBC); one of: glibc musl)
endif

CROSS := $(if $(filter $(HOST_ARCH),$(ARCH)),,1)

ifeq ($(LIBC),musl)
ifneq ($(CROSS),)
$(error LIBC=musl is built for the host architecture ($(HOST_ARCH)) only: Debian has no musl cross sysroot)
endif
TRIPLE     := $(ARCH)-linux-musl
MUSL_INC   := /usr/include/$(ARCH)-linux-musl
MUSL_LIB   := /usr/lib/$(ARCH)-linux-musl
ifeq ($(wildcard $(MUSL_LIB)/libc.a),)
$(error LIBC=musl needs $(MUSL_LIB)/libc.a: apt-get install musl-dev (mk/deps.sh cross))
endif
B          := build/$(VARIANT)-$(ARCH)-musl
# musl has no kernel headers; point at the host's, and at nothing else of glibc's.
KHDR       := $(B)/kinclude
_ := $(shell mkdir -p $(KHDR) && \
	ln -sfn /usr/include/linux $(KHDR)/linux && \
	ln -sfn /usr/include/asm-generic $(KHDR)/asm-generic && \
	ln -sfn /usr/include/$(ARCH)-linux-gnu/asm $(KHDR)/asm)
ARCH_CFLAGS  := -nostdinc -isystem $(MUSL_INC) -isystem $(KHDR) \
                -isystem $(shell clang -print-resource-dir)/include
ARCH_LDFLAGS := -static -B$(MUSL_LIB) -L$(MUSL_LIB)
else
TRIPLE     := $(ARCH)-linux-gnu
ifneq ($(CROSS),)
B          := build/$(VARIANT)-$(ARCH)
ARCH_LDFLAGS := -static
else
ARCH_LDFLAGS :=
endif
ARCH_CFLAGS  :=
endif

# The psABI each port is written for (asm.S checks it with #error); in CC,
# like the triple, so that the asm rule gets it too.
TARGET_FLAGS := --target=$(TRIPLE)
ifeq ($(ARCH),riscv64)
TARGET_FLAGS += -march=rv64gc -mabi=lp64d
endif

ifneq ($(CROSS)$(filter musl,$(LIBC)),)
CC       := clang $(TARGET_FLAGS)
endif
CFLAGS   += $(ARCH_CFLAGS)
LDFLAGS  += $(ARCH_LDFLAGS)
EMU      := $(if $(CROSS),qemu-$(ARCH))
SQ_TOOLS := $(if $(CROSS),,tools)

# Boost.Context is installed for the host's glibc only. (musl implements no
# ucontext functions either: rt_callback and harness/cstack.h do without
# them there, see docs/arch.md.)
ifeq ($(CROSS)$(filter musl,$(LIBC)),)
CTX_DEPS :=
CTX_LIBS := -lboost_context
else
CTX_DEPS := $(B)/fctx/$(ARCH).o
CTX_LIBS := $(CTX_DEPS)
endif

# Pattern rules, so that including this file sets no default goal.
$(B)/fctx/%.o: tools/cross/fcontext/%.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@

