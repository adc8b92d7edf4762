// C called from Go switches to a stack of its own (as coroutine, fiber and
// green-thread libraries in C do) and calls back into Go from there. The
// runtime still has the thread's g0 bounds from before the switch.
// The stack is mapped low (below every thread stack), so the first split
// check the runtime makes on g0 during the callback fails.
package main

/*
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <ucontext.h>

void goCallback(void);

enum { SIZE = 1 << 20 };
static ucontext_t back, fiber;

static void body(void)
{
	goCallback();
}

static int run_on_fiber(void)
{
	// A hint, not MAP_FIXED: far below the mmap area.
	char *stk = mmap((void *)0x10000000, SIZE, PROT_READ | PROT_WRITE,
		MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

	if (stk == MAP_FAILED)
		return -1;
	printf("fiber stack at %p, C frame at %p\n", (void *)stk, (void *)&stk);
	fflush(stdout);
	getcontext(&fiber);
	fiber.uc_stack.ss_sp = stk;
	fiber.uc_stack.ss_size = SIZE;
	fiber.uc_link = &back;
	makecontext(&fiber, body, 0);
	swapcontext(&back, &fiber);
	return 0;
}
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
)

var sink []byte

//export goCallback
func goCallback() {
	for i := 0; i < 1000; i++ {
		sink = make([]byte, 1<<10)
	}
	runtime.GC()
}

func main() {
	if C.run_on_fiber() != 0 {
		fmt.Println("mmap failed")
		os.Exit(3)
	}
	fmt.Println("callback from the switched stack returned")
}
