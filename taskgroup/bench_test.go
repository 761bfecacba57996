package taskgroup_test

import (
	"context"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/async-patterns/async/taskgroup"
)

// The benchmarks start 1000 tiny tasks and wait for them, and report the
// cost per task, beside plain go+sync.WaitGroup (the floor) and errgroup.

const tasksPerOp = 1000

var sink int64

//go:noinline
func tiny(i int) error {
	if i < 0 {
		sink++
	}
	return nil
}

func perTask(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tasksPerOp), "ns/task")
}

func BenchmarkGoWait(b *testing.B) {
	b.Run("floor=go+WaitGroup", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var wg sync.WaitGroup
			for i := range tasksPerOp {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_ = tiny(i)
				}()
			}
			wg.Wait()
		}
		perTask(b)
	})
	b.Run("errgroup", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			g, _ := errgroup.WithContext(context.Background())
			for i := range tasksPerOp {
				g.Go(func() error { return tiny(i) })
			}
			_ = g.Wait()
		}
		perTask(b)
	})
	b.Run("taskgroup", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			g := taskgroup.New(context.Background())
			for i := range tasksPerOp {
				g.Go(func(ctx context.Context) error { return tiny(i) })
			}
			_ = g.Wait()
		}
		perTask(b)
	})
	b.Run("taskgroup-limit-8", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			g := taskgroup.New(context.Background(), taskgroup.WithLimit(8))
			for i := range tasksPerOp {
				g.Go(func(ctx context.Context) error { return tiny(i) })
			}
			_ = g.Wait()
		}
		perTask(b)
	})
	b.Run("taskgroup-Spawn", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			g := taskgroup.New(context.Background())
			for i := range tasksPerOp {
				taskgroup.Spawn(g, func(ctx context.Context) (int, error) { return i, tiny(i) })
			}
			_ = g.Wait()
		}
		perTask(b)
	})
}
