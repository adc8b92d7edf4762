// sc_fork_race: threads fork in a loop while the main thread calls exit
// (exit_group) at a random moment. The kernel drops the clone event of a
// fork it interrupts with SIGKILL, so stackcheck sees children whose parent
// never announced them; it must neither hang nor report. Clean, exit 0.
//
//   sc_fork_race [SEED]      (default: from the clock; printed either way)

#include <pthread.h>
#include <time.h>

#include "sctest.h"

enum { NFORKERS = 4 };

static void *forker(void *arg)
{
	(void)arg;
	for (;;) {
		pid_t pid = fork();
		if (pid == 0) {
			nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
			_exit(0);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned seed = argc > 1 ? strtoul(argv[1], NULL, 0) : (unsigned)time(NULL);
	pthread_t th;

	if (argc > 2)
		sc_usage(argv[0], "[SEED]");
	sc_event("SEED seed=%u", seed);
	srand(seed);
	for (int i = 0; i < NFORKERS; i++)
		if (pthread_create(&th, NULL, forker, NULL) != 0)
			sc_fail("pthread_create");
	nanosleep(&(struct timespec){ 0, (2 + rand() % 8) * 1000 * 1000 }, NULL);
	exit(0);
}
