/*
 * sq_contract.h: the runtime's contract with whoever tortures it, written
 * once. Every list a harness, a fuzzer, a Makefile or a document needs from
 * the runtime is a table here, as an X-macro; C code expands it, and
 * everything else reads the JSON that `build/describe` prints from it
 * (build/contract.json, made by `make`). Adding a variant, a fault site, a
 * fatal error or a rule is one row here plus its implementation; a test
 * (pytest/test_contract.py) fails if any other file spells one out.
 *
 * Tables:
 *   SQ_VARIANTS    regression variants: one historical fix undone each
 *   SQ_FATALS      fatal errors: "fatal error: <message>", and their class
 *   SQ_CONTEXTS    where a fault site runs (which stack, which window)
 *   SQ_SITES       fault sites, by context
 *   SQ_ACTIONS     what an armed site does
 *   SQ_ARM_RULES   what a correct runtime owes for an action at a context:
 *                  a refusal (a named fatal error), nothing worth testing,
 *                  or a livelock by construction
 *   SQ_WINDOWS     the signal windows a precise injector (sigpoke) sweeps
 *                  instruction by instruction, and how sp_window runs each
 *
 * The text columns marked "doc" are for people (docs/contract.md and
 * docs/fatal-errors.md are generated from them); the runtime's own
 * expansions drop them, so they cost nothing in a binary.
 */
#ifndef SQ_CONTRACT_H
#define SQ_CONTRACT_H

/* X(ID, name, arch, doc: the pre-fix logic restored). `make REGRESS=name`
 * builds with SQ_REGRESS=SQ_V_ID; the runtime tests REGRESS(ID). arch: the
 * only architecture whose code holds the mistake ("" for all). */
#define SQ_VARIANTS(X) \
	X(MAPSTACK, "mapstack", "", \
	  "stacks are never remapped MAP_STACK: os_stack_alloc and os_stack_free are not called") \
	X(SYSCALLSPLIT, "syscallsplit", "", \
	  "entersyscall without throwsplit; the guard is poisoned last; slow paths run on the G's stack") \
	X(STACKSWITCH, "stackswitch", "", \
	  "a bound M keeps the g0 bounds of its first callback") \
	X(ATTACHSIG, "attachsig", "", \
	  "needm and dropm do not block signals") \
	X(GSIGNAL_SYSTEMSTACK, "gsignal-systemstack", "", \
	  "systemstack does not reject the signal stack") \
	X(ARM_SYSTEMSTACK_CURG, "arm-systemstack-curg", "aarch64", \
	  "the aarch64 arch layer's \"is g curg?\" test compares against m->g0") \
	X(ASYNCPREEMPT_FXSAVE, "asyncpreempt-fxsave", "x86_64", \
	  "the asynchronous preemption routine saves the vector state with fxsave whatever the CPU has: x87 and the low halves of XMM0-15 only, so the upper halves of YMM/ZMM, ZMM16-31 and the opmask registers are whatever ran in between") \
	X(HOSTONSTACK, "hostonstack", "", \
	  "signal_init leaves the program's handlers for signals the runtime does not handle as they are: one installed without SA_ONSTACK runs on a G's stack, where a SIGURG can preempt the G asynchronously inside it")

/* Classes of fatal errors:
 *   REFUSAL    the runtime refusing something illegal a program (or an
 *              armed site) asked of it: the right answer to that request
 *   CRASH      the program faulted in its own code
 *   INVARIANT  the runtime caught its own state broken: a runtime bug
 *   RESOURCE   the system said no (memory, threads)
 */
#define SQ_FATAL_CLASSES(X) \
	X(REFUSAL, "refusal") \
	X(CRASH, "crash") \
	X(INVARIANT, "invariant") \
	X(RESOURCE, "resource")

/* X(ID, message, class, doc: what it means, doc: what produces it on
 * purpose). Messages are a stable interface: add rows at the end, never
 * reword one. */
