// stackcheck: OpenBSD's MAP_STACK rule, enforced on Linux through ptrace.
//
// OpenBSD kills a process whose stack pointer, at system call entry (and on
// traps), lies outside memory mapped with MAP_STACK. Linux records MAP_STACK
// nowhere we can read back, so stackcheck rebuilds the knowledge from the
// tracee's own system calls and checks every syscall entry and every signal
// delivery against it.
//
// Concepts:
//   thread   one traced kernel task (ptrace works per thread). Every stop the
//            kernel reports is answered by exactly one resume, except for a
//            held thread (below), which keeps its stop until it is linked.
//   space    one address space: the sorted set of MAP_STACK ranges of an mm.
//            CLONE_VM shares it (refcounted), fork copies it, execve replaces
//            it by a fresh space that holds only the new main stack.
//   sighand  one signal-handler table (disposition and flags per signal),
//            shared under CLONE_SIGHAND, copied otherwise, reset by execve.
//   altstack a thread's own sigaltstack; per thread, never shared.
//   armed    a thread is checked only once it (or an ancestor) has execve'd
//            the program: the pre-exec child is stackcheck's own code.
//   doomed   a process that violated the rule. Its KILL line waits until
//            every other thread of it is stopped (frozen): OpenBSD kills it
//            at the violation, so none of them may complete another
//            syscall. Then the line is printed and the thread that broke
//            the rule is killed; no other thread runs again.
//   frozen   a thread left stopped for its process's kill: never resumed.
//
// Invariants:
//   - ranges in a stkset are page aligned, non-empty, sorted, and never touch
//     (adjacent ranges are merged), so "covered" is one binary search.
//   - t->insyscall is 1 exactly when t was resumed with PTRACE_SYSCALL from a
//     syscall entry and the kernel owes us its exit stop.
//   - a held thread (THELD) has only provisional copies of its parent
//     process's space and handlers until its parent's clone event links it.
//
// Error convention: functions that can fail return -errno; only main.c turns
// that into a message and an exit status.

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

// Exit statuses of stackcheck itself, besides the tracee's own.
enum {
	XUSAGE = 2,     // bad arguments, or PROGRAM could not be started
	XKILLED = 3,    // stackcheck killed a traced process for a violation
};

// Tracing modes, fastest first.
enum {
	MODE_SECCOMP,   // seccomp filter reports entries; exits only on demand
	MODE_SYSCALL,   // PTRACE_SYSCALL at every entry and exit
	MODE_REGS,      // as MODE_SYSCALL, registers instead of GET_SYSCALL_INFO
};

// ---- stkset.c: sorted set of page-aligned [lo, hi) ranges ----

struct range {
	uintptr_t lo, hi;
};

struct stkset {
	struct range *r;
	size_t n, cap;
};

void stkfree(struct stkset *s);
int stkcopy(struct stkset *dst, const struct stkset *src);
void stkadd(struct stkset *s, uintptr_t lo, uintptr_t hi);
void stkdel(struct stkset *s, uintptr_t lo, uintptr_t hi);
int stkhas(const struct stkset *s, uintptr_t addr);
uintptr_t stkgap(const struct stkset *s, uintptr_t lo, uintptr_t hi);
int stkslice(const struct stkset *s, uintptr_t lo, uintptr_t hi, struct stkset *out);

// ---- space.c: address spaces and the memory system calls ----

struct space {
	int ref;
	struct stkset stk;
	uintptr_t stacktop;     // hi of the main stack's [stack] mapping, 0 if none
};

struct space *spacenew(void);
struct space *spacecopy(struct space *sp);
struct space *spaceref(struct space *sp);
void spaceunref(struct space *sp);
void spaceexec(struct space *sp, pid_t pid);
int spacecheck(struct space *sp, pid_t pid, uintptr_t addr);
uintptr_t spacegap(struct space *sp, uintptr_t lo, uintptr_t hi);
void spacemmap(struct space *sp, uintptr_t addr, size_t len, int stack);
void spacemunmap(struct space *sp, uintptr_t addr, size_t len);
void spacemremap(struct space *sp, uintptr_t old, size_t oldlen,
    uintptr_t new, size_t newlen, int keepold);
void altspan(uintptr_t ss_sp, size_t ss_size, uintptr_t *lo, uintptr_t *hi);

// ---- procmaps.c: the kernel's own view of a mapping ----

struct mapping {
	uintptr_t lo, hi;
	char perms[8];
	char name[256];         // path, [heap], [stack], ... or "" for anonymous
};

int mapsfind(pid_t pid, uintptr_t addr, struct mapping *m);
int mapsnamed(pid_t pid, const char *name, struct mapping *m);
void mapsguarded(pid_t pid, uintptr_t addr, struct mapping *m);

// ---- signal.c: handler tables, signal-delivery checks, the kill ----

struct sigact {
	unsigned long handler;  // SIG_DFL (0), SIG_IGN (1) or a handler address
	unsigned long flags;    // SA_ONSTACK, SA_RESETHAND, ...
};

