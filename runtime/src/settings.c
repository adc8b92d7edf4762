/*
 * settings.c: the runtime's settings, parsed once at start-up from the
 * environment (as Go parses GODEBUG and GOTRACEBACK once), into sq_settings.
 *
 *   SQ_MAXPROCS       number of Ps, 1..1024 (default: online CPUs)
 *   SQ_STACKSIZE      bytes of a G stack, >= 64 KiB, rounded up to pages
 *   SQ_CALLBACK_BIND  1 (default): a foreign thread keeps its M between
 *                     callbacks; 0: attach and detach on every callback
 *   SQ_DEBUG          comma-separated: maymorestack=yield, preempt=off,
 *                     asyncpreempt=off
 *   SQ_FAULT          fault sites to arm at start-up (fault.c parses it)
 *   SQ_CRASH          abort: fatal errors end by SIGABRT, not exit(2)
 *
 * A malformed value is the fatal "bad argument to runtime call", naming the
 * variable and what it wants: a run that silently ignored a setting would
 * report results it never had. Nothing reads the environment after this,
 * least of all the fatal-error path.
 */
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

enum {
	DEFAULT_GSTACK = 256 << 10,
	MIN_GSTACK     = 64 << 10,
	MAX_PROCS      = 1024,
};

Settings sq_settings = {
	.stacksize = DEFAULT_GSTACK,
	.callback_bind = true,
};

NORETURN static void bad(const char *name, const char *val, const char *want)
{
	printlock();
	prints("runtime: ");
	prints(name);
	prints("=");
	prints(val);
	prints(": ");
	prints(want);
	printnl();
	printunlock();
	throw(F_BAD_ARG);
}

/* A whole decimal or 0x number in [lo, hi], else bad(). */
static long number(const char *name, const char *s, long lo, long hi, const char *want)
{
	char *end;
	long v = strtol(s, &end, 0);

	if (!*s || *end || v < lo || v > hi)
		bad(name, s, want);
	return v;
}

/* SQ_DEBUG: every item known, or bad(). */
static void debugvars(const char *s)
{
	const char *p = s;

	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 18 && !strncmp(p, "maymorestack=yield", n))
			sq_settings.maymorestack = true;
		else if (n == 11 && !strncmp(p, "preempt=off", n))
			sq_settings.nopreempt = true;
		else if (n == 16 && !strncmp(p, "asyncpreempt=off", n))
			sq_settings.noasyncpreempt = true;
		else if (n > 0)
			bad("SQ_DEBUG", s, "want a comma-separated list of maymorestack=yield, preempt=off, "
				"asyncpreempt=off");
		p += n + (p[n] == ',');
	}
}

static const char *env(const char *name)
{
	const char *s = getenv(name);

	return s && *s ? s : NULL;
}

int sq_callback_binds(void)
{
	return sq_settings.callback_bind;
}

void settings_init(void)
{
	const char *s;

	/* First: a bad value below is fatal, and says so the way SQ_CRASH asks. */
	if ((s = env("SQ_CRASH")) != NULL) {
		if (strcmp(s, "abort") && strcmp(s, "exit"))
			bad("SQ_CRASH", s, "want abort or exit");
		sq_settings.crash_abort = !strcmp(s, "abort");
	}
	if ((s = env("SQ_MAXPROCS")) != NULL)
		sq_settings.maxprocs = (int32_t)number("SQ_MAXPROCS", s, 1, MAX_PROCS,
			"want a number from 1 to 1024");
	if ((s = env("SQ_STACKSIZE")) != NULL)
		sq_settings.stacksize = ((size_t)number("SQ_STACKSIZE", s, MIN_GSTACK, 1L << 40,
			"want a number of bytes, at least 65536") + PAGE - 1) & ~(size_t)(PAGE - 1);
	if ((s = env("SQ_CALLBACK_BIND")) != NULL) {
		if (strcmp(s, "0") && strcmp(s, "1"))
			bad("SQ_CALLBACK_BIND", s, "want 0 or 1");
		sq_settings.callback_bind = s[0] == '1';
	}
	if ((s = env("SQ_DEBUG")) != NULL)
		debugvars(s);
	sq_settings.fault = env("SQ_FAULT");
}
