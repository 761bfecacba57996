package bench

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alitto/pond/v2"
	"github.com/panjf2000/ants/v2"
	"github.com/sourcegraph/conc/pool"
	"golang.org/x/sync/errgroup"

	"github.com/async-patterns/async/executor"
)

const (
	// execTasks is the number of tiny tasks one op submits and waits for.
	execTasks = 1000
	// execQueue is the queue size of every contender that has one.
	execQueue = 1024
	// cpuTasks is the number of CPU-bound tasks one op runs, each spinning
	// for spinIters iterations (about 1 ms on the machine of BENCHMARKS.md,
	// where one iteration takes about 1.6 ns).
	cpuTasks  = 200
	spinIters = 640_000
)

// BenchmarkExecutor compares worker pools of GOMAXPROCS workers, in three
// scenarios:
//
//   - fire-and-forget: submit execTasks tiny tasks, then wait for all of them.
//     Contenders without a wait of their own (chanPool, ants, pond, ours)
//     count down a sync.WaitGroup in the task. ns/item is per task.
//   - future: submit execTasks tiny tasks that each return an int, keeping a
//     handle per task, then wait for each handle in order. pond has futures
//     (ResultPool.SubmitErr), ours has executor.Submit; ants has none, so
//     each task sends its result on a channel of its own (a hand-made
//     future); conc's result pool and errgroup collect values for the whole
//     batch (conc unordered), and chanPool and goWaitGroup write each value
//     to its slot: they are the floors, not futures.
//   - cpu-bound: cpuTasks tasks of about 1 ms each; "sequential" runs them on
//     the benchmark goroutine. Every other row reports its speed-up over a
//     sequential run made before each of its ops, with the timer stopped
//     ("speedup"), so that both halves of the ratio see the same machine
//     load; ns/op is the parallel batch alone. oursMap is executor.Map over
//     the same work, an extra row.
//
// chanPool, the floor, is GOMAXPROCS goroutines ranging over a buffered
// channel of func(). goWaitGroup is a go statement per task (no limit).
// errgroup uses SetLimit(GOMAXPROCS) and conc WithMaxGoroutines(GOMAXPROCS);
// both are built per batch, as they are meant to be. ants, pond and ours are
// long-lived pools built once, with a queue of execQueue where the pool has
// one (ants has none). All task functions are built before the timer starts.
func BenchmarkExecutor(b *testing.B) {
	ctx := context.Background()

	b.Run("fire-and-forget", func(b *testing.B) {
		var wg sync.WaitGroup
		plain := make([]func(), execTasks) // counts down wg
		withCtx := make([]func(context.Context) error, execTasks)
		for i := range plain {
			plain[i] = func() { tiny(i); wg.Done() }
			withCtx[i] = func(context.Context) error { tiny(i); wg.Done(); return nil }
		}
		b.Run("chanPool", func(b *testing.B) {
			p := newChanPool(procs, execQueue)
			defer p.close()
			b.ReportAllocs()
			for b.Loop() {
				wg.Add(execTasks)
				for _, fn := range plain {
					p.jobs <- fn
				}
				wg.Wait()
			}
			perItem(b, execTasks)
		})
		b.Run("goWaitGroup", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				wg.Add(execTasks)
				for _, fn := range plain {
					go fn()
				}
				wg.Wait()
			}
			perItem(b, execTasks)
		})
		b.Run("errgroup", func(b *testing.B) {
			fns := errTasks(execTasks)
			b.ReportAllocs()
			for b.Loop() {
				var g errgroup.Group
				g.SetLimit(procs)
				for _, fn := range fns {
					g.Go(fn)
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			perItem(b, execTasks)
		})
		b.Run("concPool", func(b *testing.B) {
			fns := plainTasks(execTasks)
			b.ReportAllocs()
			for b.Loop() {
				p := pool.New().WithMaxGoroutines(procs)
				for _, fn := range fns {
					p.Go(fn)
				}
				p.Wait()
			}
			perItem(b, execTasks)
		})
		b.Run("ants", func(b *testing.B) {
			p := newAnts(b)
			defer p.Release()
			b.ReportAllocs()
			for b.Loop() {
				wg.Add(execTasks)
				for _, fn := range plain {
					if err := p.Submit(fn); err != nil {
						b.Fatal(err)
					}
				}
				wg.Wait()
			}
			perItem(b, execTasks)
		})
		b.Run("pond", func(b *testing.B) {
			p := pond.NewPool(procs, pond.WithQueueSize(execQueue))
			defer p.StopAndWait()
			b.ReportAllocs()
			for b.Loop() {
				wg.Add(execTasks)
				for _, fn := range plain {
					if err := p.Go(fn); err != nil {
						b.Fatal(err)
					}
				}
				wg.Wait()
			}
			perItem(b, execTasks)
		})
		b.Run("ours", func(b *testing.B) {
			ex := newExecutor(b)
			b.ReportAllocs()
			for b.Loop() {
				wg.Add(execTasks)
				for _, fn := range withCtx {
					if err := ex.Go(ctx, fn); err != nil {
						b.Fatal(err)
					}
				}
				wg.Wait()
			}
			perItem(b, execTasks)
		})
	})

	b.Run("future", func(b *testing.B) {
		b.Run("chanPool", func(b *testing.B) {
			var wg sync.WaitGroup
			results := make([]int, execTasks)
			fns := make([]func(), execTasks)
			for i := range fns {
				fns[i] = func() { results[i] = tiny(i); wg.Done() }
			}
			p := newChanPool(procs, execQueue)
			defer p.close()
			b.ReportAllocs()
			for b.Loop() {
				wg.Add(execTasks)
				for _, fn := range fns {
					p.jobs <- fn
				}
				wg.Wait()
				sinkInt += sum(results)
			}
			perItem(b, execTasks)
		})
		b.Run("goWaitGroup", func(b *testing.B) {
			fns := valueTasks(execTasks)
			results := make([]int, execTasks)
			b.ReportAllocs()
			for b.Loop() {
				var wg sync.WaitGroup
				for i, fn := range fns {
					wg.Add(1)
					go func() {
						defer wg.Done()
						results[i], _ = fn()
					}()
				}
				wg.Wait()
				sinkInt += sum(results)
			}
			perItem(b, execTasks)
		})
		b.Run("errgroup", func(b *testing.B) {
			fns := valueTasks(execTasks)
			results := make([]int, execTasks)
			b.ReportAllocs()
			for b.Loop() {
				var g errgroup.Group
				g.SetLimit(procs)
				for i, fn := range fns {
					g.Go(func() error {
						v, err := fn()
						results[i] = v
						return err
					})
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
				sinkInt += sum(results)
			}
			perItem(b, execTasks)
		})
		b.Run("concPool", func(b *testing.B) {
			fns := valueTasks(execTasks)
			b.ReportAllocs()
			for b.Loop() {
				p := pool.NewWithResults[int]().WithErrors().WithMaxGoroutines(procs)
				for _, fn := range fns {
					p.Go(fn)
				}
				results, err := p.Wait()
				if err != nil {
					b.Fatal(err)
				}
				sinkInt += sum(results)
			}
			perItem(b, execTasks)
		})
		b.Run("ants", func(b *testing.B) {
			type result struct {
				v   int
				err error
			}
			fns := valueTasks(execTasks)
			chans := make([]chan result, execTasks)
			p := newAnts(b)
			defer p.Release()
			b.ReportAllocs()
			for b.Loop() {
				for i, fn := range fns {
					ch := make(chan result, 1)
					chans[i] = ch
					if err := p.Submit(func() {
						v, err := fn()
						ch <- result{v, err}
					}); err != nil {
						b.Fatal(err)
					}
				}
				for _, ch := range chans {
					r := <-ch
					if r.err != nil {
						b.Fatal(r.err)
					}
					sinkInt += r.v
				}
			}
			perItem(b, execTasks)
		})
		b.Run("pond", func(b *testing.B) {
			fns := valueTasks(execTasks)
			futs := make([]pond.ResultTask[int], execTasks)
			p := pond.NewResultPool[int](procs, pond.WithQueueSize(execQueue))
			defer p.StopAndWait()
			b.ReportAllocs()
			for b.Loop() {
				for i, fn := range fns {
					futs[i] = p.SubmitErr(fn)
				}
				for _, f := range futs {
					v, err := f.Wait()
					if err != nil {
						b.Fatal(err)
					}
					sinkInt += v
				}
			}
			perItem(b, execTasks)
		})
		b.Run("ours", func(b *testing.B) {
			fns := ctxValueTasks(execTasks)
			futs := make([]*executor.Future[int], execTasks)
			ex := newExecutor(b)
			b.ReportAllocs()
			for b.Loop() {
				for i, fn := range fns {
					futs[i] = executor.Submit(ctx, ex, fn)
				}
				for _, f := range futs {
					v, err := f.Wait(ctx)
					if err != nil {
						b.Fatal(err)
					}
					sinkInt += v
				}
			}
			perItem(b, execTasks)
		})
	})

	b.Run("cpu-bound", func(b *testing.B) {
		var (
			wg  sync.WaitGroup
			out [cpuTasks]uint64
		)
		plain := make([]func(), cpuTasks) // counts down wg
		noWait := make([]func(), cpuTasks)
		withErr := make([]func() error, cpuTasks)
		withCtx := make([]func(context.Context) error, cpuTasks)
		for i := range plain {
			noWait[i] = func() { out[i] = spin(spinIters) }
			plain[i] = func() { out[i] = spin(spinIters); wg.Done() }
			withErr[i] = func() error { out[i] = spin(spinIters); return nil }
			withCtx[i] = func(context.Context) error { out[i] = spin(spinIters); wg.Done(); return nil }
		}
		sequential := func() {
			for _, fn := range noWait {
				fn()
			}
		}
		b.Run("sequential", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sequential()
			}
		})
		b.Run("chanPool", func(b *testing.B) {
			p := newChanPool(procs, execQueue)
			defer p.close()
			speedup(b, sequential, func() {
				wg.Add(cpuTasks)
				for _, fn := range plain {
					p.jobs <- fn
				}
				wg.Wait()
			})
		})
		b.Run("goWaitGroup", func(b *testing.B) {
			speedup(b, sequential, func() {
				wg.Add(cpuTasks)
				for _, fn := range plain {
					go fn()
				}
				wg.Wait()
			})
		})
		b.Run("errgroup", func(b *testing.B) {
			speedup(b, sequential, func() {
				var g errgroup.Group
				g.SetLimit(procs)
				for _, fn := range withErr {
					g.Go(fn)
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run("concPool", func(b *testing.B) {
			speedup(b, sequential, func() {
				p := pool.New().WithMaxGoroutines(procs)
				for _, fn := range noWait {
					p.Go(fn)
				}
				p.Wait()
			})
		})
		b.Run("ants", func(b *testing.B) {
			p := newAnts(b)
			defer p.Release()
			speedup(b, sequential, func() {
				wg.Add(cpuTasks)
				for _, fn := range plain {
					if err := p.Submit(fn); err != nil {
						b.Fatal(err)
					}
				}
				wg.Wait()
			})
		})
		b.Run("pond", func(b *testing.B) {
			p := pond.NewPool(procs, pond.WithQueueSize(execQueue))
			defer p.StopAndWait()
			speedup(b, sequential, func() {
				wg.Add(cpuTasks)
				for _, fn := range plain {
					if err := p.Go(fn); err != nil {
						b.Fatal(err)
					}
				}
				wg.Wait()
			})
		})
		b.Run("ours", func(b *testing.B) {
			ex := newExecutor(b)
			speedup(b, sequential, func() {
				wg.Add(cpuTasks)
				for _, fn := range withCtx {
					if err := ex.Go(ctx, fn); err != nil {
						b.Fatal(err)
					}
				}
				wg.Wait()
			})
		})
		b.Run("oursMap", func(b *testing.B) {
			ex := newExecutor(b)
			items := make([]int, cpuTasks)
			for i := range items {
				items[i] = spinIters
			}
			speedup(b, sequential, func() {
				res, err := executor.Map(ctx, ex, items, func(_ context.Context, n int) (uint64, error) {
					return spin(n), nil
				})
				if err != nil {
					b.Fatal(err)
				}
				out[0] = res[0]
			})
		})
	})
}

// speedup times batch as the op and, before each op with the timer stopped,
// runs sequential; it reports the speed-up of batch over sequential. The
// two alternate so that both see the same load on a shared machine.
func speedup(b *testing.B, sequential, batch func()) {
	var seq, par time.Duration
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		t := time.Now()
		sequential()
		seq += time.Since(t)
		b.StartTimer()
		t = time.Now()
		batch()
		par += time.Since(t)
	}
	if par > 0 {
		b.ReportMetric(float64(seq)/float64(par), "speedup")
	}
}

// chanPool is the floor: n goroutines ranging over a buffered channel of
// func().
type chanPool struct {
	jobs chan func()
	wg   sync.WaitGroup
}

func newChanPool(n, queue int) *chanPool {
	p := &chanPool{jobs: make(chan func(), queue)}
	for range n {
		p.wg.Go(func() {
			for fn := range p.jobs {
				fn()
			}
		})
	}
	return p
}

func (p *chanPool) close() {
	close(p.jobs)
	p.wg.Wait()
}

func newAnts(b *testing.B) *ants.Pool {
	p, err := ants.NewPool(procs)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// newExecutor starts an executor with GOMAXPROCS workers and a queue of
// execQueue, shut down when b ends.
func newExecutor(b *testing.B) *executor.Executor {
	ex := executor.New(executor.WithWorkers(procs), executor.WithQueueSize(execQueue))
	b.Cleanup(func() {
		if err := ex.Shutdown(context.Background()); err != nil {
			b.Error(err)
		}
	})
	return ex
}

// spin is the CPU-bound work: n rounds of xorshift.
//
//go:noinline
func spin(n int) uint64 {
	x := uint64(n) | 1
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}
