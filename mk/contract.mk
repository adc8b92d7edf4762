# mk/contract.mk: what the Makefiles need from the runtime's contract
# (runtime/include/sq_contract.h), read from its table, never retyped.
#
#   SQ_VARIANTS          every regression variant's name
#   SQ_VARIANTS_FOR(a)   the variants an $(a) build can show (the ones whose
#                        mistake lives in every arch's code, or in a's)
#   SQ_REGRESS_DEF(v)    the compiler flag that builds variant v

SQ_CONTRACT_H := $(dir $(lastword $(MAKEFILE_LIST)))../runtime/include/sq_contract.h
# "name arch" per variant row, arch "-" for every arch.
SQ_VARIANT_ROWS := $(shell sed -n '/^\#define SQ_VARIANTS(X)/,/^$$/s/^[[:space:]]*X.[A-Z0-9_]*, *"\([a-z0-9-]*\)", *"\([a-z0-9_]*\)".*/\1:\2/p' $(SQ_CONTRACT_H))
SQ_VARIANTS := $(foreach r,$(SQ_VARIANT_ROWS),$(firstword $(subst :, ,$(r))))
SQ_VARIANTS_FOR = $(foreach r,$(SQ_VARIANT_ROWS),$(if $(filter $(r),$(firstword $(subst :, ,$(r))):$(1) $(firstword $(subst :, ,$(r))):),$(firstword $(subst :, ,$(r)))))
SQ_REGRESS_DEF = -DSQ_REGRESS=SQ_V_$(shell echo $(1) | tr 'a-z-' 'A-Z_')

ifeq ($(strip $(SQ_VARIANTS)),)
$(error mk/contract.mk: no variants read from $(SQ_CONTRACT_H))
endif
