# mk/split.mk: how the split check is compiled, per arch and C library
# (docs/runtime.md, "Split checks"). Included by the top Makefile after
# mk/arch.mk, and by fuzz/fuzz.mk, with ARCH and LIBC set.
#
#   SQ_SPLIT          the mode, and the folder runtime/src/split/<mode>/
#                     that implements it:
#                       tcb   x86-64 glibc: clang's -fsplit-stack. Every
#                             checked function opens with an inline
#                             `cmp %fs:0x70,%rsp; jbe` against the word glibc
#                             reserves for split stacks in its TCB; the
#                             runtime owns __morestack and keeps the current
#                             g's guard in that word.
#                       hook  everywhere else (musl's TCB has no such word;
#                             clang has no -fsplit-stack for aarch64 or
#                             riscv64): -finstrument-function-entry-bare, a
#                             call to an entry hook that compares sp with
#                             g->stackguard.
#   SQ_SPLIT_CFLAGS   the compiler flag that inserts the check
#   SQ_SPLIT_INC      -I for the mode's header (splitword.h)
#   SQ_SPLIT_SRCS     the mode's sources, relative to the runtime folder
#                     ($(call SQ_SPLIT_SRCS,runtime))
#   SQ_SPLIT_*_<mode> the same for a given mode (fuzz/fuzz.mk builds ASan
#                     fuzzers in hook mode: see below)
#   SQ_SPLIT_LDFLAGS  what every program linking split-checked objects needs:
#                     tcb links with GNU ld (bfd). gold and lld "adjust" a
#                     split-stack function that calls code compiled without
#                     -fsplit-stack (libc, NOSPLIT functions) for segmented
#                     stacks: gold refuses to link, lld turns the compare into
#                     `stc`, so that every call of the function goes to
#                     __morestack. Our G stacks are not segmented: the guard
#                     below the check is what such calls run in, as in Go.
#
# SQ_SPLIT=hook on the command line forces the hook on x86-64 glibc too (to
# measure one against the other); such a build goes to $(B)-split<mode>/.

ifndef SQ_SPLIT_MK
SQ_SPLIT_MK := 1

SQ_SPLIT_DEFAULT := $(if $(and $(filter x86_64,$(ARCH)),$(filter glibc,$(LIBC))),tcb,hook)
SQ_SPLIT ?= $(SQ_SPLIT_DEFAULT)

ifeq ($(filter $(SQ_SPLIT),tcb hook),)
$(error unknown SQ_SPLIT=$(SQ_SPLIT); one of: tcb hook)
endif
ifeq ($(SQ_SPLIT),tcb)
ifneq ($(ARCH)-$(LIBC),x86_64-glibc)
$(error SQ_SPLIT=tcb needs x86_64 and glibc (the TCB word at %fs:0x70), not $(ARCH) $(LIBC))
endif
endif

# tcb: -fsplit-stack goes to the compiler proper (-Xclang). Given to the
# driver, it also changes the link: clang then adds --wrap=pthread_create
# for libgcc's segmented stacks, which pulls libgcc's __morestack in beside
# ours. We compile and link in one command, so the driver must not see it.
#
# tcb cannot build ASan code: ASan's stack-use-after-return fallback and
# use-after-scope make dynamic allocas, and a split-stack dynamic alloca
# calls __morestack_allocate_stack_space to get memory from another segment,
# which a stack that never moves cannot give. ASan builds use hook mode.
SQ_SPLIT_CFLAGS_tcb   := -Xclang -fsplit-stack
SQ_SPLIT_LDFLAGS_tcb  := -fuse-ld=bfd
SQ_SPLIT_SRCS_tcb      = $(1)/src/split/tcb/tcb.c $(1)/src/split/tcb/morestack.S
SQ_SPLIT_CFLAGS_hook  := -finstrument-function-entry-bare
SQ_SPLIT_LDFLAGS_hook :=
SQ_SPLIT_SRCS_hook     = $(1)/src/split/hook/hook.c

SQ_SPLIT_CFLAGS  := $(SQ_SPLIT_CFLAGS_$(SQ_SPLIT))
SQ_SPLIT_LDFLAGS := $(SQ_SPLIT_LDFLAGS_$(SQ_SPLIT))
SQ_SPLIT_SRCS     = $(call SQ_SPLIT_SRCS_$(SQ_SPLIT),$(1))
SQ_SPLIT_INC      = -I$(1)/src/split/$(SQ_SPLIT)

ifneq ($(SQ_SPLIT),$(SQ_SPLIT_DEFAULT))
B := $(B)-split$(SQ_SPLIT)
endif

endif
