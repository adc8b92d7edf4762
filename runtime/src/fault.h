/*
 * fault.h: named fault sites in the runtime's critical windows.
 *
 * FAULT(site) marks a point; in harness builds (SQ_HARNESS=1) an armed site
 * runs its action there, in normal builds the mark compiles to nothing.
 * Sites are listed once, in FAULT_SITES, with their public names.
 */
#ifndef SQ_FAULT_H
#define SQ_FAULT_H

#define FAULT_SITES(X) \
	X(ENTERSYSCALL_POISONED,   "entersyscall.poisoned")   \
	X(SYSCALL_WINDOW,          "syscall.window")          \
	X(EXITSYSCALL_ENTER,       "exitsyscall.enter")       \
	X(EXITSYSCALL_SLOW,        "exitsyscall.slow")        \
	X(NEWSTACK_ENTER,          "newstack.enter")          \
	X(SYSTEMSTACK_G0,          "systemstack.g0")          \
	X(CCALL_C,                 "ccall.c")                 \
	X(NEEDM_AFTER_SETG,        "needm.after_setg")        \
	X(NEEDM_BEFORE_MINIT,      "needm.before_minit")      \
	X(NEEDM_AFTER_MINIT,       "needm.after_minit")       \
	X(DROPM_BEFORE_UNMINIT,    "dropm.before_unminit")    \
	X(DROPM_AFTER_UNMINIT,     "dropm.after_unminit")     \
	X(DROPM_AFTER_CLEARG,      "dropm.after_clearg")      \
	X(MINIT_BEFORE_SIGALTSTACK,"minit.before_sigaltstack") \
	X(UNMINIT_AFTER_SIGALTSTACK,"unminit.after_sigaltstack") \
	X(CALLBACK_ENTER,          "callback.enter")          \
	X(SIGHANDLER_DISPATCH,     "sighandler.dispatch")     \
	X(YIELD_QUEUED,            "yield.queued")

#define FAULT_ENUM(id, name) FS_##id,
typedef enum FaultSite { FAULT_SITES(FAULT_ENUM) FS_NSITES } FaultSite;
#undef FAULT_ENUM

#ifndef SQ_HARNESS
#define SQ_HARNESS 0
#endif

void fault_hit(FaultSite site);
void fault_init(void);

#if SQ_HARNESS
#define FAULT(site) fault_hit(FS_##site)
#else
#define FAULT(site) do { } while (0)
#endif

#endif