#define SQ_FATALS(X) \
	X(SPLIT_BAD_TIME, "stack split at bad time", REFUSAL, \
	  "a split check failed inside a syscall window (throwsplit set): code that may split ran where the G's stack holds a syscall's arguments", \
	  "a split armed at a syscall-window site") \
	X(MORESTACK_G0, "morestack on g0", REFUSAL, \
	  "a split check failed on an M's system stack: g0 overflowed, or its bounds are wrong (a foreign thread switched stacks and the bounds were not re-derived)", \
	  "deep recursion in C run by sq_ccall") \
	X(MORESTACK_GSIGNAL, "morestack on gsignal", REFUSAL, \
	  "a split check failed on the signal stack", \
	  "deep recursion in a forwarded signal handler") \
	X(STACK_OVERFLOW, "stack overflow", REFUSAL, \
	  "a G's sp went below its stack's low end plus the guard (split check), or the G touched the guard page under its stack (SIGSEGV)", \
	  "unbounded recursion with and without split checks") \
	X(BAD_STATUS, "bad g status transition", INVARIANT, \
	  "a G's status change was not an edge of the status table, or the G was not in the expected status", \
	  "misuse gstatus") \
	X(SYSTEMSTACK_GSIGNAL, "systemstack called from signal stack", REFUSAL, \
	  "systemstack from gsignal: g0 may be in use by the interrupted code, and the switch back would land on m->curg", \
	  "systemstack armed at the signal handler's site") \
	X(MCALL_G0, "mcall called on g0", INVARIANT, \
	  "mcall from g0 or gsignal: there is no G to save", \
	  "misuse mcall-g0") \
	X(MCALL_RETURNED, "mcall function returned", INVARIANT, \
	  "an mcall continuation returned; they must schedule", \
	  "misuse mcall-return") \
	X(SYSCALL_INCONSISTENT, "entersyscall inconsistent", INVARIANT, \
	  "a G entered a syscall with sp outside its stack", \
	  "misuse syscall-bounds") \
	X(SYSCALL_CORRUPTED, "syscall window state corrupted", INVARIANT, \
	  "harness builds: a G leaving a syscall no longer describes where it entered (sched.sp != syscallsp, or outside its stack): something ran on its stack inside the window and overwrote the saved state", \
	  "the syscall-split variant with a split armed in the window") \
	X(STACK_ALLOC, "out of memory allocating stack", RESOURCE, \
	  "mmap of a stack span failed", \
	  "a low address-space limit") \
	X(STACK_NOT_ALLOCATED, "freeing a stack that was not allocated", INVARIANT, \
	  "stackfree of a range the allocator never handed out", \
	  "misuse stackfree") \
	X(DEADLOCK, "all goroutines are asleep - deadlock!", REFUSAL, \
	  "in an sq_main program, every M is idle, every G waits, no timer is pending, and no thread the runtime does not own exists (any such thread could call in)", \
	  "the main G receives on a channel nobody sends on") \
	X(SCHEDULE_LOCKS, "schedule: holding locks", INVARIANT, \
	  "an M entered the scheduler with runtime locks held", \
	  "misuse schedlock") \
	X(BAD_P_STATE, "bad p state", INVARIANT, \
	  "a P was acquired while owned, or released while not owned, or left idle with Gs queued", \
	  "misuse pstate") \
	X(NO_SIGSTACK, "signal arrived on a thread with no signal stack", INVARIANT, \
	  "the runtime's handler ran on a thread that has a g but no sigaltstack: non-runtime code disabled it, or a signal landed in the attach/detach window", \
	  "sigaltstack(SS_DISABLE) on a runtime thread, then a signal") \
	X(NOT_ON_SIGSTACK, "signal handler not running on the signal stack", INVARIANT, \
	  "the thread has a signal stack, but the handler is not running on it: a handler installed without SA_ONSTACK called the runtime's (a signal stack the thread put in itself is used, as Go's adjustSignalStack does)", \
	  "a handler without SA_ONSTACK, installed after the runtime, that calls the runtime's") \
	X(UNEXPECTED_SIGNAL, "unexpected signal", CRASH, \
	  "a synchronous SIGSEGV, SIGBUS, SIGILL or SIGFPE (or SIGABRT) in runtime-attached code", \
	  "a null dereference in a G") \
	X(CALLBACK_SP, "callback with sp out of bounds", REFUSAL, \
	  "a callback arrived with sp outside g0's bounds while runtime frames are up the stack (a callback from C run by sq_ccall after the C code switched stacks): g0 cannot be moved under them", \
	  "sq_ccall, then a stack switch, then sq_callback") \
	X(CALLBACK_FROM_G, "callback from a goroutine stack", REFUSAL, \
	  "sq_callback called on a G or on gsignal; C that calls back must be run with sq_ccall", \
	  "sq_callback from a G") \
	X(NEWM, "cannot create thread", RESOURCE, \
	  "pthread_create failed when the scheduler needed another M", \
	  "misuse newm") \
	X(INIT_TWICE, "sq_main called twice", REFUSAL, \
	  "sq_main when the runtime is already running", \
	  "sq_main from the main G") \
	X(NOT_INIT, "runtime not initialized", REFUSAL, \
	  "a call that needs the runtime before sq_main or sq_init", \
	  "sq_yield first thing in main") \
	X(BAD_ARG, "bad argument to runtime call", REFUSAL, \
	  "a malformed setting in the environment (SQ_*), or a G-only call from outside a G", \
	  "sq_yield on a foreign thread") \
	X(INVARIANT, "invariant violated", INVARIANT, \
	  "sq_check_or_throw found a broken invariant (each printed as \"invariant: ...\" first)", \
	  "a G left alive at a quiescent check; misuse dump-fault (a fault inside the dump then ends the process at once)") \
	X(THREAD_EXIT, "thread exited with runtime frames on its stack", REFUSAL, \
	  "a thread ended (pthread_exit, cancellation) while a callback ran on it, or an M's thread ended inside C run by sq_ccall: the runtime's frames up its stack, its G and its P cannot be unwound, and would be lost without a word", \
	  "pthread_exit inside a callback") \
	X(GOEXIT_CALLBACK, "goexit inside a callback", REFUSAL, \
	  "sq_goexit on a G that is running a callback: that G stands for the foreign thread's own call, whose C frames cannot be ended (Go: \"runtime.Goexit called in a thread that was not created by the Go runtime\")", \
	  "sq_goexit in a callback from a foreign thread, and in one from C run by sq_ccall") \
	X(NO_GOROUTINES, "no goroutines (main called sq_goexit) - deadlock!", REFUSAL, \
	  "in an sq_main program the main G ended with sq_goexit and every other G has exited: nothing is left to run and nothing can call in (Go's \"no goroutines (main called runtime.Goexit) - deadlock!\")", \
	  "sq_goexit from the main G, locked to the main thread, after its other Gs")

