package queue_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/async-patterns/async/queue"
)

// The benchmarks below measure one item's trip through a queue: a send and
// a receive for channels, a Put and a Get for queues, with the same
// capacity on both sides. Each reports ns/item (wall time) and, where the
// platform tells, cpu-ns/item (the CPU time the process used, steadier
// when the machine is shared). Compare within one run:
//
//	go test -run '^$' -bench . -benchmem -count 5 ./queue/
//
// "chan" is the floor (a plain buffered channel), "chanSelectCtx" a channel
// with a select on ctx.Done() on both sides, the usual way to make channel
// operations cancellable. Capacity 128 is the common case, where callers
// rarely wait; capacity 4 makes most calls wait, to price the slow path.
//
// Each contender writes its own producer and consumer loops, with the
// send, receive, Put or Get inline in the loop, so that no contender pays
// for an indirect call per item (which would raise the channel's floor
// more, in proportion, than a queue's cost). This is how the bench
// module's BenchmarkQueue measures too.

// loops is one way to move ints: produce puts n items, consume gets n
// items and returns their sum. Each is called from several goroutines at
// once.
type loops struct {
	produce func(ctx context.Context, n int)
	consume func(ctx context.Context, n int) int
}

func chanLoops(capacity int) loops {
	ch := make(chan int, capacity)
	return loops{
		produce: func(_ context.Context, n int) {
			for i := range n {
				ch <- i
			}
		},
		consume: func(_ context.Context, n int) (s int) {
			for range n {
				s += <-ch
			}
			return s
		},
	}
}

func chanSelectLoops(capacity int) loops {
	ch := make(chan int, capacity)
	return loops{
		produce: func(ctx context.Context, n int) {
			for i := range n {
				select {
				case ch <- i:
				case <-ctx.Done():
					return
				}
			}
		},
		consume: func(ctx context.Context, n int) (s int) {
			for range n {
				select {
				case v := <-ch:
					s += v
				case <-ctx.Done():
					return s
				}
			}
			return s
		},
	}
}

func queueLoops(q *queue.Queue[int]) loops {
	return loops{
		produce: func(ctx context.Context, n int) {
			for i := range n {
				if err := q.Put(ctx, i); err != nil {
					panic(err)
				}
			}
		},
		consume: func(ctx context.Context, n int) (s int) {
			for range n {
				v, err := q.Get(ctx)
				if err != nil {
					panic(err)
				}
				s += v
			}
			return s
		},
	}
}

func intLess(a, b int) bool { return a < b }

var contenders = []struct {
	name string
	make func(capacity int) loops
}{
	{"chan", chanLoops},
	{"chanSelectCtx", chanSelectLoops},
	{"FIFO", func(c int) loops { return queueLoops(queue.New[int](c)) }},
	{"LIFO", func(c int) loops { return queueLoops(queue.NewLIFO[int](c)) }},
	{"Priority", func(c int) loops { return queueLoops(queue.NewPriority(c, intLess)) }},
}

func BenchmarkPutGet(b *testing.B) {
	for _, capacity := range []int{128, 4} {
		for _, shape := range []struct {
			name                 string
			producers, consumers int
		}{
			{"SPSC", 1, 1},
			{"MPMC4x4", 4, 4},
		} {
			for _, c := range contenders {
				b.Run(fmt.Sprintf("cap=%d/%s/%s", capacity, shape.name, c.name), func(b *testing.B) {
					benchLoops(b, c.make(capacity), shape.producers, shape.consumers)
				})
			}
		}
	}
}

var sink int

// benchLoops moves b.N items from producers to consumers through l, with a
// cancellable ctx as a real caller would have.
func benchLoops(b *testing.B, l loops, producers, consumers int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	var wg sync.WaitGroup
	share := func(n, i, parts int) int { // items for part i of parts
		s := n / parts
		if i < n%parts {
			s++
		}
		return s
	}
	sums := make([]int, consumers)
	start, startCPU := time.Now(), cpuTime()
	b.ResetTimer()
	for i := range producers {
		wg.Go(func() { l.produce(ctx, share(b.N, i, producers)) })
	}
	for i := range consumers {
		wg.Go(func() { sums[i] = l.consume(ctx, share(b.N, i, consumers)) })
	}
	wg.Wait()
	b.StopTimer()
	for _, s := range sums {
		sink += s
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N), "ns/item")
	if cpu := cpuTime() - startCPU; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/item")
	}
}
