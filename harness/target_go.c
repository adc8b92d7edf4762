/*
 * target_go.c: the target interface over a Go runtime through cgo: gc
 * (Debian's Go 1.19) or gccgo 12 (libgo), whichever built the Go side
 * (harness/go, a -buildmode=c-archive archive linked into the scenario).
 *
 * Every call is an exported Go function (harness/go/sqgo.go, which says how
 * each maps onto the runtime). A scenario's functions are C that Go calls
 * through cgo, so a target call they make is a callback into Go: G -> C ->
 * G nesting, which cgo allows to any depth.
 *
 * What the target cannot do returns -ENOSYS / NULL / 0 as target.h says:
 * Go has no fault sites and no invariant check a program can call.
 *
 * The runtime starts in a constructor of the archive, before main (Go's
 * c-archive mode: libpreinit installs the signal handlers there, and the
 * rest of runtime initialisation runs on a thread of its own; every
 * exported call waits for it). sqt_init only waits for it too, and the
 * caller stays a foreign thread: its callbacks attach and detach (needm,
 * dropm) every time. A scenario's "before the runtime starts" is therefore
 * "in a constructor that runs before Go's" on this target (envaxes.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target.h"
#include "go/sqgo.h"

/* The exports of harness/go/sqgo.go (cgo writes them to a header too; the
 * declarations here keep the build independent of where it puts it). */
extern int sqgoInit(void);
extern void sqgoVersion(char *buf, int n);
extern void sqgoCompiler(char *buf, int n);
extern void sqgoMain(sqgo_fn fn, void *arg);
extern int sqgoCallback(sqgo_fn fn, void *arg);
extern int sqgoOutcall(sqgo_fn fn, void *arg);
extern void sqgoSpawn(sqgo_fn fn, void *arg);
extern void sqgoYield(void);
extern void sqgoSleep(int64_t ns);
extern void sqgoLockOSThread(void);
extern void sqgoUnlockOSThread(void);
extern void sqgoGoexit(void);
extern long sqgoSyscall(long nr, long a1, long a2, long a3);
extern uintptr_t sqgoWgNew(void);
extern void sqgoWgAdd(uintptr_t h, int n);
extern void sqgoWgDone(uintptr_t h);
extern void sqgoWgWait(uintptr_t h);
extern uintptr_t sqgoChanNew(int cap);
extern int sqgoChanSend(uintptr_t h, uintptr_t v);
extern int sqgoChanRecv(uintptr_t h, uintptr_t *v);
extern int sqgoQuiesce(int self);
extern void sqgoProfile(int hz);

/* ---- how Go says it is dying --------------------------------------------
 *
 * X(key, prefix, message, class). Keys are the contract's (SQ_FATALS in
 * sq_contract.h) where the meaning is the same, GO_* otherwise. A fatal
 * error is a line "<prefix><message>" on stderr. gc's texts are from Go
 * 1.19's runtime (the file each comes from is in docs/targets.md).
 */
#define GC_FATALS(X) \
	X(MORESTACK_G0, "fatal: ", "morestack on g0", refusal) \
	X(MORESTACK_GSIGNAL, "fatal: ", "morestack on gsignal", refusal) \
	X(SYSTEMSTACK_GSIGNAL, "fatal: ", "systemstack called from unexpected goroutine", refusal) \
	X(STACK_OVERFLOW, "fatal error: ", "stack overflow", refusal) \
	X(GO_STACK_EXCEEDS, "runtime: ", "goroutine stack exceeds", refusal) \
	X(SPLIT_BAD_TIME, "fatal error: ", "runtime: stack split at bad time", refusal) \
	X(GO_SPLIT_OVERFLOW, "fatal error: ", "runtime: split stack overflow", invariant) \
	X(GO_STACK_GROWTH_SYSCALL, "fatal error: ", "stack growth not allowed in system call", invariant) \
	X(DEADLOCK, "fatal error: ", "all goroutines are asleep - deadlock!", refusal) \
	X(UNEXPECTED_SIGNAL, "fatal error: ", "unexpected signal during runtime execution", crash) \
	X(GO_SIGNAL_CGO, "", "signal arrived during cgo execution", crash) \
	X(GO_SIGSEGV, "", "SIGSEGV: segmentation violation", crash) \
	X(GO_SIGBUS, "", "SIGBUS: bus error", crash) \
	X(GO_FAULT_ADDRESS, "", "unexpected fault address", crash) \
	X(GO_FAULT, "fatal error: ", "fault", crash) \
	X(GO_NIL_DEREF, "panic: runtime error: ", "invalid memory address or nil pointer dereference", crash) \
	X(NO_SIGSTACK, "fatal error: ", "non-Go code disabled sigaltstack", invariant) \
	X(NOT_ON_SIGSTACK, "fatal error: ", "non-Go code set up signal handler without SA_ONSTACK flag", invariant) \
	X(GO_BAD_G_SIGNAL, "fatal: ", "bad g in signal handler", invariant) \
	X(GO_SIGNAL_FORK, "fatal error: ", "signal received during fork", invariant) \
	X(GO_EARLY_CALLBACK, "fatal error: ", "cgo callback before cgo call", refusal) \
	X(GO_CALLBACK_BAD_G, "runtime: ", "bad g in cgocallback", invariant) \
	X(GO_CALLBACK_M_CHANGED, "fatal error: ", "m changed unexpectedly in cgocallbackg", invariant) \
	X(GO_SCHEDULE_IN_CGO, "fatal error: ", "schedule: in cgo", invariant) \
	X(SYSCALL_INCONSISTENT, "fatal error: ", "entersyscall", invariant) \
	X(SYSCALL_CORRUPTED, "fatal error: ", "exitsyscall: syscall frame is no longer valid", invariant) \
	X(MCALL_G0, "fatal error: ", "runtime: mcall called on m->g0 stack", invariant) \
	X(SCHEDULE_LOCKS, "fatal error: ", "schedule: holding locks", invariant) \
	X(GO_BAD_POINTER, "fatal error: ", "invalid pointer found on stack", invariant) \
	X(GO_UNKNOWN_PC, "fatal error: ", "unknown caller pc", invariant) \
	X(GO_TRACEBACK, "fatal error: ", "traceback did not unwind completely", invariant) \
	X(GO_BAD_HEAP_POINTER, "fatal error: ", "found bad pointer in Go heap", invariant) \
	X(GO_MALLOC_DEADLOCK, "fatal error: ", "malloc deadlock", invariant) \
	X(GO_OOM, "fatal error: ", "out of memory", resource) \
	X(NEWM, "fatal error: ", "newosproc", resource) \
	X(GO_CGO_PTHREAD, "runtime/cgo: ", "pthread_create failed", resource)

