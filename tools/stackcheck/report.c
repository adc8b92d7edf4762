// report: the lines stackcheck prints, on stderr and in the -o file.
//
// Every line starts with "stackcheck: " and a word saying what it is, so a
// driver can pick them out of the tracee's own stderr:
//
//   stackcheck: KILL pid=<tgid> tid=<tid> syscall=<name>|signal=<SIGNAME>
//       pc=0x<pc> sp=0x<sp> in=<lo>-<hi> <perms> <name>|none reason=<why>
//   stackcheck: note <text>                        (not with -q)
//   stackcheck: summary syscalls=<n> signals=<n> threads=<n> violations=<n>
//
// A KILL line is one physical line; in= runs up to " reason=", which is last.
// The mapping name is the path, [heap], [stack], ... or [anon]. lo-hi is the
// kernel's mapping that holds sp, narrowed to the part between the guard
// regions around sp when the mapping has any (mapsguarded): a runtime that
// guards its stacks with guard regions keeps many in one mapping.

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stackcheck.h"

void emit(const char *line)
{
	fputs(line, stderr);
	fflush(stderr);
	if (tr.out != NULL) {
		fputs(line, tr.out);
		fflush(tr.out);
	}
}

// describe writes the kernel's mapping that holds addr in pid.
static void describe(pid_t pid, uintptr_t addr, char *buf, size_t n)
{
	struct mapping m;

	if (mapsfind(pid, addr, &m) != 1) {
		snprintf(buf, n, "none");
		return;
	}
	mapsguarded(pid, addr, &m);
	snprintf(buf, n, "%lx-%lx %s %s", (unsigned long)m.lo, (unsigned long)m.hi,
	    m.perms, m.name[0] ? m.name : "[anon]");
}

// what names the event: the syscall (by name when the table knows it) or
// the signal being delivered.
static void what(struct violation *v, char *buf, size_t n)
{
	const char *name = v->compat ? NULL : archsysname(v->nr);
	char sbuf[16];

	if (v->sig)
		snprintf(buf, n, "signal=%s", signame(v->sig, sbuf, sizeof sbuf));
	else if (name != NULL)
		snprintf(buf, n, "syscall=%s", name);
	else
		snprintf(buf, n, "syscall=%s%ld", v->compat ? "i386:" : "", v->nr);
}

// report counts a violation and writes its KILL line into line, for emit
// once the process is stopped (signal.c). The mapping is read now, while
// it is what the thread ran on.
void report(struct violation *v, char *line, size_t n)
{
	char ev[64], in[320];

	tr.nviolations++;
	what(v, ev, sizeof ev);
	describe(v->t->tid, v->sp, in, sizeof in);
	snprintf(line, n,
	    "stackcheck: KILL pid=%d tid=%d %s pc=0x%lx sp=0x%lx in=%s reason=%s\n",
	    (int)v->t->tgid, (int)v->t->tid, ev, (unsigned long)v->pc,
	    (unsigned long)v->sp, in, v->reason);
}

void note(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (tr.quiet)
		return;
	n = snprintf(line, sizeof line, "stackcheck: note ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	emit(line);
}

void summary(void)
{
	char line[256];

	if (tr.quiet)
		return;
	snprintf(line, sizeof line,
	    "stackcheck: summary syscalls=%lu signals=%lu threads=%lu violations=%lu\n",
	    tr.nsyscalls, tr.nsignals, tr.nthreads, tr.nviolations);
	emit(line);
}