/* X(ID, name, doc). Where a site runs decides what an action there means. */
#define SQ_CONTEXTS(X) \
	X(WINDOW, "window", "on a G's stack inside a syscall window: guard poisoned, throwsplit set") \
	X(G, "g", "on a running G, outside any window") \
	X(G0, "g0", "on the M's system stack") \
	X(ATTACH, "attach", "a foreign thread half attached or detached: g, signal stack and mask in flux") \
	X(GSIGNAL, "gsignal", "in the runtime's signal handler, on the signal stack")

/* X(ID, name, context, doc: where). New rows go last: fuzz inputs name a
 * site by its index here, and the saved corpora and reproducers must keep
 * naming the same ones. */
#define SQ_SITES(X) \
	X(ENTERSYSCALL_POISONED, "entersyscall.poisoned", WINDOW, \
	  "end of entersyscall: guard poisoned, P released") \
	X(SYSCALL_WINDOW, "syscall.window", WINDOW, \
	  "between entersyscall and the raw system call") \
	X(EXITSYSCALL_ENTER, "exitsyscall.enter", WINDOW, \
	  "entry of exitsyscall") \
	X(EXITSYSCALL_SLOW, "exitsyscall.slow", WINDOW, \
	  "exitsyscall, before its slow path (no P to be had at once)") \
	X(NEWSTACK_ENTER, "newstack.enter", G0, \
	  "newstack on g0, after a failed split check") \
	X(SYSTEMSTACK_G0, "systemstack.g0", G0, \
	  "inside systemstack, on g0") \
	X(CCALL_C, "ccall.c", G0, \
	  "on g0, before sq_ccall's C function") \
	X(NEEDM_AFTER_SETG, "needm.after_setg", ATTACH, \
	  "attach: g just installed (last; before the fix, first)") \
	X(NEEDM_BEFORE_MINIT, "needm.before_minit", ATTACH, \
	  "attach: M taken, g0 bounds set, no signal stack yet") \
	X(NEEDM_AFTER_MINIT, "needm.after_minit", ATTACH, \
	  "attach: signal stack installed (g not yet, unless before the fix)") \
	X(DROPM_BEFORE_UNMINIT, "dropm.before_unminit", ATTACH, \
	  "detach: signal stack still installed (g gone, unless before the fix)") \
	X(DROPM_AFTER_UNMINIT, "dropm.after_unminit", ATTACH, \
	  "detach: signal stack removed, M not yet given back") \
	X(DROPM_AFTER_CLEARG, "dropm.after_clearg", ATTACH, \
	  "detach: g just cleared (first; before the fix, after unminit)") \
	X(MINIT_BEFORE_SIGALTSTACK, "minit.before_sigaltstack", ATTACH, \
	  "minit, just before sigaltstack") \
	X(UNMINIT_AFTER_SIGALTSTACK, "unminit.after_sigaltstack", ATTACH, \
	  "unminit, just after the signal stack is removed") \
	X(CALLBACK_ENTER, "callback.enter", G0, \
	  "on g0 at the start of a callback") \
	X(SIGHANDLER_DISPATCH, "sighandler.dispatch", GSIGNAL, \
	  "in the signal handler, on gsignal, before dispatch") \
	X(YIELD_QUEUED, "yield.queued", G, \
	  "yield's fast path: the G is back on its queue, its context not yet saved") \
	X(ASYNCPREEMPT_INJECT, "asyncpreempt.inject", GSIGNAL, \
	  "in the signal handler, a G at a safe point about to be diverted into the preemption routine") \
	X(ASYNCPREEMPT_SAVED, "asyncpreempt.saved", G, \
	  "on an asynchronously preempted G, every register saved on its stack, before it yields") \
	X(ASYNCPREEMPT_RESUME, "asyncpreempt.resume", G, \
	  "on an asynchronously preempted G running again (maybe on another M), before its registers are restored") \
	X(FINDRUNNABLE_IDLE, "findrunnable.idle", G0, \
	  "findrunnable found no work: its P is idle, the M still counts as spinning") \
	X(YIELD_DETACHED, "yield.detached", G0, \
	  "yield's slow path on g0: the G detached from its M, not yet on a queue") \
	X(RUNQPUT_SLOT, "runqput.slot", G0, \
	  "runqput: the G written to its slot, the tail not yet published (on g0, or on a G holding a lock)")