/* libgo (gccgo 12) shares most of gc's runtime source and so its texts; it
 * differs where it has its own machinery: split stacks from libgcc's
 * __morestack instead of copying stacks, goroutines on ucontext-switched
 * stacks, and C called directly on the goroutine's stack. */
#define GCCGO_FATALS(X) \
	X(DEADLOCK, "fatal error: ", "all goroutines are asleep - deadlock!", refusal) \
	X(GO_NO_GOROUTINES, "fatal error: ", "no goroutines (main called runtime.Goexit) - deadlock!", refusal) \
	X(UNEXPECTED_SIGNAL, "fatal error: ", "unexpected signal during runtime execution", crash) \
	X(GO_SIGNAL_CGO, "", "signal arrived during cgo execution", crash) \
	X(GO_SIGSEGV, "", "SIGSEGV: segmentation violation", crash) \
	X(GO_SIGBUS, "", "SIGBUS: bus error", crash) \
	X(GO_FAULT_ADDRESS, "", "unexpected fault address", crash) \
	X(GO_FAULT, "fatal error: ", "fault", crash) \
	X(GO_NIL_DEREF, "panic: runtime error: ", "invalid memory address or nil pointer dereference", crash) \
	X(NO_SIGSTACK, "fatal error: ", "non-Go code disabled sigaltstack", invariant) \
	X(NOT_ON_SIGSTACK, "fatal error: ", "non-Go code set up signal handler without SA_ONSTACK flag", invariant) \
	X(GO_BAD_G_SIGNAL, "fatal: ", "bad g in signal handler", invariant) \
	X(SYSTEMSTACK_GSIGNAL, "fatal: ", "systemstack called from unexpected goroutine", refusal) \
	X(GO_EARLY_CALLBACK, "fatal error: ", "cgo callback before cgo call", refusal) \
	X(GO_SIGNAL_FORK, "fatal error: ", "signal received during fork", invariant) \
	X(GO_MORESTACK_FAIL, "", "out of memory allocating split stack", resource) \
	X(GO_MALLOC_SIGNAL, "fatal error: ", "malloc during signal", invariant) \
	X(GO_FREEDEFER, "fatal error: ", "freedefer with d.fn != nil", invariant) \
	X(GO_MALLOC_DEADLOCK, "fatal error: ", "malloc deadlock", invariant) \
	X(GO_OOM, "fatal error: ", "out of memory", resource) \
	X(NEWM, "fatal error: ", "newosproc", resource) \
	X(GO_CGO_PTHREAD, "runtime/cgo: ", "pthread_create failed", resource)

#define ROW_(key, prefix, msg, cls) { #key, prefix, msg, #cls },
static const sqt_fatal gc_fatals[] = { GC_FATALS(ROW_) };
static const sqt_fatal gccgo_fatals[] = { GCCGO_FATALS(ROW_) };
#undef ROW_

static char compiler[16], version[128];

