// Package main is the Go side of the Go target (harness/target_go.c): one
// exported function per call of harness/target.h, built with
// -buildmode=c-archive and linked into every scenario program, for gc
// (Debian's Go 1.19) and gccgo 12 alike.
//
// How each call maps onto the Go runtime:
//
//	callback   a foreign C thread calls sqgoCallback: cgo's needm attaches
//	           the thread to an extra M, the goroutine runs fn through a
//	           cgo call (sqgo_call), dropm detaches on the way out
//	outcall    sqgoOutcall from a scenario function (C already inside a cgo
//	           call): a callback into Go that makes a nested cgo call, so
//	           Go -> C -> Go -> C
//	spawn      a goroutine that makes a cgo call of fn
//	yield      runtime.Gosched
//	sleep      time.Sleep
//	lock       runtime.LockOSThread / UnlockOSThread, from a callback: the
//	           external count outlives the callback, so the goroutine stays
//	           wired to its thread once back in its cgo call
//	goexit     runtime.Goexit from a callback: the deferred calls run (cgo's
//	           own among them, which drop the C frames of the cgo call
//	           below), then the goroutine ends
//	syscall    syscall.Syscall: entersyscall, the raw call, exitsyscall
//	block      syscall.Syscall as well: Go 1.19 has no entersyscallblock a
//	           program can reach; sysmon hands the P off after 20 us
//	wg, chan   sync.WaitGroup and chan uintptr behind runtime/cgo handles
//	main       fn runs in a new goroutine; the process exits with its result
//	quiesce    runtime.NumGoroutine, which counts callbacks in flight and
//	           not the extra Ms' idle goroutines
//	profile    runtime.SetCPUProfileRate
//
// A scenario function is C run from Go (sqgo_call, through cgo), so every
// target call it makes re-enters Go through one of these exports.
package main

/*
#cgo CFLAGS: -O2 -g
#include <stdint.h>
#include "sqgo.h"
*/
import "C"

import (
	"os"
	"runtime"
	"runtime/cgo"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

func main() {}

// run makes the cgo call of a scenario function.
func run(fn C.sqgo_fn, arg unsafe.Pointer) C.int {
	return C.sqgo_call(fn, arg)
}

//export sqgoInit
func sqgoInit() C.int { return 0 }

// sqgoString copies s into buf (size n, NUL-terminated): C keeps no Go memory.
func sqgoString(s string, buf *C.char, n C.int) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n))
	k := copy(b[:len(b)-1], s)
	b[k] = 0
}

//export sqgoVersion
func sqgoVersion(buf *C.char, n C.int) { sqgoString(runtime.Version(), buf, n) }

//export sqgoCompiler
func sqgoCompiler(buf *C.char, n C.int) { sqgoString(runtime.Compiler, buf, n) }

//export sqgoMain
func sqgoMain(fn C.sqgo_fn, arg unsafe.Pointer) {
	go func() {
		os.Exit(int(run(fn, arg)))
	}()
	select {}
}

//export sqgoCallback
func sqgoCallback(fn C.sqgo_fn, arg unsafe.Pointer) C.int { return run(fn, arg) }

//export sqgoOutcall
func sqgoOutcall(fn C.sqgo_fn, arg unsafe.Pointer) C.int { return run(fn, arg) }

//export sqgoSpawn
func sqgoSpawn(fn C.sqgo_fn, arg unsafe.Pointer) {
	go run(fn, arg)
}

//export sqgoYield
func sqgoYield() { runtime.Gosched() }

//export sqgoSleep
func sqgoSleep(ns C.int64_t) { time.Sleep(time.Duration(ns)) }

//export sqgoLockOSThread
func sqgoLockOSThread() { runtime.LockOSThread() }

//export sqgoUnlockOSThread
func sqgoUnlockOSThread() { runtime.UnlockOSThread() }

//export sqgoGoexit
func sqgoGoexit() { runtime.Goexit() }

// sqgoSyscall returns the result or -errno, as the target interface wants.
//
//export sqgoSyscall
func sqgoSyscall(nr, a1, a2, a3 C.long) C.long {
	r, _, e := syscall.Syscall(uintptr(nr), uintptr(a1), uintptr(a2), uintptr(a3))
	if e != 0 {
		return -C.long(e)
	}
	return C.long(r)
}

//export sqgoWgNew
func sqgoWgNew() C.uintptr_t { return C.uintptr_t(cgo.NewHandle(new(sync.WaitGroup))) }

func wg(h C.uintptr_t) *sync.WaitGroup { return cgo.Handle(h).Value().(*sync.WaitGroup) }

//export sqgoWgAdd
func sqgoWgAdd(h C.uintptr_t, n C.int) { wg(h).Add(int(n)) }

//export sqgoWgDone
func sqgoWgDone(h C.uintptr_t) { wg(h).Done() }

//export sqgoWgWait
func sqgoWgWait(h C.uintptr_t) { wg(h).Wait() }

//export sqgoChanNew
func sqgoChanNew(capacity C.int) C.uintptr_t {
	return C.uintptr_t(cgo.NewHandle(make(chan uintptr, int(capacity))))
}

func ch(h C.uintptr_t) chan uintptr { return cgo.Handle(h).Value().(chan uintptr) }

//export sqgoChanSend
func sqgoChanSend(h C.uintptr_t, v C.uintptr_t) C.int {
	ch(h) <- uintptr(v)
	return 0
}

//export sqgoChanRecv
func sqgoChanRecv(h C.uintptr_t, v *C.uintptr_t) C.int {
	x, ok := <-ch(h)
	if !ok {
		return -C.int(syscall.EPIPE)
	}
	*v = C.uintptr_t(x)
	return 0
}

// sqgoQuiesce waits (about a second at most) until at most self goroutines
// are alive and returns how many more than self there are.
//
//export sqgoQuiesce
func sqgoQuiesce(self C.int) C.int {
	n := runtime.NumGoroutine()
	for i := 0; i < 1000 && n > int(self); i++ {
		time.Sleep(time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return C.int(n - int(self))
}

// sqgoProfile sets the CPU profiling rate; Go refuses a new rate while one
// is set, so it clears the old one first.
//
//export sqgoProfile
func sqgoProfile(hz C.int) {
	runtime.SetCPUProfileRate(0)
	if hz > 0 {
		runtime.SetCPUProfileRate(int(hz))
	}
}
