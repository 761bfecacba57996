package executor_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/limit"
)

// WithLimiter's doc: a task whose ctx ends while it waits for a permit is
// Cancelled with context.Cause(ctx), its function does not run, and the
// slot it waited for is not taken.
func TestWithLimiterWaitCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bh := limit.NewBulkhead(1)
		p, err := bh.Acquire(t.Context()) // the only slot: the task must wait
		if err != nil {
			t.Fatal(err)
		}
		ex := executor.New(executor.WithWorkers(1), executor.WithLimiter(bh))
		cause := errors.New("caller gave up")
		ctx, cancel := context.WithCancelCause(t.Context())
		ran := false
		f := executor.Submit(ctx, ex, func(context.Context) (int, error) { ran = true; return 1, nil })
		synctest.Wait() // the worker waits in the bulkhead
		if s := bh.Stats(); s.Queued != 1 {
			t.Fatalf("bulkhead Stats() = %+v; want the task waiting for the slot", s)
		}
		cancel(cause)
		if _, err := f.Wait(t.Context()); !errors.Is(err, cause) {
			t.Errorf("Wait() = %v; want the ctx's cause", err)
		}
		if st := f.State(); st != executor.Cancelled {
			t.Errorf("State() = %v; want cancelled", st)
		}
		if ran {
			t.Error("the function ran though its ctx ended while it waited for a permit")
		}
		bh.Release(p, limit.Success)
		if err := ex.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if s := bh.Stats(); s.InFlight != 0 || s.Queued != 0 {
			t.Errorf("bulkhead Stats() = %+v; want nothing held or waiting", s)
		}
	})
}
