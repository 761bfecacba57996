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

// pipe is one way to move ints: put and get are called from several
// goroutines at once.
type pipe struct {
	put func(ctx context.Context, v int)
	get func(ctx context.Context) int
}

func chanPipe(capacity int) pipe {
	ch := make(chan int, capacity)
	return pipe{
		put: func(_ context.Context, v int) { ch <- v },
		get: func(context.Context) int { return <-ch },
	}
}

func chanSelectPipe(capacity int) pipe {
	ch := make(chan int, capacity)
	return pipe{
		put: func(ctx context.Context, v int) {
			select {
			case ch <- v:
			case <-ctx.Done():
			}
		},
		get: func(ctx context.Context) int {
			select {
			case v := <-ch:
				return v
			case <-ctx.Done():
				return 0
			}
		},
	}
}

func queuePipe(q *queue.Queue[int]) pipe {
	return pipe{
		put: func(ctx context.Context, v int) {
			if err := q.Put(ctx, v); err != nil {
				panic(err)
			}
		},
		get: func(ctx context.Context) int {
			v, err := q.Get(ctx)
			if err != nil {
				panic(err)
			}
			return v
		},
	}
}

func intLess(a, b int) bool { return a < b }

var pipes = []struct {
	name string
	make func(capacity int) pipe
}{
	{"chan", chanPipe},
	{"chanSelectCtx", chanSelectPipe},
	{"FIFO", func(c int) pipe { return queuePipe(queue.New[int](c)) }},
	{"LIFO", func(c int) pipe { return queuePipe(queue.NewLIFO[int](c)) }},
	{"Priority", func(c int) pipe { return queuePipe(queue.NewPriority(c, intLess)) }},
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
			for _, p := range pipes {
				b.Run(fmt.Sprintf("cap=%d/%s/%s", capacity, shape.name, p.name), func(b *testing.B) {
					benchPipe(b, p.make(capacity), shape.producers, shape.consumers)
				})
			}
		}
	}
}

// benchPipe moves b.N items from producers to consumers through p, with a
// cancellable ctx as a real caller would have.
func benchPipe(b *testing.B, p pipe, producers, consumers int) {
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
	start, startCPU := time.Now(), cpuTime()
	b.ResetTimer()
	for i := range producers {
		wg.Go(func() {
			for k := range share(b.N, i, producers) {
				p.put(ctx, k)
			}
		})
	}
	for i := range consumers {
		wg.Go(func() {
			for range share(b.N, i, consumers) {
				p.get(ctx)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N), "ns/item")
	if cpu := cpuTime() - startCPU; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/item")
	}
}
