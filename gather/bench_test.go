package gather_test

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/async-patterns/async/gather"
)

const benchFns = 100

// immediate is a function that returns at once: the benchmark measures the
// machinery, not the work.
func immediate(context.Context) (int, error) { return 1, nil }

// BenchmarkAll runs All over 100 immediate functions beside the floor (go
// statements, a sync.WaitGroup and a slice of results: one allocation per
// function, no cancellation, no panic capture) and errgroup with a ctx (no
// panic capture). ns/fn is the wall-clock cost per function; cpu-ns/op the
// CPU time per op (both cores), steadier when other processes share them.
func BenchmarkAll(b *testing.B) {
	ctx := context.Background()
	fns := make([]func(context.Context) (int, error), benchFns)
	for i := range fns {
		fns[i] = immediate
	}
	var cpu0 time.Duration
	perFn := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchFns), "ns/fn")
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	}

	b.Run("gather.All", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 = cpuTime()
		for b.Loop() {
			if _, err := gather.All(ctx, fns...); err != nil {
				b.Fatal(err)
			}
		}
		perFn(b)
	})

	b.Run("waitgroup", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 = cpuTime()
		for b.Loop() {
			res := make([]gather.Result[int], len(fns))
			var wg sync.WaitGroup
			wg.Add(len(fns))
			for i, fn := range fns {
				go func() {
					res[i].Value, res[i].Err = fn(ctx)
					wg.Done()
				}()
			}
			wg.Wait()
			for i := range res {
				if res[i].Err != nil {
					b.Fatal(res[i].Err)
				}
			}
		}
		perFn(b)
	})

	b.Run("errgroup", func(b *testing.B) {
		b.ReportAllocs()
		cpu0 = cpuTime()
		for b.Loop() {
			out := make([]int, len(fns))
			g, gctx := errgroup.WithContext(ctx)
			for i, fn := range fns {
				g.Go(func() error {
					v, err := fn(gctx)
					out[i] = v
					return err
				})
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
		}
		perFn(b)
	})
}

// cpuTime returns the user and system CPU time the process has used. On a
// shared machine it is steadier than wall time: it does not count the time
// other processes hold the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
