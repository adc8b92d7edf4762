// The Go side of the reproduction: one exported function, built as a C
// archive and linked into ../host.c. A C thread that calls it is attached
// to an extra M (needm) and detached again on the way out (dropm, from the
// deferred syscall.CgocallBackDone on gccgo).
package main

import "C"

import "sync/atomic"

var calls int64

//export Nop
func Nop() C.int {
	atomic.AddInt64(&calls, 1)
	return 1
}

func main() {}