/* runtime.Compiler: "gc" or "gccgo"; the first call waits for Go's init. */
static int is_gccgo(void)
{
	if (!compiler[0])
		sqgoCompiler(compiler, sizeof compiler);
	return strcmp(compiler, "gccgo") == 0;
}

const char *sqt_name(void) { return is_gccgo() ? "gccgo" : "go"; }
const char *sqt_variant(void) { return "c-archive"; }

const char *sqt_version(void)
{
	if (!version[0])
		sqgoVersion(version, sizeof version);
	return version;
}

const sqt_fatal *sqt_fatals(int *n)
{
	if (is_gccgo()) {
		*n = sizeof gccgo_fatals / sizeof gccgo_fatals[0];
		return gccgo_fatals;
	}
	*n = sizeof gc_fatals / sizeof gc_fatals[0];
	return gc_fatals;
}

/* sqt_main's caller parks in a callback for good: one goroutine more that
 * sqt_quiesce must not count as a leak. */
static int main_parked;

_Noreturn void sqt_main(sqt_fn fn, void *arg)
{
	main_parked = 1;
	sqgoMain(fn, arg);
	abort();	/* sqgoMain never returns */
}

int sqt_init(void) { return sqgoInit(); }
int sqt_callback(sqt_fn fn, void *arg) { return sqgoCallback(fn, arg); }
/* Go 1.19 and gccgo 12 detach a C thread (dropm) after every callback. */
int sqt_callback_binds(void) { return 0; }
/* A c-archive's runtime never does: checkdead returns at once when the
 * program is a library or archive (a callback may always come). */
int sqt_declares_deadlock(void) { return 0; }
/* C reached through cgo runs on the thread's system stack, never on a
 * goroutine's: Go's stack limits are for Go frames, out of a C scenario's
 * reach. */
long sqt_stack_left(void) { return -ENOSYS; }
int sqt_outcall(sqt_fn fn, void *arg) { return sqgoOutcall(fn, arg); }
void sqt_spawn(sqt_fn fn, void *arg) { sqgoSpawn(fn, arg); }
void sqt_yield(void) { sqgoYield(); }

int sqt_sleep(int64_t ns)
{
	sqgoSleep(ns);
	return 0;
}

/* The lock is LockOSThread's external count: the callback that makes it
 * returns, and the goroutine (in its cgo call again) stays wired. */
int sqt_lockosthread(void)
{
	sqgoLockOSThread();
	return 0;
}

int sqt_unlockosthread(void)
{
	sqgoUnlockOSThread();
	return 0;
}

/* runtime.Goexit inside the callback: the goroutine's deferred calls run,
 * cgo's among them (they unwind the C frames of the cgo call the scenario
 * function runs in), and it ends. */
int sqt_goexit(void)
{
	sqgoGoexit();
	abort();	/* Goexit never returns */
}

long sqt_syscall(long nr, long a1, long a2, long a3)
{
	return sqgoSyscall(nr, a1, a2, a3);
}

/* The same window: Go 1.19 lets no program choose entersyscallblock, and
 * sysmon retakes the P of any syscall that lasts over 20 us. */
long sqt_syscall_block(long nr, long a1, long a2, long a3)
{
	return sqgoSyscall(nr, a1, a2, a3);
}

/* Handles are runtime/cgo handles (nonzero integers), never Go pointers. */
sqt_wg *sqt_wg_new(void) { return (sqt_wg *)sqgoWgNew(); }
void sqt_wg_add(sqt_wg *w, int n) { sqgoWgAdd((uintptr_t)w, n); }
void sqt_wg_done(sqt_wg *w) { sqgoWgDone((uintptr_t)w); }
void sqt_wg_wait(sqt_wg *w) { sqgoWgWait((uintptr_t)w); }
sqt_chan *sqt_chan_new(int cap) { return (sqt_chan *)sqgoChanNew(cap); }
int sqt_chan_send(sqt_chan *c, uintptr_t v) { return sqgoChanSend((uintptr_t)c, v); }
int sqt_chan_recv(sqt_chan *c, uintptr_t *v) { return sqgoChanRecv((uintptr_t)c, v); }

int sqt_arm(const char *spec) { return -ENOSYS; }
int64_t sqt_hits(const char *site) { return 0; }
const char *sqt_site(int i) { return NULL; }
int sqt_check(int quiescent) { return 0; }
void sqt_profile(int hz) { sqgoProfile(hz); }

/* Go preempts goroutines asynchronously (since 1.14), but never a C loop
 * a scenario runs (C runs in a cgo call, which Go never preempts), and it
 * keeps no count a program can read. */
long sqt_async_preempts(void) { return -ENOSYS; }

/* NumGoroutine counts a callback in flight as a goroutine: the caller's
 * own (whether it is a foreign thread or a scenario function already in
 * Go, the callback runs on one goroutine), plus sqt_main's parked one. */
int sqt_quiesce(void)
{
	return sqgoQuiesce(1 + main_parked);
}
