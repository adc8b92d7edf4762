/*
 * regress.h: regression variants (the table is SQ_VARIANTS in sq_contract.h).
 * `make REGRESS=<name>` builds the runtime with SQ_REGRESS set to that
 * variant's SQ_V_ id, and REGRESS(ID) is true in exactly that build. Each
 * variant restores the pre-fix logic at the place the fix changed, and
 * nothing else. A misspelt ID does not compile.
 */
#ifndef SQ_REGRESS_H
#define SQ_REGRESS_H

#include "sq_contract.h"

#ifndef SQ_REGRESS
#define SQ_REGRESS SQ_V_N	/* the fixed runtime */
#endif

#define REGRESS(id) (SQ_REGRESS == SQ_V_##id)

#endif
