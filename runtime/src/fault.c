/*
 * fault.c: arming and firing fault sites (see fault.h, sq_harness.h).
 *
 * In harness builds every site counts its hits, armed or not, so a driver
 * can tell how many times a window was reached and arm hit N for N = 1, 2,
 * ... until a run reaches no armed hit.
 *
 * fault_hit runs inside the windows it instruments: syscall windows with a
 * poisoned guard, attach/detach with no signal stack, signal handlers. It is
 * therefore NOSPLIT, takes no locks and makes no libc calls; only the armed
 * action itself may do something splittable, which is the point.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "runtime.h"
#include "os.h"
#include "sq_harness.h"

/* An Arm's action: SQ_ACT_* + 1, 0 while disarmed. */
enum { A_NONE = 0 };

typedef struct Arm {
	uint32_t action;
	uint32_t every;
	uint64_t nth;
	int sig;
	uint64_t hits;
	uint64_t fired;
} Arm;

static Arm arms[SQ_SITE_N];

/* The split action's target: an ordinary function, so its entry runs the
 * split check against the current g's guard. */
__attribute__((noinline)) void fault_splittable(void)
{
	__asm__ volatile("" ::: "memory");
}

static void fault_nothing(void *arg)
{
	(void)arg;
}

NOSPLIT static void spin(void)
{
	int64_t end = os_nanotime() + 100000;

	while (os_nanotime() < end)
		arch_pause();
}

NOSPLIT static void fire(Arm *a)
{
	G *gp = getg();

	switch ((int)a->action - 1) {
	case SQ_ACT_SPLIT:
		fault_splittable();
		break;
	case SQ_ACT_YIELD:
		if (gp && gp->m && gp == gp->m->curg && gp->status == Grunning && !gp->m->locks)
			sq_yield();
		else
			spin();
		break;
	case SQ_ACT_SPIN:
		spin();
		break;
	case SQ_ACT_SIGNAL:
		os_tgkill(os_gettid(), a->sig);
		break;
	case SQ_ACT_SYSTEMSTACK:
		systemstack(fault_nothing, NULL);
		break;
	}
}

NOSPLIT void fault_hit(FaultSite site)
{
	Arm *a = &arms[site];
	uint64_t n;

	n = __atomic_add_fetch(&a->hits, 1, __ATOMIC_RELAXED);
	if (__atomic_load_n(&a->action, __ATOMIC_ACQUIRE) == A_NONE)
		return;
	if (n < a->nth || (!a->every && n != a->nth))
		return;
	__atomic_add_fetch(&a->fired, 1, __ATOMIC_RELAXED);
	fire(a);
}

/* The id whose name (*name)(i) is the len bytes at s, or -1. */
static int lookup(const char *s, size_t len, const char *(*name)(int))
{
	const char *n;

	for (int i = 0; (n = name(i)) != NULL; i++)
		if (strlen(n) == len && strncmp(n, s, len) == 0)
			return i;
	return -1;
}

static int badspec(const char *spec, const char *why)
{
	fprintf(stderr, "sq_fault_arm: %s: %s\n", spec, why);
	return -EINVAL;
}

static int parsesig(const char *s)
{
	static const struct { const char *name; int sig; } sigs[] = {
		{ "SIGURG", SIGURG }, { "SIGPROF", SIGPROF }, { "SIGUSR1", SIGUSR1 },
		{ "SIGUSR2", SIGUSR2 }, { "SIGALRM", SIGALRM }, { "SIGCHLD", SIGCHLD },
		{ "SIGWINCH", SIGWINCH }, { "SIGIO", SIGIO }, { "SIGPIPE", SIGPIPE },
	};
	char *end;
	long v = strtol(s, &end, 10);

	if (*end == 0 && v > 0 && v < 65)
		return (int)v;
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (strcmp(s, sigs[i].name) == 0 || strcmp(s, sigs[i].name + 3) == 0)
			return sigs[i].sig;
	return -1;
}

/* "site:action[:N][:every][:SIG]" */
int sq_fault_arm(const char *spec)
{
	char buf[128], *tok, *save;
	int site, action, sig = SIGURG;
	uint64_t nth = 1;
	uint32_t every = 0;
	const char *colon;

	if (!SQ_HARNESS)
		return -ENOSYS;
	colon = spec ? strchr(spec, ':') : NULL;
	if (!colon || strlen(spec) >= sizeof buf)
		return badspec(spec ? spec : "(null)", "want site:action[:N][:every][:SIG]");
	site = lookup(spec, (size_t)(colon - spec), sq_site_name);
	if (site < 0)
		return badspec(spec, "unknown site");
	strcpy(buf, colon + 1);
	tok = strtok_r(buf, ":", &save);
	action = tok ? lookup(tok, strlen(tok), sq_action_name) : -1;
	if (action < 0) {
		fprintf(stderr, "sq_fault_arm: %s: unknown action; one of:", spec);
		for (int i = 0; sq_action_name(i); i++)
			fprintf(stderr, " %s", sq_action_name(i));
		fputc('\n', stderr);
		return -EINVAL;
	}
	while ((tok = strtok_r(NULL, ":", &save)) != NULL) {
		char *end;
		unsigned long long v = strtoull(tok, &end, 10);

		if (*end == 0 && v > 0)
			nth = v;
		else if (strcmp(tok, "every") == 0)
			every = 1;
		else if ((sig = parsesig(tok)) < 0)
			return badspec(spec, "bad count or signal");
	}
	arms[site].nth = nth;
	arms[site].every = every;
	arms[site].sig = sig;
	__atomic_store_n(&arms[site].hits, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&arms[site].fired, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&arms[site].action, (uint32_t)action + 1, __ATOMIC_RELEASE);
	return 0;
}

void sq_fault_disarm_all(void)
{
	for (int i = 0; i < SQ_SITE_N; i++)
		__atomic_store_n(&arms[i].action, A_NONE, __ATOMIC_RELEASE);
}

static int64_t counter(const char *site, int fired)
{
	int i = site ? lookup(site, strlen(site), sq_site_name) : -1;

	if (i < 0)
		return -1;
	return (int64_t)__atomic_load_n(fired ? &arms[i].fired : &arms[i].hits,
		__ATOMIC_RELAXED);
}

int64_t sq_fault_hits(const char *site)
{
	return counter(site, 0);
}

int64_t sq_fault_fired(const char *site)
{
	return counter(site, 1);
}

const char *sq_fault_site(int i)
{
	return sq_site_name(i);
}

int sq_harness_build(void)
{
	return SQ_HARNESS;
}

/* Arm what SQ_FAULT lists. A bad spec is fatal: a harness run that silently
 * armed nothing would report a clean run it never had. */
void fault_init(void)
{
	const char *env = sq_settings.fault;
	char buf[1024], *tok, *save;

	if (!env || !*env)
		return;
	if (!SQ_HARNESS) {
		fprintf(stderr, "runtime: SQ_FAULT set but this is not a harness build\n");
		throw(F_BAD_ARG);
	}
	if (strlen(env) >= sizeof buf)
		throwf(F_BAD_ARG, "SQ_FAULT too long");
	strcpy(buf, env);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (sq_fault_arm(tok) < 0)
			throwf(F_BAD_ARG, "bad SQ_FAULT entry");
}
