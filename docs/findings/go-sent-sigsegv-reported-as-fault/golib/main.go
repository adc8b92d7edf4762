// A goroutine runs C that spins; another thread sends that thread a
// SIGSEGV with tgkill(2), as kill -SEGV or a watchdog would. Nothing faults.
// os/signal: SIGBUS, SIGFPE and SIGSEGV "are only considered synchronous
// when caused by program execution, not when sent using os.Process.Kill or
// the kill program or some similar mechanism".
package main

/*
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int tid, stop;

static void spin(void)
{
	tid = syscall(SYS_gettid);
	while (!stop)
		;
}

static int spinner(void) { return tid; }

static void send(int sig) { syscall(SYS_tgkill, getpid(), tid, sig); }
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	sig := C.int(11) // SIGSEGV; SIGBUS (7) behaves the same
	if len(os.Args) > 1 {
		n, _ := strconv.Atoi(os.Args[1])
		sig = C.int(n)
	}
	go C.spin()
	for C.spinner() == 0 {
		time.Sleep(time.Millisecond)
	}
	fmt.Println("sending signal", sig, "to the thread running C")
	C.send(sig)
	time.Sleep(time.Second)
	fmt.Println("still running")
}
