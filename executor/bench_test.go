package executor_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/taskgroup"
)

// The peers here are in-module only: a hand-written pool of GOMAXPROCS
// goroutines reading a buffered channel (the floor), a goroutine per task
// with a sync.WaitGroup, and errgroup with SetLimit. Pools from other
// libraries are measured in the bench module.

// spin does n rounds of xorshift: CPU work with no memory traffic.
func spin(n int) uint64 {
	x := uint64(88172645463325252)
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

var sink struct {
	sync.Mutex
	v uint64
}

func keep(v uint64) {
	if v == 0 { // never true; keeps spin from being optimised away
		sink.Lock()
		sink.v += v
		sink.Unlock()
	}
}

// roundsFor returns the spin rounds that take about d on this machine.
func roundsFor(d time.Duration) int {
	const probe = 1 << 20
	best := time.Duration(1 << 62)
	for range 5 {
		start := time.Now()
		keep(spin(probe))
		best = min(best, time.Since(start))
	}
	return max(1, int(float64(probe)*float64(d)/float64(best)))
}

func perTask(b *testing.B, tasks int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(tasks), "ns/task")
}

// chanPool is the floor: GOMAXPROCS goroutines reading a buffered channel.
type chanPool struct {
	ch chan func()
	wg sync.WaitGroup
}

func newChanPool(workers, size int) *chanPool {
	p := &chanPool{ch: make(chan func(), size)}
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for f := range p.ch {
				f()
			}
		}()
	}
	return p
}

func (p *chanPool) close() { close(p.ch); p.wg.Wait() }

const tinyRounds = 16 // a few nanoseconds of work

// BenchmarkFireAndForget submits b.N tiny tasks and waits for them all.
func BenchmarkFireAndForget(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	const queue = 1024 // the executor's default for up to 256 workers

	b.Run("ChannelPool", func(b *testing.B) {
		p := newChanPool(workers, queue)
		defer p.close()
		var wg sync.WaitGroup
		task := func() { keep(spin(tinyRounds)); wg.Done() }
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			wg.Add(1)
			p.ch <- task
		}
		wg.Wait()
		perTask(b, b.N)
	})

	b.Run("ExecutorGo", func(b *testing.B) {
		ex := executor.New(executor.WithWorkers(workers), executor.WithQueueSize(queue))
		defer ex.Shutdown(context.Background())
		var wg sync.WaitGroup
		task := func(context.Context) error { keep(spin(tinyRounds)); wg.Done(); return nil }
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			wg.Add(1)
			ex.Go(ctx, task)
		}
		wg.Wait()
		perTask(b, b.N)
	})

	b.Run("GoWaitGroup", func(b *testing.B) {
		var wg sync.WaitGroup
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			wg.Add(1)
			go func() { keep(spin(tinyRounds)); wg.Done() }()
		}
		wg.Wait()
		perTask(b, b.N)
	})

	b.Run("ErrgroupSetLimit", func(b *testing.B) {
		var g errgroup.Group
		g.SetLimit(workers)
		task := func() error { keep(spin(tinyRounds)); return nil }
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			g.Go(task)
		}
		g.Wait()
		perTask(b, b.N)
	})
}

// BenchmarkFuture submits tiny tasks that return a value, in batches of
// 256, and waits for each result.
func BenchmarkFuture(b *testing.B) {
	const batch = 256
	workers := runtime.GOMAXPROCS(0)
	fn := func(context.Context) (uint64, error) { return spin(tinyRounds), nil }

	b.Run("ExecutorSubmitWait", func(b *testing.B) {
		ex := executor.New(executor.WithWorkers(workers))
		defer ex.Shutdown(context.Background())
		ctx := context.Background()
		fs := make([]*executor.Future[uint64], 0, batch)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			fs = append(fs, executor.Submit(ctx, ex, fn))
			if len(fs) == batch || i == b.N-1 {
				for _, f := range fs {
					v, _ := f.Wait(ctx)
					keep(v)
				}
				fs = fs[:0]
			}
		}
		perTask(b, b.N)
	})

	b.Run("TaskgroupStartWait", func(b *testing.B) {
		ctx := context.Background()
		ts := make([]*taskgroup.Task[uint64], 0, batch)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			ts = append(ts, taskgroup.Start(ctx, fn))
			if len(ts) == batch || i == b.N-1 {
				for _, t := range ts {
					v, _ := t.Wait(ctx)
					keep(v)
				}
				ts = ts[:0]
			}
		}
		perTask(b, b.N)
	})

	b.Run("ChannelPoolResultChan", func(b *testing.B) {
		// A hand-rolled future: a channel per task on the floor pool.
		p := newChanPool(workers, 1024)
		defer p.close()
		chs := make([]chan uint64, 0, batch)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			ch := make(chan uint64, 1)
			p.ch <- func() { v, _ := fn(context.Background()); ch <- v }
			chs = append(chs, ch)
			if len(chs) == batch || i == b.N-1 {
				for _, ch := range chs {
					keep(<-ch)
				}
				chs = chs[:0]
			}
		}
		perTask(b, b.N)
	})
}

