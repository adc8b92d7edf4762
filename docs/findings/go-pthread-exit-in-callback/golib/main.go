// C threads call an exported Go function that calls C, and the C calls
// pthread_exit: the thread dies with the runtime's frames (cgocallback,
// the goroutine's cgo call) on its stack. The first such callback holds a
// sync.Mutex when it calls C, as any Go code may.
//
// Exit status: 1 when the runtime went on (the finding: the M and the
// goroutine are lost, the mutex is held for ever), 0 when ten ordinary
// callbacks and ten exiting ones leave no trace (no runtime does that),
// and a fatal error or a signal when the runtime refuses.
package main

/*
#include <pthread.h>
#include <stdint.h>

extern void goCallback(int how);

static void cexit(int how)
{
	if (how)
		pthread_exit(NULL);
}

static void *thread(void *arg)
{
	goCallback((int)(intptr_t)arg);
	return NULL;
}

static void callFromThread(int how)
{
	pthread_t t;

	pthread_create(&t, NULL, thread, (void *)(intptr_t)how);
	pthread_join(t, NULL);
}
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

var mu sync.Mutex

//export goCallback
func goCallback(how C.int) {
	if how == 2 {
		mu.Lock()
		defer mu.Unlock()
	}
	C.cexit(how)
}

// state: goroutines, Ms ever created, goroutines stuck in a syscall.
func state() (int, int, int) {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return runtime.NumGoroutine(), pprof.Lookup("threadcreate").Count(),
		strings.Count(string(buf[:n]), "[syscall, locked to thread]")
}

func main() {
	for i := 0; i < 10; i++ {
		C.callFromThread(0)
	}
	g0, m0, s0 := state()
	C.callFromThread(2)
	for i := 0; i < 9; i++ {
		C.callFromThread(1)
	}
	g1, m1, s1 := state()
	fmt.Printf("%s %s/%s: 10 threads exited inside a callback and the runtime went on\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Printf("  goroutines                    %3d -> %3d\n", g0, g1)
	fmt.Printf("  Ms created                    %3d -> %3d\n", m0, m1)
	fmt.Printf("  goroutines [syscall, locked]  %3d -> %3d\n", s0, s1)
	got := make(chan bool)
	go func() { mu.Lock(); got <- true }()
	select {
	case <-got:
		fmt.Println("  the mutex the first one held: free again")
	case <-time.After(time.Second):
		fmt.Println("  the mutex the first one held: still held after 1 s (its goroutine is gone)")
	}
	if g1 == g0 && m1 == m0 && s1 == s0 {
		os.Exit(0)
	}
	os.Exit(1)
}
