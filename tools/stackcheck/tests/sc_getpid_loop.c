// sc_getpid_loop: N getpid syscalls in a loop, the syscall-heavy workload
// of bench.sh. Prints the time per call on stdout.
//
//   sc_getpid_loop N

#include <time.h>

#include "sctest.h"

int main(int argc, char **argv)
{
	struct timespec a, b;
	long n;

	if (argc != 2 || (n = atol(argv[1])) < 1)
		sc_usage(argv[0], "N");
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		syscall(SYS_getpid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f ns/call\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
	return 0;
}
