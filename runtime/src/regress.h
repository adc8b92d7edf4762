/*
 * regress.h: regression variants. `make REGRESS=<name>` defines one of these
 * to 1 and builds the runtime with that historical fix undone. Each variant
 * restores the pre-fix logic at the place the fix changed, and nothing else.
 *
 *   REGRESS_MAPSTACK             stacks are never remapped MAP_STACK
 *   REGRESS_SYSCALLSPLIT         entersyscall without throwsplit, slow paths
 *                                run on the G's stack, guard poisoned last
 *   REGRESS_STACKSWITCH          a bound M keeps its first g0 bounds
 *   REGRESS_ATTACHSIG            needm/dropm do not block signals
 *   REGRESS_GSIGNAL_SYSTEMSTACK  systemstack does not reject gsignal
 *   REGRESS_ARM_SYSTEMSTACK_CURG the aarch64 arch layer's "is g curg?" test
 *                                compares against m->g0 (the other arches'
 *                                code does not read it)
 */
#ifndef SQ_REGRESS_H
#define SQ_REGRESS_H

#ifndef REGRESS_MAPSTACK
#define REGRESS_MAPSTACK 0
#endif
#ifndef REGRESS_SYSCALLSPLIT
#define REGRESS_SYSCALLSPLIT 0
#endif
#ifndef REGRESS_STACKSWITCH
#define REGRESS_STACKSWITCH 0
#endif
#ifndef REGRESS_ATTACHSIG
#define REGRESS_ATTACHSIG 0
#endif
#ifndef REGRESS_GSIGNAL_SYSTEMSTACK
#define REGRESS_GSIGNAL_SYSTEMSTACK 0
#endif
#ifndef REGRESS_ARM_SYSTEMSTACK_CURG
#define REGRESS_ARM_SYSTEMSTACK_CURG 0
#endif

#endif
