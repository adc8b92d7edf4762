// sigpoke: a signal at every instruction of a window.
//
// sigpoke runs a program under ptrace and, for each instruction of a window
// (a set of functions found by symbol) in turn, stops a thread exactly there
// and sends it a signal, as if the signal had arrived from outside at that
// instant. It then lets the program go on and records what happened. A
// crash ends that process; the sweep goes on in a fresh one from the next
// instruction. See docs/sigpoke.md.
//
// Concepts:
//   window    the functions to sweep and their instructions, at link-time
//             addresses: out-of-line copies from the ELF symbol table,
//             inlined copies from DWARF (libdw), instruction boundaries and
//             text from a disassembler (capstone).
//   run       one traced process of PROGRAM. Its load bias (PIE) turns a
//             link-time address into a run-time one. Runs are numbered; each
//             writes its output to logs/run-<n>.log.
//   cover     before the sweep, one run with a breakpoint on every window
//             instruction, twice: for cover ms from the first hit (phase 1;
//             from exec, at most reach ms wait for it), then re-armed for
//             cover ms more (phase 2). Hit in phase 1 only: a startup
//             instruction, swept in a fresh run. Hit in neither: not reached.
//   poke      one instruction A: a (matching) thread T hits the breakpoint at
//             A (all remaining instructions are armed; the first hit is
//             poked); rewind T's pc to A, tgkill(T, sig) while T is stopped,
//             resume T. The kernel delivers the signal before A executes, or
//             keeps it pending while T blocks it (exactly what a real signal
//             does). Then follow T until its handler calls rt_sigreturn, let
//             the program run for settle ms, and classify.
//   delivery  what became of the signal of one poke (enum delivery): at the
//             instruction, deferred (blocked there, delivered later),
//             undelivered, or no poke at all (notreached, untested).
//   bounds    --max-seconds starts no poke after a deadline, --sample N
//             pokes N instructions drawn from --seed: the rest are
//             untested, so a driver can spend a fixed time per sweep.
//   class     how the program went on after it (enum runclass), in the
//             project's one vocabulary of outcome classes (the oracle's):
//             clean, unexpected-fatal, crash, hang, wrong-result; skipped
//             for an instruction not poked; harness-error if sigpoke could
//             not send the signal. A class that is a finding (any but clean
//             and skipped) makes the instruction unsafe. A process that ends
//             after a poke and before the next one ends on account of that
//             poke.
//   record    one JSON object per line (harness/record.h): a "poke" per
//             instruction, a "cover" and a "summary" (docs/sigpoke.md).
//
// Invariants:
//   - no breakpoint is armed while a poke is in progress (from the hit to
//     the end of settle), so one outcome is never mixed with another's;
//     a thread that trapped on a breakpoint since removed ("stale hit") is
//     rewound and resumed, never handed a SIGTRAP.
//   - breakpoints are written through /proc/PID/mem, so no thread needs to be
//     stopped to arm or disarm one.
//   - every ptrace stop gets exactly one resume, except a thread being
//     single-stepped over a breakpoint, which is resumed when its step ends.
//
// Error convention: functions that can fail return -errno (or -1 with a
// message already printed for the user); main.c turns failures into exit
// statuses.

#include <capstone/capstone.h>
#include <elf.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

// Exit statuses.
enum {
	XCLEAN = 0,     // no unsafe instruction
	XUNSAFE = 1,    // at least one unsafe instruction
	XUSAGE = 2,     // bad arguments, unknown symbol, PROGRAM not found
	XTRACE = 3,     // sigpoke itself failed (ptrace denied, run would not start)
};

// What became of the signal. Kept apart from the class: a signal held back
// and delivered later can still end in a crash, and a run can fail before
// its signal arrives.
enum delivery {
	D_UNTESTED,     // not poked: not in the sample, or time ran out; zero
	D_NOTREACHED,   // no (matching) thread executed it
	D_AT,           // delivered right at the instruction
	D_DEFERRED,     // blocked there; delivered later (at dwhere)
	D_UNDELIVERED,  // still pending when the timeout expired or the run ended
	D_N,
};

// How the run went on after a poke: the project's outcome classes that a
// poke can end in, spelled as the project spells them (classname).
enum runclass {
	C_SKIPPED,      // "skipped": not poked (delivery notreached, untested); zero
	C_CLEAN,        // the handler returned (or there was none), the program went on
	C_FATAL,        // "unexpected-fatal": the program printed "fatal error: ..." and ended
	C_CRASH,        // the program was killed by a signal
	C_HANG,         // the handler did not return within the timeout
	C_WRONG,        // "wrong-result": the program exited non-zero without a fatal error
	C_HARNESS,      // "harness-error": sigpoke could not send the signal
	C_N,
};

