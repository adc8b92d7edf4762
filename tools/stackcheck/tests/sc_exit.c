// sc_exit: how the program ends, to check stackcheck's exit status.
//
//   sc_exit code N     exit(N)
//   sc_exit signal N   die of signal N (default action restored first)

#include <signal.h>

#include "sctest.h"

int main(int argc, char **argv)
{
	int n;

	if (argc != 3)
		sc_usage(argv[0], "code|signal N");
	n = atoi(argv[2]);
	if (strcmp(argv[1], "code") == 0)
		return n;
	if (strcmp(argv[1], "signal") != 0)
		sc_usage(argv[0], "code|signal N");
	signal(n, SIG_DFL);
	raise(n);
	return SC_SETUP;
}
