// The Go side of a stand-alone reproduction (written by `stackquake repro
// --emit-c`): one exported function per call the C side makes, built as a
// C archive (-buildmode=c-archive) and linked into ../repro.c. Each maps
// onto the Go runtime the way stackquake's Go target does (harness/go):
// a callback is cgo's needm/dropm around a cgo call of the C function; an
// outcall from C already inside a cgo call is a callback that makes a
// nested cgo call; spawn is a goroutine that makes a cgo call.
package main

/*
#include <stdint.h>
typedef int (*sqgo_fn)(void *);
static int sqgo_call(sqgo_fn fn, void *arg) { return fn(arg); }
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

func run(fn C.sqgo_fn, arg unsafe.Pointer) C.int { return C.sqgo_call(fn, arg) }

//export sqgoMain
func sqgoMain(fn C.sqgo_fn, arg unsafe.Pointer) {
	go func() { os.Exit(int(run(fn, arg))) }()
	select {}
}

//export sqgoCallback
func sqgoCallback(fn C.sqgo_fn, arg unsafe.Pointer) C.int { return run(fn, arg) }

//export sqgoOutcall
func sqgoOutcall(fn C.sqgo_fn, arg unsafe.Pointer) C.int { return run(fn, arg) }

//export sqgoSpawn
func sqgoSpawn(fn C.sqgo_fn, arg unsafe.Pointer) { go run(fn, arg) }

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

//export sqgoSyscall
func sqgoSyscall(nr, a1, a2, a3 C.long) C.long {
	r, _, e := syscall.Syscall(uintptr(nr), uintptr(a1), uintptr(a2), uintptr(a3))
	if e != 0 {
		return -C.long(e)
	}
	return C.long(r)
}

func wg(h C.uintptr_t) *sync.WaitGroup { return cgo.Handle(h).Value().(*sync.WaitGroup) }

//export sqgoWgNew
func sqgoWgNew() C.uintptr_t { return C.uintptr_t(cgo.NewHandle(new(sync.WaitGroup))) }

//export sqgoWgAdd
func sqgoWgAdd(h C.uintptr_t, n C.int) { wg(h).Add(int(n)) }

//export sqgoWgDone
func sqgoWgDone(h C.uintptr_t) { wg(h).Done() }

//export sqgoWgWait
func sqgoWgWait(h C.uintptr_t) { wg(h).Wait() }

func ch(h C.uintptr_t) chan uintptr { return cgo.Handle(h).Value().(chan uintptr) }

//export sqgoChanNew
func sqgoChanNew(capacity C.int) C.uintptr_t {
	return C.uintptr_t(cgo.NewHandle(make(chan uintptr, int(capacity))))
}

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

//export sqgoQuiesce
func sqgoQuiesce(self C.int) C.int {
	n := runtime.NumGoroutine()
	for i := 0; i < 1000 && n > int(self); i++ {
		time.Sleep(time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return C.int(n - int(self))
}

//export sqgoProfile
func sqgoProfile(hz C.int) {
	runtime.SetCPUProfileRate(0)
	if hz > 0 {
		runtime.SetCPUProfileRate(int(hz))
	}
}
