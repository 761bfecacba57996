package executor_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/limit"
)

// outcomes is a limiter of the test's own, as one from another module
// would be: it admits everything and records how each permit ended.
type outcomes struct {
	mu       sync.Mutex
	acquired int
	got      map[limit.Outcome]int
}

func (o *outcomes) Acquire(ctx context.Context) (limit.Permit, error) {
	if ctx.Err() != nil {
		return limit.Permit{}, context.Cause(ctx)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.acquired++
	return limit.Permit{ID: uint64(o.acquired)}, nil
}

func (o *outcomes) Release(_ limit.Permit, out limit.Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.got == nil {
		o.got = map[limit.Outcome]int{}
	}
	o.got[out]++
}

func TestWithLimiter(t *testing.T) {
	t.Run("nil panics naming the option", func(t *testing.T) {
		defer func() {
			if r, _ := recover().(string); r != "executor: WithLimiter(nil): limiter must not be nil" {
				t.Errorf("panic = %q", r)
			}
		}()
		executor.WithLimiter(nil)
	})

	t.Run("no more tasks run at once than the limiter admits", func(t *testing.T) {
		bh := limit.NewBulkhead(2)
		ex := executor.New(executor.WithWorkers(6), executor.WithLimiter(bh))
		defer shutdown(t, ex)
		var active, peak atomic.Int64
		fn := func(context.Context) (int, error) {
			a := active.Add(1)
			for p := peak.Load(); a > p && !peak.CompareAndSwap(p, a); p = peak.Load() {
				// lost a race with another task: read the peak again
			}
			for range 1000 { // give the others time to overlap
				_ = active.Load()
			}
			active.Add(-1)
			return 1, nil
		}
		var futures []*executor.Future[int]
		for range 200 {
			futures = append(futures, executor.Submit(t.Context(), ex, fn))
			if err := ex.Go(t.Context(), func(ctx context.Context) error { _, err := fn(ctx); return err }); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range futures {
			if _, err := f.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if err := ex.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if p := peak.Load(); p > 2 {
			t.Errorf("peak running = %d; want <= 2", p)
		}
		if s := bh.Stats(); s.InFlight != 0 {
			t.Errorf("bulkhead Stats() = %+v; want every permit released", s)
		}
	})

	t.Run("a refusal fails the task without running it", func(t *testing.T) {
		bh := limit.NewBulkhead(1, limit.WithMaxWaiting(0))
		hold, _ := bh.Acquire(t.Context())
		var handled []error
		var mu sync.Mutex
		ex := executor.New(executor.WithWorkers(1), executor.WithLimiter(bh),
			executor.WithErrorHandler(func(err error) { mu.Lock(); handled = append(handled, err); mu.Unlock() }))
		ran := false
		f := executor.Submit(t.Context(), ex, func(context.Context) (int, error) { ran = true; return 1, nil })
		if _, err := f.Wait(t.Context()); !errors.Is(err, limit.ErrRejected) || f.State() != executor.Failed {
			t.Errorf("Wait() = %v, state %v; want ErrRejected, failed", err, f.State())
		}
		if err := ex.Go(t.Context(), func(context.Context) error { ran = true; return nil }); err != nil {
			t.Fatal(err)
		}
		f2, err := executor.TrySubmit(ex, func(context.Context) (int, error) { ran = true; return 1, nil })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f2.Wait(t.Context()); !errors.Is(err, limit.ErrRejected) {
			t.Errorf("TrySubmit's future: Wait() = %v; want ErrRejected", err)
		}
		shutdown(t, ex)
		if ran {
			t.Error("a refused task ran")
		}
		if len(handled) != 1 || !errors.Is(handled[0], limit.ErrRejected) {
			t.Errorf("error handler got %v; want one ErrRejected", handled)
		}
		if s := ex.Stats(); s.Failed != 3 {
			t.Errorf("Stats().Failed = %d; want 3", s.Failed)
		}
		bh.Release(hold, limit.Success)
	})

	t.Run("each permit is released with the task's outcome", func(t *testing.T) {
		rec := &outcomes{}
		ex := executor.New(executor.WithWorkers(2), executor.WithLimiter(rec), executor.WithErrorHandler(func(error) {}))
		wait := func(f interface {
			Wait(context.Context) (int, error)
		}) error {
			_, err := f.Wait(t.Context())
			return err
		}
		_ = wait(executor.Submit(t.Context(), ex, value(1)))
		_ = wait(executor.Submit(t.Context(), ex, func(context.Context) (int, error) { return 0, errBoom }))
		err := wait(executor.Submit(t.Context(), ex, func(context.Context) (int, error) { panic("boom") }))
		var pe *executor.PanicError
		if !errors.As(err, &pe) || pe.Value != "boom" {
			t.Errorf("a panicking task's Wait() = %v; want the executor's *PanicError", err)
		}
		_ = wait(executor.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			return 0, context.DeadlineExceeded
		}))
		running := make(chan struct{})
		f := executor.Submit(t.Context(), ex, func(ctx context.Context) (int, error) {
			close(running)
			<-ctx.Done()
			return 0, ctx.Err()
		})
		<-running
		f.Cancel()
		_ = wait(f)
		shutdown(t, ex)
		want := map[limit.Outcome]int{limit.Success: 1, limit.Failure: 2, limit.Dropped: 1, limit.Ignored: 1}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.acquired != 5 || len(rec.got) != len(want) {
			t.Fatalf("acquired %d, released %v; want 5 acquired, released %v", rec.acquired, rec.got, want)
		}
		for o, n := range want {
			if rec.got[o] != n {
				t.Errorf("released with %v %d times; want %d (all: %v)", o, rec.got[o], n, rec.got)
			}
		}
	})

	t.Run("a task cancelled in the queue never acquires", func(t *testing.T) {
		rec := &outcomes{}
		ex := executor.New(executor.WithWorkers(1), executor.WithLimiter(rec))
		started, release := make(chan struct{}), make(chan struct{})
		blocker := executor.Submit(t.Context(), ex, blockUntil(started, release, 1))
		<-started
		queued := executor.Submit(t.Context(), ex, value(2))
		queued.Cancel()
		close(release)
		if _, err := blocker.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		shutdown(t, ex)
		if rec.acquired != 1 || rec.got[limit.Success] != 1 {
			t.Errorf("acquired %d, released %v; want only the blocker's permit", rec.acquired, rec.got)
		}
	})
}
