/*
 * rt_test.h: shared scaffolding for the runtime's self-test programs.
 *
 * Each program takes a subcommand naming one test, prints "[rt] EVENT ..."
 * lines on stderr, "PASS <name>" on stdout when the test's own checks hold,
 * and exits 0; a failed check prints "FAIL <name>: why" and exits 1. Tests
 * that end in a fatal error on purpose leave the exit status to the runtime
 * (2) and the pytest driver checks the message.
 */
#ifndef RT_TEST_H
#define RT_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq.h"
#include "sq_harness.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 64

typedef struct rt_case {
	const char *name;
	int (*fn)(void *);
	int runs_on_g;		/* 1: run as the main G via sq_main */
	const char *help;
} rt_case;

static const char *rt_current;

static inline int rt_fail(const char *why)
{
	printf("FAIL %s: %s\n", rt_current, why);
	fflush(stdout);
	return EXIT_FAIL;
}

static inline int rt_pass(void)
{
	printf("PASS %s\n", rt_current);
	fflush(stdout);
	return 0;
}

static inline void rt_usage(const char *prog, const rt_case *cases)
{
	fprintf(stderr, "usage: %s TEST [ARG]\ntests:\n", prog);
	for (; cases->name; cases++)
		fprintf(stderr, "  %-24s %s\n", cases->name, cases->help);
}

static const char *rt_arg;

/* Dispatch argv[1]; a test that runs on a G becomes the main G. */
static inline int rt_main(int argc, char **argv, const rt_case *cases)
{
	const rt_case *c;

	if (argc < 2) {
		rt_usage(argv[0], cases);
		return EXIT_USAGE;
	}
	for (c = cases; c->name; c++)
		if (strcmp(c->name, argv[1]) == 0)
			break;
	if (!c->name) {
		fprintf(stderr, "%s: unknown test '%s'\n", argv[0], argv[1]);
		rt_usage(argv[0], cases);
		return EXIT_USAGE;
	}
	rt_current = c->name;
	rt_arg = argc > 2 ? argv[2] : NULL;
	fprintf(stderr, "[rt] START %s variant=%s harness=%d\n", c->name, sq_variant(),
		sq_harness_build());
	if (c->runs_on_g)
		sq_main(c->fn, NULL);
	return c->fn(NULL);
}

static inline long rt_argl(long dflt)
{
	return rt_arg ? strtol(rt_arg, NULL, 0) : dflt;
}

#endif
