// Command go_anchors measures the Go 1.19 anchors of stackquake's
// benchmarks (see docs/bench.md).
//
//	usage: go_anchors NAME [-n ITERS] [-r ROUNDS]   (go_anchors list: the names)
//
//	gosched   two goroutines ping-pong with runtime.Gosched, GOMAXPROCS=1;
//	          ns per switch
//	chan      two goroutines ping-pong through unbuffered channels,
//	          GOMAXPROCS=1; ns per round trip
//	cgocall   a cgo call of an empty C function; ns per call
//	callback  a pthread created in C calls an exported Go function: Go's
//	          attach+detach (needm/dropm) on every call; ns per callback
//
// Like the C programs it runs a warm-up round, then ROUNDS timed rounds
// (default 5), and prints the median as
//
//	RESULT name=<id> ns_per_op=<median> iters=<n> rounds=<r> min=<ns> max=<ns>
//
// Exit codes: 0 measured, 1 failure, 2 usage.
package main

/*
#include <stdint.h>
void bench_cempty(void);
int64_t bench_callbacks(int64_t n);
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"
)

//export benchGoEmpty
func benchGoEmpty() {}

// A body runs n iterations and returns the nanoseconds they took.
type body func(n int) int64

func timed(f func()) int64 {
	t0 := time.Now()
	f()
	return int64(time.Since(t0))
}

// 2n Gosched calls, each a switch to the other goroutine.
func gosched(n int) int64 {
	return timed(func() {
		done := make(chan bool)
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			done <- true
		}()
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
		<-done
	})
}

func chanPingPong(n int) int64 {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for i := 0; i < n; i++ {
			pong <- 1 + <-ping
		}
	}()
	return timed(func() {
		for i := 0; i < n; i++ {
			ping <- i
			if <-pong != i+1 {
				panic("chan: bad round trip")
			}
		}
	})
}

func cgocall(n int) int64 {
	return timed(func() {
		for i := 0; i < n; i++ {
			C.bench_cempty()
		}
	})
}

func callback(n int) int64 {
	ns := int64(C.bench_callbacks(C.int64_t(n)))
	if ns < 0 {
		fmt.Fprintln(os.Stderr, "[bench] callback: pthread_create failed")
		os.Exit(1)
	}
	return ns
}

type anchor struct {
	name    string
	run     body
	ops     int // operations per iteration
	iters   int
	oneproc bool
}

var anchors = []anchor{
	{"gosched", gosched, 2, 300000, true},
	{"chan", chanPingPong, 1, 100000, true},
	{"cgocall", cgocall, 1, 1000000, false},
	{"callback", callback, 1, 20000, false},
}

func measure(a anchor, n, rounds int) {
	warm := n / 10
	if warm < 1 {
		warm = 1
	}
	a.run(warm)
	v := make([]float64, rounds)
	for i := range v {
		v[i] = float64(a.run(n)) / float64(n*a.ops)
	}
	sort.Float64s(v)
	med := v[rounds/2]
	if rounds%2 == 0 {
		med = (v[rounds/2-1] + v[rounds/2]) / 2
	}
	fmt.Printf("RESULT name=%s ns_per_op=%.3f iters=%d rounds=%d min=%.3f max=%.3f\n",
		a.name, med, n, rounds, v[0], v[rounds-1])
}

func usage() {
	fmt.Fprint(os.Stderr, "usage: go_anchors NAME [-n ITERS] [-r ROUNDS]\n       go_anchors list\nnames:")
	for _, a := range anchors {
		fmt.Fprint(os.Stderr, " ", a.name)
	}
	fmt.Fprintln(os.Stderr)
	os.Exit(2)
}

func main() {
	if len(os.Args) >= 2 && os.Args[1] == "list" {
		for _, a := range anchors {
			fmt.Println(a.name)
		}
		return
	}
	if len(os.Args) < 2 {
		usage()
	}
	n, rounds := 0, 5
	for i := 2; i < len(os.Args); i += 2 {
		if i+1 >= len(os.Args) {
			usage()
		}
		v, err := strconv.Atoi(os.Args[i+1])
		if err != nil || v < 1 {
			usage()
		}
		switch os.Args[i] {
		case "-n":
			n = v
		case "-r":
			rounds = v
		default:
			usage()
		}
	}
	for _, a := range anchors {
		if a.name != os.Args[1] {
			continue
		}
		if n == 0 {
			n = a.iters
		}
		if a.oneproc {
			runtime.GOMAXPROCS(1)
		}
		measure(a, n, rounds)
		return
	}
	usage()
}