// BenchmarkCPUBound runs 200 tasks of about 1ms each; compare each ns/op
// with Sequential's for the speed-up.
func BenchmarkCPUBound(b *testing.B) {
	const tasks = 200
	rounds := roundsFor(time.Millisecond)
	workers := runtime.GOMAXPROCS(0)
	work := func() { keep(spin(rounds)) }

	b.Run("Sequential", func(b *testing.B) {
		for range b.N {
			for range tasks {
				work()
			}
		}
		perTask(b, b.N*tasks)
	})

	b.Run("ExecutorGo", func(b *testing.B) {
		ex := executor.New(executor.WithWorkers(workers))
		defer ex.Shutdown(context.Background())
		var wg sync.WaitGroup
		task := func(context.Context) error { work(); wg.Done(); return nil }
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			wg.Add(tasks)
			for range tasks {
				ex.Go(context.Background(), task)
			}
			wg.Wait()
		}
		perTask(b, b.N*tasks)
	})

	b.Run("ExecutorSubmit", func(b *testing.B) {
		ex := executor.New(executor.WithWorkers(workers))
		defer ex.Shutdown(context.Background())
		fn := func(context.Context) (struct{}, error) { work(); return struct{}{}, nil }
		fs := make([]*executor.Future[struct{}], tasks)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			for i := range fs {
				fs[i] = executor.Submit(context.Background(), ex, fn)
			}
			for _, f := range fs {
				f.Wait(context.Background())
			}
		}
		perTask(b, b.N*tasks)
	})

	b.Run("ChannelPool", func(b *testing.B) {
		p := newChanPool(workers, 1024)
		defer p.close()
		var wg sync.WaitGroup
		task := func() { work(); wg.Done() }
		b.ResetTimer()
		for range b.N {
			wg.Add(tasks)
			for range tasks {
				p.ch <- task
			}
			wg.Wait()
		}
		perTask(b, b.N*tasks)
	})

	b.Run("ErrgroupSetLimit", func(b *testing.B) {
		task := func() error { work(); return nil }
		for range b.N {
			var g errgroup.Group
			g.SetLimit(workers)
			for range tasks {
				g.Go(task)
			}
			g.Wait()
		}
		perTask(b, b.N*tasks)
	})
}

// BenchmarkMap maps 100k items of about 1µs each; compare with
// Sequential's ns/op.
func BenchmarkMap(b *testing.B) {
	const n = 100_000
	rounds := roundsFor(time.Microsecond)
	items := make([]int, n)
	for i := range items {
		items[i] = i
	}
	fn := func(_ context.Context, i int) (uint64, error) { return spin(rounds) + uint64(i), nil }

	b.Run("Sequential", func(b *testing.B) {
		out := make([]uint64, n)
		for range b.N {
			for i, it := range items {
				out[i], _ = fn(context.Background(), it)
			}
		}
		perTask(b, b.N*n)
	})

	b.Run("ExecutorMap", func(b *testing.B) {
		ex := executor.New()
		defer ex.Shutdown(context.Background())
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			out, err := executor.Map(context.Background(), ex, items, fn)
			if err != nil || len(out) != n {
				b.Fatal(err)
			}
		}
		perTask(b, b.N*n)
	})
}