/* X(ID, name, doc). */
#define SQ_ACTIONS(X) \
	X(SPLIT, "split", "call a function that has a split check") \
	X(YIELD, "yield", "yield the G (where the current g is a running G holding no runtime lock; elsewhere it spins)") \
	X(SPIN, "spin", "busy-wait about 100 us, widening the window") \
	X(SIGNAL, "signal", "send a signal (default SIGURG) to the current thread with tgkill") \
	X(SYSTEMSTACK, "systemstack", "call systemstack with an empty function")

/* Verdicts on an armed action, for a correct runtime. */
#define SQ_VERDICTS(X) \
	X(OK, "ok", "legal, and the runtime must carry on as if nothing happened") \
	X(REFUSED, "refused", "illegal there: the runtime must end with the rule's fatal error") \
	X(NOOP, "noop", "legal but tests nothing (an ordinary call where it is made)") \
	X(LIVELOCK, "livelock", "each firing causes the next: armed on every hit it never ends")

/* X(context, action, every, verdict, fatal): the first row that matches a
 * site's context and an action decides; no row means OK. context ANY and
 * every ANY match everything; every ONCE / EVERY match arms on one hit /
 * on every hit. fatal: the error a REFUSED arm is owed, NONE otherwise. */
#define SQ_ARM_RULES(X) \
	X(WINDOW,  SPLIT,       ANY,   REFUSED,  SPLIT_BAD_TIME) \
	X(GSIGNAL, SYSTEMSTACK, ANY,   REFUSED,  SYSTEMSTACK_GSIGNAL) \
	X(ANY,     SYSTEMSTACK, ANY,   NOOP,     NONE) \
	X(GSIGNAL, SIGNAL,      EVERY, LIVELOCK, NONE)

