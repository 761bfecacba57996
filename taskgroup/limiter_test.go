package taskgroup_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/taskgroup"
)

func TestWithLimiter(t *testing.T) {
	t.Run("nil panics naming the option", func(t *testing.T) {
		defer func() {
			if r, _ := recover().(string); r != "taskgroup: WithLimiter(nil): limiter must not be nil" {
				t.Errorf("panic = %q", r)
			}
		}()
		taskgroup.WithLimiter(nil)
	})

	t.Run("no more tasks run at once than the limiter admits", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bh := limit.NewBulkhead(3)
			g := taskgroup.New(t.Context(), taskgroup.WithLimiter(bh))
			var active, peak atomic.Int64
			work := func(context.Context) error {
				a := active.Add(1)
				for p := peak.Load(); a > p && !peak.CompareAndSwap(p, a); p = peak.Load() {
					// lost a race with another task: read the peak again
				}
				time.Sleep(10 * time.Millisecond)
				active.Add(-1)
				return nil
			}
			for i := range 30 {
				if i%3 == 0 {
					g.TryGo(work)
				} else {
					g.Go(work)
				}
			}
			tasks := make([]*taskgroup.Task[int], 10)
			for i := range tasks {
				tasks[i] = taskgroup.Spawn(g, func(ctx context.Context) (int, error) { return i, work(ctx) })
			}
			if err := g.Wait(); err != nil {
				t.Fatalf("Wait() = %v; want nil", err)
			}
			if p := peak.Load(); p != 3 {
				t.Errorf("peak running = %d; want 3", p)
			}
			for i, task := range tasks {
				if v, err := task.Wait(t.Context()); v != i || err != nil {
					t.Errorf("task %d: Wait() = %d, %v", i, v, err)
				}
			}
			if s := bh.Stats(); s.InFlight != 0 || s.Queued != 0 {
				t.Errorf("bulkhead Stats() = %+v; want every permit released", s)
			}
		})
	})

	t.Run("a refusal is the task's failure and cancels the group", func(t *testing.T) {
		bh := limit.NewBulkhead(1, limit.WithMaxWaiting(0))
		hold, _ := bh.Acquire(t.Context())
		defer bh.Release(hold, limit.Success)
		g := taskgroup.New(t.Context(), taskgroup.WithLimiter(bh))
		ran := false
		g.Go(func(context.Context) error { ran = true; return nil })
		err := g.Wait()
		if !errors.Is(err, limit.ErrRejected) || ran {
			t.Errorf("Wait() = %v, ran %v; want ErrRejected, not run", err, ran)
		}
	})

	t.Run("a task cancelled while it waits for a permit is cancelled, not failed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			bh := limit.NewBulkhead(1)
			hold, _ := bh.Acquire(t.Context())
			g := taskgroup.New(t.Context(), taskgroup.WithLimiter(bh))
			task := taskgroup.Spawn(g, func(context.Context) (int, error) { return 1, nil })
			synctest.Wait()
			if s := bh.Stats(); s.Queued != 1 {
				t.Fatalf("Stats().Queued = %d; want the task waiting", s.Queued)
			}
			task.Cancel()
			if err := g.Wait(); err != nil {
				t.Errorf("Wait() = %v; want nil", err)
			}
			if task.State() != taskgroup.Cancelled {
				t.Errorf("State() = %v; want cancelled", task.State())
			}
			bh.Release(hold, limit.Success)
			if s := bh.Stats(); s.InFlight != 0 || s.Queued != 0 {
				t.Errorf("bulkhead Stats() = %+v; want nothing held", s)
			}
		})
	})

	t.Run("a panic releases its permit and stays a *PanicError", func(t *testing.T) {
		bh := limit.NewBulkhead(1)
		g := taskgroup.New(t.Context(), taskgroup.WithLimiter(bh))
		g.Go(func(context.Context) error { panic("boom") })
		var pe *taskgroup.PanicError
		if err := g.Wait(); !errors.As(err, &pe) || pe.Value != "boom" {
			t.Errorf("Wait() = %v; want *PanicError boom", err)
		}
		if s := bh.Stats(); s.InFlight != 0 {
			t.Errorf("bulkhead Stats() = %+v; want the permit released", s)
		}
	})
}
