package inspect_test

import (
	"context"
	"testing"

	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/inspect"
	"github.com/async-patterns/async/taskgroup"
)

// BenchmarkSnapshot takes a snapshot of a process with 10 000 live tasks
// (queued on an executor whose one worker is busy): the target is < 50 ms.
func BenchmarkSnapshot(b *testing.B) {
	const live = 10_000
	inspect.Track(true)
	defer inspect.Track(false)
	ex := executor.New(executor.WithWorkers(1), executor.WithQueueSize(live+1))
	release := make(chan struct{})
	fs := make([]*executor.Future[int], 0, live)
	for range live {
		fs = append(fs, executor.Submit(context.Background(), ex, func(ctx context.Context) (int, error) { <-release; return 0, nil }))
	}
	b.ReportAllocs()
	for b.Loop() {
		t := inspect.Snapshot()
		if len(t.Roots) == 0 || len(t.Roots[len(t.Roots)-1].Children) < live {
			b.Fatalf("snapshot has %d roots; want the executor with its %d tasks", len(t.Roots), live)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/snapshot")
	close(release)
	for _, f := range fs {
		f.Wait(context.Background())
	}
	ex.Shutdown(context.Background())
}

// BenchmarkTaskCost is the cost per task of tracking and of debug mode,
// beside neither, on the taskgroup, executor and gather shapes of their
// packages' benchmarks (1000 tiny tasks per op).
func BenchmarkTaskCost(b *testing.B) {
	const n = 1000
	modes := []struct {
		name         string
		track, debug bool
	}{{"off", false, false}, {"track", true, false}, {"debug", false, true}}
	for _, m := range modes {
		set := func() func() {
			inspect.Track(m.track)
			inspect.SetDebug(m.debug)
			return func() { inspect.Track(false); inspect.SetDebug(false) }
		}
		perTask := func(b *testing.B) {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/task")
		}
		b.Run("taskgroup/"+m.name, func(b *testing.B) {
			defer set()()
			b.ReportAllocs()
			for b.Loop() {
				g := taskgroup.New(context.Background())
				for range n {
					g.Go(func(ctx context.Context) error { return nil })
				}
				g.Wait()
			}
			perTask(b)
		})
		b.Run("executor-submit/"+m.name, func(b *testing.B) {
			defer set()()
			ex := executor.New(executor.WithWorkers(2))
			defer ex.Shutdown(context.Background())
			fs := make([]*executor.Future[int], n)
			b.ReportAllocs()
			for b.Loop() {
				for i := range fs {
					fs[i] = executor.Submit(context.Background(), ex, func(ctx context.Context) (int, error) { return 1, nil })
				}
				for _, f := range fs {
					f.Wait(context.Background())
				}
			}
			perTask(b)
		})
	}
}