/* X(ID, name, functions, mode, comm, doc): the runtime's signal windows,
 * named for the precise injector (sigpoke, driven by sqlib/sigpoke.py),
 * which sends a signal at every instruction of the functions (and of their
 * inlined copies). functions: comma-separated, the runtime's own names;
 * mode: the mode of the window program runtime/tests/sp_window.c that runs
 * them over and over; comm: the name of the thread to poke there ("" for
 * any). A correct runtime survives a signal at every one of them. */
#define SQ_WINDOWS(X) \
	X(ATTACH, "attach", "needm,minit", "unbound", "sp-callback", \
	  "a foreign thread attaching: g installed, g0 bounds set, the signal stack installed, its mask restored") \
	X(DETACH, "detach", "dropm,unminit", "unbound", "sp-callback", \
	  "a foreign thread detaching: signals blocked, the signal stack removed, g cleared, the M given back") \
	X(SYSCALL, "syscall", "entersyscall,reentersyscall,exitsyscall,entersyscallblock", "unbound", "", \
	  "a G entering and leaving a system call: guard poisoned, throwsplit set, its P released and taken back") \
	X(SIGHANDLER, "sighandler", "sighandler,badsignal", "signals", "", \
	  "the runtime's signal handler from its first instruction: finding g, checking the signal stack, dispatching")

/* ---- expansions every C user shares ------------------------------------- */

#define SQ_CONTRACT_ID_(id, ...) SQ_V_##id,
enum sq_variant_id { SQ_VARIANTS(SQ_CONTRACT_ID_) SQ_V_N };
#undef SQ_CONTRACT_ID_
#define SQ_CONTRACT_ID_(id, ...) SQ_FC_##id,
enum sq_fatal_class { SQ_FATAL_CLASSES(SQ_CONTRACT_ID_) SQ_FC_N };
#undef SQ_CONTRACT_ID_
#define SQ_CONTRACT_ID_(id, ...) SQ_F_##id,
enum sq_fatal_id { SQ_FATALS(SQ_CONTRACT_ID_) SQ_F_N, SQ_F_NONE = -1 };
#undef SQ_CONTRACT_ID_
#define SQ_CONTRACT_ID_(id, ...) SQ_CTX_##id,
enum sq_context { SQ_CONTEXTS(SQ_CONTRACT_ID_) SQ_CTX_N, SQ_CTX_ANY = -1 };
#undef SQ_CONTRACT_ID_
#define SQ_CONTRACT_ID_(id, ...) SQ_SITE_##id,
enum sq_site_id { SQ_SITES(SQ_CONTRACT_ID_) SQ_SITE_N };
#undef SQ_CONTRACT_ID_
#define SQ_CONTRACT_ID_(id, ...) SQ_ACT_##id,
enum sq_action_id { SQ_ACTIONS(SQ_CONTRACT_ID_) SQ_ACT_N };
#undef SQ_CONTRACT_ID_
#define SQ_CONTRACT_ID_(id, ...) SQ_VERDICT_##id,
enum sq_verdict { SQ_VERDICTS(SQ_CONTRACT_ID_) SQ_VERDICT_N };
#undef SQ_CONTRACT_ID_
enum { SQ_EVERY_ANY = -1, SQ_EVERY_ONCE = 0, SQ_EVERY_EVERY = 1 };

