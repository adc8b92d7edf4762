/*
 * describe: print the runtime's contract (sq_contract.h) as JSON on stdout.
 *
 * `make` writes it to build/contract.json, which is how everything that is
 * not C (the Python harness, the docs generator, the tests) reads the
 * tables: variants, fatal errors and their classes, contexts, fault sites,
 * actions, verdicts, the signal windows and the arm rules. Built for the
 * host; the tables do not depend on the target arch or C library.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "sq_contract.h"

static void str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* An X-macro id as the JSON key it is known by: lower case. */
static void key(const char *id)
{
	putchar('"');
	for (; *id; id++)
		putchar(tolower((unsigned char)*id));
	putchar('"');
}

/* A comma-separated list as a JSON array of strings. */
static void list(const char *s)
{
	char item[128];

	putchar('[');
	for (const char *p = s; *p;) {
		size_t n = strcspn(p, ",");
		snprintf(item, sizeof item, "%.*s", (int)n, p);
		if (p != s)
			printf(", ");
		str(item);
		p += n + (p[n] == ',');
	}
	putchar(']');
}

static const char *sep(int *first)
{
	const char *s = *first ? "\n  " : ",\n  ";

	*first = 0;
	return s;
}

#define CLASS_NAME_(id, name) name,
static const char *const fatal_classes[] = { SQ_FATAL_CLASSES(CLASS_NAME_) };
#define CTX_NAME_(id, name, doc) name,
static const char *const contexts[] = { SQ_CONTEXTS(CTX_NAME_) };
#define FATAL_ID_(id, ...) #id,
static const char *const fatal_ids[] = { SQ_FATALS(FATAL_ID_) };
#define VERDICT_NAME_(id, name, doc) name,
static const char *const verdicts[] = { SQ_VERDICTS(VERDICT_NAME_) };

int main(void)
{
	int first;

	printf("{\n\"variants\": [");
	first = 1;
#define VARIANT_(id, name, arch, doc) \
	printf("%s{\"key\": ", sep(&first)); key(#id); \
	printf(", \"name\": "); str(name); \
	printf(", \"arch\": "); str(arch); \
	printf(", \"doc\": "); str(doc); putchar('}');
	SQ_VARIANTS(VARIANT_)

	printf("\n],\n\"fatal_classes\": [");
	first = 1;
#define FCLASS_(id, name) printf("%s", sep(&first)); str(name);
	SQ_FATAL_CLASSES(FCLASS_)

	printf("\n],\n\"fatals\": [");
	first = 1;
#define FATAL_(id, msg, cls, doc, how) \
	printf("%s{\"key\": ", sep(&first)); key(#id); \
	printf(", \"message\": "); str(msg); \
	printf(", \"class\": "); str(fatal_classes[SQ_FC_##cls]); \
	printf(", \"doc\": "); str(doc); \
	printf(", \"produced_by\": "); str(how); putchar('}');
	SQ_FATALS(FATAL_)

	printf("\n],\n\"contexts\": [");
	first = 1;
#define CONTEXT_(id, name, doc) \
	printf("%s{\"name\": ", sep(&first)); str(name); \
	printf(", \"doc\": "); str(doc); putchar('}');
	SQ_CONTEXTS(CONTEXT_)

	printf("\n],\n\"sites\": [");
	first = 1;
#define SITE_(id, name, ctx, doc) \
	printf("%s{\"name\": ", sep(&first)); str(name); \
	printf(", \"context\": "); str(contexts[SQ_CTX_##ctx]); \
	printf(", \"doc\": "); str(doc); putchar('}');
	SQ_SITES(SITE_)

	printf("\n],\n\"actions\": [");
	first = 1;
#define ACTION_(id, name, doc) \
	printf("%s{\"name\": ", sep(&first)); str(name); \
	printf(", \"doc\": "); str(doc); putchar('}');
	SQ_ACTIONS(ACTION_)

	printf("\n],\n\"verdicts\": [");
	first = 1;
#define VERDICT_(id, name, doc) \
	printf("%s{\"name\": ", sep(&first)); str(name); \
	printf(", \"doc\": "); str(doc); putchar('}');
	SQ_VERDICTS(VERDICT_)

	printf("\n],\n\"windows\": [");
	first = 1;
#define WINDOW_(id, name, fns, mode, comm, doc) \
	printf("%s{\"name\": ", sep(&first)); str(name); \
	printf(", \"functions\": "); list(fns); \
	printf(", \"mode\": "); str(mode); \
	printf(", \"comm\": "); str(comm); \
	printf(", \"doc\": "); str(doc); putchar('}');
	SQ_WINDOWS(WINDOW_)

	/* The rules as a table over every site x action x once/every, so that
	 * readers need not know how rows match. */
	printf("\n],\n\"arms\": [");
	first = 1;
	for (int s = 0; s < SQ_SITE_N; s++)
		for (int a = 0; a < SQ_ACT_N; a++)
			for (int every = 0; every < 2; every++) {
				int f, v = sq_arm_verdict(s, a, every, &f);

				printf("%s{\"site\": ", sep(&first)); str(sq_site_name(s));
				printf(", \"action\": "); str(sq_action_name(a));
				printf(", \"every\": %s, \"verdict\": ", every ? "true" : "false");
				str(verdicts[v]);
				printf(", \"fatal\": ");
				if (f >= 0)
					key(fatal_ids[f]);
				else
					printf("null");
				putchar('}');
			}
	printf("\n]\n}\n");
	return 0;
}