// unsafe: the class is a finding. As everywhere in the project, that is
// every class but the good ones; sigpoke's own failure (harness-error) too:
// that instruction was not tested, and its replay command retries it.
static inline int unsafe(int c)
{
	return c != C_CLEAN && c != C_SKIPPED;
}

static inline int delivered(int d)
{
	return d == D_AT || d == D_DEFERRED;
}

const char *deliveryname(int d);
const char *classname(int c);

// ---- elf.c: symbols, code and GOT slots of the program ----

struct sym {
	const char *name;       // in the mapped file
	uintptr_t addr, size;
	int global;
	int func;               // STT_FUNC; else a data symbol (annotations only)
};

struct gotname {
	uintptr_t slot;         // a GOT slot a dynamic relocation fills ...
	const char *name;       // ... with this symbol
};

struct elfsyms {
	struct sym *s;          // function and data symbols, sorted by address
	size_t n;
	uintptr_t entry;        // e_entry
	int pie;                // ET_DYN: load bias added at run time
	const uint8_t *img;     // the file, mapped read-only for good
	size_t len;
	const Elf64_Shdr *sh;
	size_t nsh, shstrndx;
	struct gotname *got;
	size_t ngot;
};

int elfload(const char *path, struct elfsyms *e, char *err, size_t errlen);
int elffind(const struct elfsyms *e, const char *name, const struct sym **out);
const struct sym *elfholder(const struct elfsyms *e, uintptr_t addr, int data);
void elfwhere(const struct elfsyms *e, uintptr_t addr, char *buf, size_t n);
const uint8_t *elfcode(const struct elfsyms *e, uintptr_t addr, size_t *n);
const char *elfsecname(const struct elfsyms *e, uintptr_t addr);
int elfhas(const struct elfsyms *e, const char *section);
const char *elfgot(const struct elfsyms *e, uintptr_t slot);

// ---- disasm.c: instruction boundaries and text, through capstone ----

struct dinsn {
	uintptr_t addr;         // link-time address
	char *text;             // the disassembler's text, branch targets named
};

struct dfunc {                  // one function, decoded
	const struct sym *s;
	struct dinsn *in;       // sorted by address
	size_t n;
};

const struct dfunc *disfunc(const struct elfsyms *e, const struct sym *s);
size_t disfind(const struct dfunc *f, uintptr_t addr);

// ---- dwarf.c: the inlined copies of the window's functions (libdw) ----

struct inlrange {
	uintptr_t lo, hi;       // [lo, hi), link-time
	int name;               // index of the window function inlined there
};

int dwarfinlined(const struct elfsyms *e, const char *path, char **names, size_t n,
    struct inlrange **out, size_t *nout, int *seen);

// ---- window.c: the instructions to sweep ----

struct insn {
	uintptr_t addr;         // link-time address
	uint32_t fn;            // index in window.fn
	const char *sym;        // containing symbol ...
	uint32_t off;           // ... and the offset in it: sym+off names it
	const char *text;       // the disassembler's text for it
	unsigned chosen : 1;    // to be poked: in the sample (all without --sample)
	unsigned reached : 1;   // hit in the cover run
	unsigned startup : 1;   // hit in cover phase 1 only
	unsigned swept : 1;
	int delivery;           // enum delivery
	int cls;                // enum runclass
	int late;               // cls comes from the run ending after settle
	char dwhere[96];        // fn+0xoff, or lib+0xoff, where it was delivered
	int run;                // run that poked it
	char detail[200];       // fatal message, signal, ...
};

// A strip of the window: one function of it, out of line, or one copy of it
// inlined into another function ("dropm@sq_callback").
struct func {
	const char *name;       // "dropm" or "dropm@sq_callback"
	const char *of;         // the window function: "dropm"
	const char *in;         // the function it is inlined in, or NULL
	size_t first, n;        // its instructions: window.in[first .. first+n)
};

struct window {
	struct func *fn;
	size_t nfn;
	struct insn *in;
	size_t nin;
};

int windowbuild(struct window *w, const struct elfsyms *e, const char *path,
    char **names, size_t n, int inl, char *err, size_t errlen);
long windowat(struct window *w, const struct elfsyms *e, const char *loc, char *err,
    size_t errlen);
int windowloc(const struct elfsyms *e, const char *loc, const struct sym **s, uintptr_t *addr,
    char *err, size_t errlen);

// ---- trace.c: the traced process ----

struct thr {
	pid_t tid;
	int sys;                // resumed with PTRACE_SYSCALL: its syscalls stop
	int step;               // single-stepping over breakpoint stepbp
	size_t stepbp;
};

struct bp {
	uintptr_t addr;         // run-time address
	uint8_t orig[8];
	uint8_t want;           // the caller wants it armed
	uint8_t armed;          // the breakpoint instruction is in memory
	uint8_t ever;           // was wanted at some time in this run
	int stepping;           // threads single-stepping over it (it stays out)
};