/* Lookups by id. Any stack, no allocation, async-signal-safe; NULL or -1
 * for an id out of range. */
#define SQ_CONTRACT_FN_ __attribute__((no_instrument_function, no_split_stack, unused)) static inline

SQ_CONTRACT_FN_ const char *sq_variant_name(int v)
{
#define SQ_CONTRACT_NAME_(id, name, ...) name,
	static const char *const names[] = { SQ_VARIANTS(SQ_CONTRACT_NAME_) };
	return v >= 0 && v < SQ_V_N ? names[v] : 0;
}

SQ_CONTRACT_FN_ const char *sq_site_name(int site)
{
	static const char *const names[] = { SQ_SITES(SQ_CONTRACT_NAME_) };
	return site >= 0 && site < SQ_SITE_N ? names[site] : 0;
}

SQ_CONTRACT_FN_ const char *sq_action_name(int action)
{
	static const char *const names[] = { SQ_ACTIONS(SQ_CONTRACT_NAME_) };
	return action >= 0 && action < SQ_ACT_N ? names[action] : 0;
}

SQ_CONTRACT_FN_ const char *sq_fatal_message(int f)
{
	static const char *const names[] = { SQ_FATALS(SQ_CONTRACT_NAME_) };
	return f >= 0 && f < SQ_F_N ? names[f] : 0;
}
#undef SQ_CONTRACT_NAME_

/* A fatal error's id as written in the table ("SPLIT_BAD_TIME"); lower
 * case, it is the key the JSON contract and the records use. */
SQ_CONTRACT_FN_ const char *sq_fatal_id(int f)
{
#define SQ_CONTRACT_IDSTR_(id, ...) #id,
	static const char *const ids[] = { SQ_FATALS(SQ_CONTRACT_IDSTR_) };
#undef SQ_CONTRACT_IDSTR_
	return f >= 0 && f < SQ_F_N ? ids[f] : 0;
}

SQ_CONTRACT_FN_ int sq_site_context(int site)
{
#define SQ_CONTRACT_CTX_(id, name, ctx, ...) SQ_CTX_##ctx,
	static const signed char ctx[] = { SQ_SITES(SQ_CONTRACT_CTX_) };
#undef SQ_CONTRACT_CTX_
	return site >= 0 && site < SQ_SITE_N ? ctx[site] : -1;
}

/* The verdict (SQ_VERDICT_*) on arming action at site, once (every = 0) or
 * on every hit (every = 1), by SQ_ARM_RULES; *fatal gets the SQ_F_ id a
 * refusal is owed (SQ_F_NONE otherwise). -1 for a bad site or action. */
SQ_CONTRACT_FN_ int sq_arm_verdict(int site, int action, int every, int *fatal)
{
#define SQ_CONTRACT_RULE_(c, a, e, v, f) \
	{ SQ_CTX_##c, SQ_ACT_##a, SQ_EVERY_##e, SQ_VERDICT_##v, SQ_F_##f },
	static const struct { signed char ctx, action, every, verdict; short fatal; } rules[] = {
		SQ_ARM_RULES(SQ_CONTRACT_RULE_)
	};
#undef SQ_CONTRACT_RULE_
	int ctx = sq_site_context(site);

	*fatal = SQ_F_NONE;
	if (ctx < 0 || action < 0 || action >= SQ_ACT_N)
		return -1;
	for (unsigned i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		if ((rules[i].ctx != SQ_CTX_ANY && rules[i].ctx != ctx) || rules[i].action != action ||
		    (rules[i].every != SQ_EVERY_ANY && rules[i].every != !!every))
			continue;
		*fatal = rules[i].fatal;
		return rules[i].verdict;
	}
	return SQ_VERDICT_OK;
}
#undef SQ_CONTRACT_FN_

#endif
