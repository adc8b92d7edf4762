// A Go library for a C host: two exported functions, nothing else.
package main

import "C"

import (
	"runtime"
	"time"
)

//export GoNop
func GoNop() {}

// GoSpin runs Go code (no cgo call, no system call but the vDSO clock) for
// ms milliseconds on the calling thread. It yields now and then, so the
// runtime never asks to preempt it (that makes a SIGURG fatal on gccgo:
// docs/findings/gccgo-sigurg-malloc-during-signal).
//
//export GoSpin
func GoSpin(ms C.int) C.long {
	var n C.long
	for end := time.Now().Add(time.Duration(ms) * time.Millisecond); time.Now().Before(end); n++ {
		if n%1000 == 0 {
			runtime.Gosched()
		}
	}
	return n
}

func main() {}
