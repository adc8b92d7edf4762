/*
 * fault.h: named fault sites in the runtime's critical windows.
 *
 * FAULT(site) marks a point; in harness builds (SQ_HARNESS=1) an armed site
 * runs its action there, in normal builds the mark compiles to nothing.
 * Sites, their names and the context each runs in are the contract's table
 * (SQ_SITES in sq_contract.h).
 */
#ifndef SQ_FAULT_H
#define SQ_FAULT_H

#include "sq_contract.h"

typedef enum sq_site_id FaultSite;

#ifndef SQ_HARNESS
#define SQ_HARNESS 0
#endif

void fault_hit(FaultSite site);
void fault_init(void);

#if SQ_HARNESS
#define FAULT(site) fault_hit(SQ_SITE_##site)
#else
#define FAULT(site) do { } while (0)
#endif

#endif
