// Command go_anchors measures the Go 1.19 anchors of stackquake's
// benchmarks (see docs/bench.md).
//
//	usage: go_anchors NAME [-n ITERS] [-r ROUNDS]   (go_anchors list: the names)
//
//	gosched         two goroutines ping-pong with runtime.Gosched, GOMAXPROCS=1;
//	                ns per switch
//	chan            two goroutines ping-pong through unbuffered channels,
//	                GOMAXPROCS=1; ns per round trip
//	chan-p2, -p4    the same with GOMAXPROCS=2 and 4
//	cgocall         a cgo call of an empty C function; ns per call
//	callback        a pthread created in C calls an exported Go function: Go's
//	                attach+detach (needm/dropm) on every call; ns per callback
//	callback-t1, -t2, -t8, -t64
//	                T such pthreads at once, kept across rounds, n/T calls
//	                each; ns per callback over all of them
//	steal-p1, -p2, -p4
//	                one goroutine starts n goroutines that each just finish
//	                (a WaitGroup), GOMAXPROCS=1, 2, 4; ns per goroutine
//	spawn-1e5, -1e6 start N goroutines that each block on a channel, then
//	                close it and wait until every one has finished. Prints
//	                spawn-cold-<N> (first round), spawn-<N> (median of the
//	                later rounds), ns per goroutine; and from the first round,
//	                with all N blocked: idle-rss-<N> and idle-pte-<N> (VmRSS and
//	                VmPTE growth per goroutine, bytes)
//	splitcheck      Go's own split check: a noinline function that calls an
//	                empty noinline function, with its prologue and marked
//	                //go:nosplit; the difference per call
//
// Like the C programs it runs a warm-up round, then ROUNDS timed rounds
// (default 5), and prints the median as
//
//	RESULT name=<id> ns_per_op=<median> iters=<n> rounds=<r> min=<ns> max=<ns>
//	       clock=cpu wall_ns_per_op=<median> cpu_ns_per_op=<median>
//
// ns_per_op is CPU time (getrusage RUSAGE_SELF: user + system, every thread
// of the process), as in the C programs (bench/bench.h); wall time is
// printed beside it. Memory results print bytes_per_op=... unit=bytes.
//
// Exit codes: 0 measured, 1 failure, 2 usage.
package main

/*
#include <stdint.h>
void bench_cempty(void);
int64_t bench_callbacks(int64_t n);
int bench_crowd_start(int t);
int64_t bench_crowd_round(int64_t per);
*/
import "C"

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

//export benchGoEmpty
func benchGoEmpty() {}

// A body runs n iterations.
type body func(n int)

func cpuNow() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// 2n Gosched calls, each a switch to the other goroutine.
func gosched(n int) {
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
}

func chanPingPong(n int) {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for i := 0; i < n; i++ {
			pong <- 1 + <-ping
		}
	}()
	for i := 0; i < n; i++ {
		ping <- i
		if <-pong != i+1 {
			panic("chan: bad round trip")
		}
	}
}

func cgocall(n int) {
	for i := 0; i < n; i++ {
		C.bench_cempty()
	}
}

func callback(n int) {
	if C.bench_callbacks(C.int64_t(n)) < 0 {
		fmt.Fprintln(os.Stderr, "[bench] callback: pthread_create failed")
		os.Exit(1)
	}
}

// The crowd of C threads is started on the first round (the warm-up).
var crowdStarted bool

func crowd(threads int) body {
	return func(n int) {
		if !crowdStarted {
			if C.bench_crowd_start(C.int(threads)) != 0 {
				fmt.Fprintln(os.Stderr, "[bench] callback crowd: pthread_create failed")
				os.Exit(1)
			}
			crowdStarted = true
		}
		C.bench_crowd_round(C.int64_t(n / threads))
	}
}

func steal(n int) {
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go wg.Done()
	}
	wg.Wait()
}

// Go's prologue check: the same function with and without it. Both call an
// empty function, so that neither is a leaf (Go leaves small leaves
// unchecked).
//
//go:noinline
func splitEmpty(x int) int { return x }

//go:noinline
func leafSplit(x int) int { return splitEmpty(x) + 1 }

//go:noinline
//go:nosplit
func leafNosplit(x int) int { return splitEmpty(x) + 1 }

var sink int

type anchor struct {
	name    string
	run     body
	ops     int // operations per iteration
	iters   int
	procs   int // GOMAXPROCS, 0: leave it
	threads int // callbacks: C threads at once
}

