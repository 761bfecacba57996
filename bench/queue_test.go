package bench

import (
	"context"
	"sync"
	"testing"

	"github.com/async-patterns/async/queue"
)

// BenchmarkQueue moves b.N ints through a queue of capacity queueCap: one op is
// one item's send and receive. "chan" is the floor, a plain buffered channel;
// "chanSelectCtx" is the usual way to make it cancellable, a select on
// ctx.Done() on both sides; "ours" is queue.New with Put and Get.
//
// spsc is one producer and one consumer; mpmc-4x4 is four producers and four
// consumers sharing the b.N items.
func BenchmarkQueue(b *testing.B) {
	for _, sc := range []struct {
		name       string
		prod, cons int
	}{
		{"spsc", 1, 1},
		{"mpmc-4x4", 4, 4},
	} {
		b.Run(sc.name, func(b *testing.B) {
			b.Run("chan", func(b *testing.B) {
				ch := make(chan int, queueCap)
				runPipe(b, sc.prod, sc.cons,
					func(_ context.Context, n int) {
						for i := range n {
							ch <- i
						}
					},
					func(_ context.Context, n int) (s int) {
						for range n {
							s += <-ch
						}
						return s
					})
			})
			b.Run("chanSelectCtx", func(b *testing.B) {
				ch := make(chan int, queueCap)
				runPipe(b, sc.prod, sc.cons,
					func(ctx context.Context, n int) {
						for i := range n {
							select {
							case ch <- i:
							case <-ctx.Done():
								return
							}
						}
					},
					func(ctx context.Context, n int) (s int) {
						for range n {
							select {
							case v := <-ch:
								s += v
							case <-ctx.Done():
								return s
							}
						}
						return s
					})
			})
			b.Run("ours", func(b *testing.B) {
				q := queue.New[int](queueCap)
				runPipe(b, sc.prod, sc.cons,
					func(ctx context.Context, n int) {
						for i := range n {
							if err := q.Put(ctx, i); err != nil {
								panic(err)
							}
						}
					},
					func(ctx context.Context, n int) (s int) {
						for range n {
							v, err := q.Get(ctx)
							if err != nil {
								panic(err)
							}
							s += v
						}
						return s
					})
			})
		})
	}
}

const queueCap = 128

// runPipe runs prod producers and cons consumers until b.N items have gone
// through: each producer puts its share of the items in one call of produce,
// each consumer gets its share in one call of consume, so the loops are
// written out per contender and no item pays for an indirect call.
func runPipe(b *testing.B, prod, cons int, produce func(ctx context.Context, n int), consume func(ctx context.Context, n int) int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for p := range prod {
		wg.Go(func() { produce(ctx, share(b.N, prod, p)) })
	}
	sums := make([]int, cons)
	for c := range cons {
		wg.Go(func() { sums[c] = consume(ctx, share(b.N, cons, c)) })
	}
	wg.Wait()
	b.StopTimer()
	for _, s := range sums {
		sinkInt += s
	}
}

// share is worker w's part of n items split among k workers.
func share(n, k, w int) int {
	s := n / k
	if w < n%k {
		s++
	}
	return s
}
