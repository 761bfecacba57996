package bench

import (
	"runtime"
	"sync/atomic"
	"testing"
)

// procs is the worker count every pool is given: GOMAXPROCS, for every
// contender alike.
var procs = runtime.GOMAXPROCS(0)

// tiny is the work of a tiny task: a few nanoseconds of arithmetic. It is not
// inlined, and it has a (never taken) side effect, so that no contender can
// have it optimised away whether or not its value is used.
//
//go:noinline
func tiny(i int) int {
	x := uint64(i) + 0x9e3779b97f4a7c15
	x ^= x >> 31
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 29
	if x == 0 {
		tinyZeros.Add(1)
	}
	return int(x)
}

var tinyZeros atomic.Int64

// perItem reports ns/item for an op that covered n items. Call it after the
// timed loop.
func perItem(b *testing.B, n int) {
	b.Helper()
	if b.N > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/item")
	}
}

// sinkInt keeps results alive. Written by one goroutine at a time only.
var sinkInt int
