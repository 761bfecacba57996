package gather_test

import (
	"context"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/async-patterns/async/gather"
)

const benchFns = 100

// immediate is a function that returns at once: the benchmark measures the
// machinery, not the work.
func immediate(context.Context) (int, error) { return 1, nil }

// BenchmarkAll runs All over 100 immediate functions beside the floor (go
// statements, a sync.WaitGroup and a slice of results: no cancellation, no
// panic capture) and
// errgroup with a ctx (no panic capture). ns/fn is the cost per function.
func BenchmarkAll(b *testing.B) {
	ctx := context.Background()
	fns := make([]func(context.Context) (int, error), benchFns)
	for i := range fns {
		fns[i] = immediate
	}
	perFn := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchFns), "ns/fn")
	}

	b.Run("gather.All", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := gather.All(ctx, fns...); err != nil {
				b.Fatal(err)
			}
		}
		perFn(b)
	})

	b.Run("waitgroup", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			res := make([]gather.Result[int], len(fns))
			var wg sync.WaitGroup
			wg.Add(len(fns))
			for i, fn := range fns {
				r := &res[i]
				go func() {
					r.Value, r.Err = fn(ctx)
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
