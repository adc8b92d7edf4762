// A Go library for a C host: one exported function that runs Go code for
// a while on the calling thread.
package main

import "C"

import "runtime"

// GoWork runs Go code for n rounds on the calling thread, yielding now and
// then so that the runtime never asks to preempt it (a SIGURG on a
// goroutine with a preemption request pending is fatal on gccgo for another
// reason: docs/findings/gccgo-sigurg-malloc-during-signal).
//
//export GoWork
func GoWork(n C.int) C.long {
	var s C.long
	for i := C.int(0); i < n; i++ {
		s += C.long(i) * 7
		if i%64 == 0 {
			runtime.Gosched()
		}
	}
	return s
}

func main() {}
