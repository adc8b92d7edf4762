// A goroutine computes for half a second without a function call that
// yields; another sends SIGURG to the process or to that goroutine's
// thread, as the kernel does for a socket's out-of-band data (F_SETOWN),
// `kill -URG` does, or any tool that signals threads. No cgo.
//
// gccgo 12 takes SIGURG as a preemption request. When the runtime has
// already asked that goroutine to stop (sysmon does after 10 ms, the
// collector when it needs the goroutine's stack), the handler checks
// whether the interrupted pc is an async safe point: isAsyncSafePoint
// calls FuncForPC, which allocates, and allocating on the signal stack
// is fatal: "fatal error: malloc during signal".
//
// Usage: repro [thread|process]   (default thread: tgkill to the goroutine's thread)
// Exit 0: the program survived 100 signals.
package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
)

var tid int32

func compute(ms int) int {
	runtime.LockOSThread()
	tid = int32(syscall.Gettid())
	n := 0
	for end := time.Now().Add(time.Duration(ms) * time.Millisecond); time.Now().Before(end); n++ {
	}
	return n
}

func main() {
	how := "thread"
	if len(os.Args) > 1 {
		how = os.Args[1]
	}
	done := make(chan int)
	go func() { done <- compute(500) }()
	for tid == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the runtime has asked it to stop by now
	for i := 0; i < 100; i++ {
		if how == "process" {
			syscall.Kill(os.Getpid(), syscall.SIGURG)
		} else {
			syscall.Tgkill(os.Getpid(), int(tid), syscall.SIGURG)
		}
		time.Sleep(time.Millisecond)
	}
	<-done
	fmt.Printf("%s %s: survived 100 SIGURG sent to the %s of a computing goroutine\n",
		runtime.Compiler, runtime.Version(), how)
}