var anchors = []anchor{
	{"gosched", gosched, 2, 300000, 1, 0},
	{"chan", chanPingPong, 1, 100000, 1, 0},
	{"chan-p2", chanPingPong, 1, 100000, 2, 0},
	{"chan-p4", chanPingPong, 1, 100000, 4, 0},
	{"cgocall", cgocall, 1, 1000000, 0, 0},
	{"callback", callback, 1, 20000, 0, 0},
	{"callback-t1", nil, 1, 20000, 0, 1},
	{"callback-t2", nil, 1, 20000, 0, 2},
	{"callback-t8", nil, 1, 20000, 0, 8},
	{"callback-t64", nil, 1, 20000, 0, 64},
	{"steal-p1", steal, 1, 200000, 1, 0},
	{"steal-p2", steal, 1, 200000, 2, 0},
	{"steal-p4", steal, 1, 200000, 4, 0},
	{"spawn-1e5", nil, 1, 100000, 0, 0},
	{"spawn-1e6", nil, 1, 1000000, 0, 0},
	{"splitcheck", nil, 1, 20000000, 0, 0},
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func report(name string, cpu, wall []float64, iters int) {
	s := append([]float64(nil), cpu...)
	sort.Float64s(s)
	fmt.Printf("RESULT name=%s ns_per_op=%.3f iters=%d rounds=%d min=%.3f max=%.3f clock=cpu wall_ns_per_op=%.3f cpu_ns_per_op=%.3f\n",
		name, median(cpu), iters, len(cpu), s[0], s[len(s)-1], median(wall), median(cpu))
}

func measure(a anchor, n, rounds int) {
	warm := n / 10
	if warm < 1 {
		warm = 1
	}
	a.run(warm)
	cpu := make([]float64, rounds)
	wall := make([]float64, rounds)
	for i := range cpu {
		t0, c0 := time.Now(), cpuNow()
		a.run(n)
		cpu[i] = float64(cpuNow()-c0) / float64(n*a.ops)
		wall[i] = float64(time.Since(t0)) / float64(n*a.ops)
	}
	report(a.name, cpu, wall, n)
}

// The leaves alternate in short slices, as sq_bench's splitcheck does.
func splitcheck(n, rounds int) {
	const slices = 16
	slice := n / slices
	loop := func(f func(int) int) float64 {
		c0 := cpuNow()
		x := 0
		for i := 0; i < slice; i++ {
			x = f(x)
		}
		sink = x
		return float64(cpuNow()-c0) / float64(slice)
	}
	loop(leafSplit)
	loop(leafNosplit)
	var s, ns, d []float64
	for i := 0; i < rounds*slices; i++ {
		b := loop(leafNosplit)
		a := loop(leafSplit)
		s, ns, d = append(s, a), append(ns, b), append(d, a-b)
	}
	report("leaf-split", s, s, n)
	report("leaf-nosplit", ns, ns, n)
	report("splitcheck", d, d, n)
}

// VmRSS or VmPTE of /proc/self/status, in KiB.
func statusKiB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, field+":") {
			v, _ := strconv.ParseInt(strings.Fields(line[len(field)+1:])[0], 10, 64)
			return v
		}
	}
	return -1
}

type spawned struct {
	cpu, wall int64
	rss, pte  int64
}

func spawnRound(n int) spawned {
	var s spawned
	rss0, pte0 := statusKiB("VmRSS"), statusKiB("VmPTE")
	t0, c0 := time.Now(), cpuNow()
	gate := make(chan struct{})
	var parked, done sync.WaitGroup
	parked.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			parked.Done()
			<-gate
			done.Done()
		}()
	}
	parked.Wait()
	t1, c1 := time.Now(), cpuNow()
	s.rss = statusKiB("VmRSS") - rss0
	s.pte = statusKiB("VmPTE") - pte0
	t0 = t0.Add(time.Since(t1))
	c0 += cpuNow() - c1
	close(gate)
	done.Wait()
	s.cpu = cpuNow() - c0
	s.wall = int64(time.Since(t0))
	return s
}

func spawn(suffix string, n, rounds int) {
	if n >= 1000000 && rounds > 3 {
		rounds = 3
	}
	if rounds < 2 {
		rounds = 2
	}
	var s []spawned
	for i := 0; i < rounds; i++ {
		s = append(s, spawnRound(n))
	}
	per := func(v int64) float64 { return float64(v) / float64(n) }
	report("spawn-cold-"+suffix, []float64{per(s[0].cpu)}, []float64{per(s[0].wall)}, n)
	var cpu, wall []float64
	for _, r := range s[1:] {
		cpu, wall = append(cpu, per(r.cpu)), append(wall, per(r.wall))
	}
	report("spawn-"+suffix, cpu, wall, n)
	fmt.Printf("RESULT name=idle-rss-%s bytes_per_op=%.1f iters=%d rounds=1 unit=bytes\n", suffix, per(s[0].rss*1024), n)
	fmt.Printf("RESULT name=idle-pte-%s bytes_per_op=%.1f iters=%d rounds=1 unit=bytes\n", suffix, per(s[0].pte*1024), n)
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
		if a.procs > 0 {
			runtime.GOMAXPROCS(a.procs)
		}
		switch {
		case a.threads > 0:
			a.run = crowd(a.threads)
			measure(a, n, rounds)
		case strings.HasPrefix(a.name, "spawn-"):
			spawn(strings.TrimPrefix(a.name, "spawn-"), n, rounds)
		case a.name == "splitcheck":
			splitcheck(n, rounds)
		default:
			measure(a, n, rounds)
		}
		return
	}
	usage()
}
