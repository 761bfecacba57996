package bench

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/async-patterns/async/queue"
)

// BenchmarkQueue moves ints through a queue: one op is one item's send and
// receive. "chan" is the floor, a plain buffered channel; "chanSelectCtx" is
// the usual way to make it cancellable, a select on ctx.Done() on both
// sides; "ours" is queue.New with Put and Get. Every contender has the same
// capacity, and a live, cancellable ctx where it takes one.
//
// spsc is one producer and one consumer, mpmc-4x4 four producers and four
// consumers, sharing the b.N items, all started once per benchmark run and
// living until the b.N items are through (capacity 128). mpmc-4x4-cap1024
// is the same at capacity 1024, where the queue is rarely full or empty and
// nearly every call takes the lock's fast path. mpmc-4x4-burst starts its
// goroutines per op instead: each op starts four producers and four
// consumers that move burstItems items through a capacity of 1024 and waits
// for them, so the consumers start on an empty queue and park, and ns/op is
// per item.
//
// Each row also reports cpu-ns/item, the CPU time the whole process used
// per item (every goroutine, the runtime's included). On a machine shared
// with other work, wall time swings with the share of the cores the
// process gets (the 4x4 rows' ratio to chan moved between 0.4x and 4.9x
// from one round to the next under a load average of 8-10, issue 24),
// while the CPU time per item moved a few percent: read both.
func BenchmarkQueue(b *testing.B) {
	for _, sc := range []struct {
		name       string
		prod, cons int
		capacity   int
		run        func(b *testing.B, prod, cons int, produce func(ctx context.Context, n int), consume func(ctx context.Context, n int) int)
	}{
		{"spsc", 1, 1, queueCap, runPipe},
		{"mpmc-4x4", 4, 4, queueCap, runPipe},
		{"mpmc-4x4-cap1024", 4, 4, 1024, runPipe},
		{"mpmc-4x4-burst", 4, 4, 1024, runBursts},
	} {
		b.Run(sc.name, func(b *testing.B) {
			b.Run("chan", func(b *testing.B) {
				ch := make(chan int, sc.capacity)
				sc.run(b, sc.prod, sc.cons,
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
				ch := make(chan int, sc.capacity)
				sc.run(b, sc.prod, sc.cons,
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
				q := queue.New[int](sc.capacity)
				sc.run(b, sc.prod, sc.cons,
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

const (
	queueCap   = 128
	burstItems = 4096 // items per op of mpmc-4x4-burst
)

// runPipe runs prod producers and cons consumers until b.N items have gone
// through: each producer puts its share of the items in one call of produce,
// each consumer gets its share in one call of consume, so the loops are
// written out per contender and no item pays for an indirect call.
func runPipe(b *testing.B, prod, cons int, produce func(ctx context.Context, n int), consume func(ctx context.Context, n int) int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
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
	reportCPU(b, processCPU()-cpu, b.N)
	for _, s := range sums {
		sinkInt += s
	}
}

// runBursts is runPipe with goroutines started per op: each op starts prod
// producers and cons consumers that move burstItems items, and waits for
// them. Times are per item (ns/op is divided by burstItems).
func runBursts(b *testing.B, prod, cons int, produce func(ctx context.Context, n int), consume func(ctx context.Context, n int) int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sums := make([]int, cons)
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		var wg sync.WaitGroup
		for p := range prod {
			wg.Go(func() { produce(ctx, share(burstItems, prod, p)) })
		}
		for c := range cons {
			wg.Go(func() { sums[c] += consume(ctx, share(burstItems, cons, c)) })
		}
		wg.Wait()
	}
	reportCPU(b, processCPU()-cpu, b.N*burstItems)
	for _, s := range sums {
		sinkInt += s
	}
	perItem(b, burstItems)
}

// reportCPU reports cpu-ns/item: cpu, the process's CPU time over the
// timed part, per item. Nothing where the platform does not tell.
func reportCPU(b *testing.B, cpu time.Duration, items int) {
	if cpu > 0 && items > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(items), "cpu-ns/item")
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