struct run {
	pid_t pid;
	int n;                  // run number
	uintptr_t bias;         // run-time minus link-time address
	int mem;                // /proc/PID/mem
	int ended;
	int status;             // wait status of the leader once ended
	int64_t t0;
	struct thr *thr;
	size_t nthr, cap;
	struct bp *bp;          // one per window instruction, same index
	size_t nbp;
	size_t *byaddr;         // bp indices sorted by address
	char log[4096];
};

enum {
	EV_TIMEOUT,
	EV_END,                 // the process is gone (run.status)
	EV_GONE,                // thread tid (not the leader) exited
	EV_HIT,                 // tid stopped on armed breakpoint ev.bp, pc rewound
	EV_SIGNAL,              // tid in signal-delivery-stop for ev.sig
	EV_SYSENTER,            // tid (resumed by resumesys) entering syscall ev.nr
};

struct event {
	int kind;
	pid_t tid;
	int sig;
	siginfo_t si;
	size_t bp;
	long nr;
};

struct spawnopts {
	char **argv;
	char **env;             // extra VAR=VAL, NULL-terminated
	const char *logdir;
	uintptr_t entry;        // PROGRAM's link-time e_entry
	int pie;                // PROGRAM is ET_DYN: a load bias applies
};

int runstart(struct run *r, const struct spawnopts *o, const struct window *w, int n);
int runnext(struct run *r, struct event *ev, int64_t deadline);
void runkill(struct run *r);
void runfree(struct run *r);
int bparm(struct run *r, size_t i);
int bpdisarm(struct run *r, size_t i);
int resume(struct run *r, pid_t tid, int sig);
int resumesys(struct run *r, pid_t tid, int sig);
int stepover(struct run *r, pid_t tid, size_t i);
int threadcomm(struct run *r, pid_t tid, char *buf, size_t n);
int catches(struct run *r, int sig);
void mapwhere(struct run *r, uintptr_t addr, char *buf, size_t n);
int64_t now(void);

// ---- poke.c: the cover run and the sweep ----

struct config {
	int sig;
	const char *comm;       // only threads with this name, or NULL
	int reach;              // ms: waiting for a hit
	int timeout;            // ms: a delivery, a handler's return
	int settle;             // ms after the handler returned
	int cover;              // ms per cover phase
	int64_t deadline;       // --max-seconds: no new poke from then on (0: none)
	long sample;            // --sample N: poke N instructions at most (0: all)
	int64_t seed;           // --seed: draws the sample
	int verbose;
	struct spawnopts spawn;
	const char *prog;
	const struct elfsyms *syms;
};

struct sweepstats {
	int runs;
	int covered;            // a cover run was made (not --at)
	size_t reached, startup;        // by the cover run
	double seconds, coverseconds;
	double setupseconds;    // the window: ELF, disassembly, DWARF
	int cut;                // --max-seconds ran out before the sweep's end
};

int sweep(const struct config *c, struct window *w, size_t only, struct sweepstats *st);
void windowsample(struct window *w, long n, int64_t seed);

// ---- report.c: what the user sees ----

void reporttable(FILE *f, const struct window *w, const struct config *c);
int reporttsv(const char *path, const struct window *w, const struct config *c);
int reportsvg(const char *path, const struct window *w, const struct config *c);
void replaycmd(char *buf, size_t n, const struct window *w, const struct insn *in,
    const struct config *c, const char *self);
int reportreplay(FILE *f, const struct window *w, const struct config *c, const char *self);
void reportsummary(FILE *f, const struct window *w, const struct sweepstats *st);

// ---- record.c: the records drivers read (harness/record.h's shape) ----

void recordwindow(int fd, const struct window *w, double setup);
void recordcover(int fd, const struct window *w, const struct sweepstats *st);
void recordpokes(int fd, const struct window *w);
void recordsummary(int fd, const struct window *w, const struct config *c,
    const struct sweepstats *st);
void locname(const struct window *w, const struct insn *in, char *buf, size_t n);
const char *signame(int sig, char *buf, size_t n);
int sigparse(const char *s);

// ---- arch/<arch>.c: breakpoints, registers, decoding ----

extern const uint8_t archbrk[];
extern const size_t archbrklen;
extern const int archelf;                       // e_machine
extern const unsigned archjumpslot, archglobdat; // relocations that fill GOT slots
int archregs(pid_t tid, uintptr_t *pc, uintptr_t *sp);
int archsetpc(pid_t tid, uintptr_t pc);
int archbpaddr(const siginfo_t *si, uintptr_t pc, uintptr_t *addr);
int archcsopen(csh *h);
uintptr_t archtarget(csh h, const cs_insn *in);
uintptr_t archdataref(const cs_insn *in);
uintptr_t archgotslot(csh h, const cs_insn *in, size_t n);