struct sighand {
	int ref;
	struct sigact act[65];  // indexed by signal number, 1..64
};

struct sighand *sighandnew(void);
struct sighand *sighandcopy(struct sighand *sh);
struct sighand *sighandref(struct sighand *sh);
void sighandunref(struct sighand *sh);
void sighandexec(struct sighand *sh, pid_t pid);
void sigaction_apply(struct sighand *sh, int sig, const struct sigact *sa);

struct thread;
struct violation;
int sigdeliver(struct thread *t, int sig);
int doomstop(struct thread *t, int sig);
void doom(struct thread *t, struct violation *v, int atentry);
void doomsweep(void);
int doomhold(struct thread *t);
int doomed(pid_t tgid);
void undoom(pid_t tgid, int status);
const char *signame(int sig, char *buf, size_t n);

// ---- thread.c: the thread table and thread lifecycle ----

enum {
	TNEW,           // announced by its parent's clone event, first stop not seen
	THELD,          // first stop seen before its parent's clone event: held
	TLIVE,
};

enum {
	DOOM_NONE,
	DOOM_SEGV,      // SIGSEGV queued, waiting for its delivery stop
	DOOM_SENT,      // SIGSEGV delivered with default action: dying
	DOOM_KILL,      // SIGKILL sent
};

struct altstack {
	uintptr_t sp;
	size_t size;
	int on;
};

// The syscall a thread is inside, saved at entry for its exit stop.
struct pending {
	long nr;                // -1 when nothing is pending
	unsigned long a[6];
	unsigned long aux[3];   // tracee memory read at entry (sigaction, stack_t)
	int auxok;
};

struct thread {
	pid_t tid, tgid;
	int state;
	int armed;
	int insyscall;
	int doom;
	int frozen;             // stopped for its process's kill: stays stopped
	struct space *space;
	struct sighand *sh;
	struct altstack alt;
	struct pending sys;
	pid_t parent;           // held: the parent process, from /proc
	struct thread *hnext;
};

struct thread *threadfind(pid_t tid);
struct thread *threadnew(pid_t tid);
void threadfree(struct thread *t);
void threadclone(struct thread *parent, struct thread *child, unsigned long flags);
struct thread *threadhold(pid_t tid);
void threadlink(struct thread *parent, struct thread *held, unsigned long flags);
struct thread *threadorphan(pid_t parent);
struct thread *threadexec(pid_t tid, pid_t former);
void threadinterrupt(pid_t tgid, pid_t except);
int threadsfrozen(pid_t tgid, pid_t except);

// ---- syscall.c: syscall entry checks and exit effects ----

struct sysregs {
	int op;                 // SYS_ENTRY, SYS_EXIT, SYS_SECCOMP or SYS_UNKNOWN
	long nr;
	unsigned long a[6];
	uintptr_t sp, pc;
	long rval;
	int compat;             // a 32-bit syscall (int $0x80): other numbers
};

enum { SYS_UNKNOWN, SYS_ENTRY, SYS_EXIT, SYS_SECCOMP };

int sysenter(struct thread *t, struct sysregs *r, int *resumesig);
void sysexit(struct thread *t, struct sysregs *r);
unsigned long cloneflags(struct thread *t, int event);

// ---- arch/<arch>.c: registers and syscall numbers ----

int archsys(pid_t tid, int sysinfo, struct sysregs *r);
int archsp(pid_t tid, uintptr_t *sp, uintptr_t *pc);
int archskip(pid_t tid);
const char *archsysname(long nr);

// ---- spawn.c: starting PROGRAM under ptrace ----

pid_t spawn(char **argv, int mode, int *errfd);
int spawnerror(int errfd);

// ---- trace.c: the stop loop ----

int traceloop(pid_t root);
void resume(struct thread *t, int sig);

// ---- report.c: what the user sees ----

struct violation {
	struct thread *t;
	int sig;                // delivering this signal; 0 at a syscall entry
	long nr;                // the syscall, when sig == 0
	int compat;             // nr is a 32-bit (int $0x80) number
	uintptr_t pc, sp;
	const char *reason;
};

void report(struct violation *v, char *line, size_t n);
void emit(const char *line);
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void summary(void);

// ---- main.c: the one tracer ----

struct tracer {
	int mode;
	int filter;             // a seccomp stop proved the filter is in place
	int sysinfo;            // PTRACE_GET_SYSCALL_INFO works
	int quiet;
	const char *preload;    // -l: the libc shim PROGRAM gets in LD_PRELOAD
	FILE *out;              // -o REPORT_FILE, or NULL
	uintptr_t pagesz;
	pid_t root;
	volatile sig_atomic_t rootalive;        // read by the SIGTERM forwarder
	int rootstatus;         // wait status of the root process, -1 until known
	unsigned long nsyscalls, nsignals, nthreads, nviolations;
};

extern struct tracer tr;

static inline uintptr_t pagedown(uintptr_t a)
{
	return a & ~(tr.pagesz - 1);
}

static inline uintptr_t pageup(uintptr_t a)
{
	return (a + tr.pagesz - 1) & ~(tr.pagesz - 1);
}
