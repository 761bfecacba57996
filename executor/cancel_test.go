package executor_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/async-patterns/async/executor"
)

// TestQueuedCancellation checks that a cancellation that comes first wins:
// a task whose ctx ends while it waits in the queue never runs.
func TestQueuedCancellation(t *testing.T) {
	// busy returns an executor with one worker held by a blocking task, and
	// the function that lets that task return.
	busy := func(t *testing.T) (*executor.Executor, func()) {
		t.Helper()
		ex := executor.New(executor.WithWorkers(1))
		started, release := make(chan struct{}), make(chan struct{})
		if err := ex.Go(context.Background(), func(ctx context.Context) error {
			close(started)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}); err != nil {
			t.Fatalf("Go() = %v; want nil", err)
		}
		<-started
		return ex, func() { close(release) }
	}
	cause := errors.New("the caller gave up")

	t.Run("a queued Go task whose ctx ended never runs and counts as cancelled", func(t *testing.T) {
		ex, release := busy(t)
		ctx, cancel := context.WithCancelCause(context.Background())
		var ran atomic.Bool
		if err := ex.Go(ctx, func(context.Context) error { ran.Store(true); return nil }); err != nil {
			t.Fatalf("Go() = %v; want nil", err)
		}
		cancel(cause)
		release()
		shutdown(t, ex)
		if ran.Load() {
			t.Errorf("the task ran after its ctx ended while queued; want it skipped")
		}
		if s := ex.Stats(); s.Cancelled != 1 || s.Completed != 1 || s.Failed != 0 {
			t.Errorf("Stats() = %+v; want Cancelled 1, Completed 1 (the blocker), Failed 0", s)
		}
	})

	t.Run("a queued Go task cancelled by another task never runs and is not reported", func(t *testing.T) {
		var reported atomic.Int32
		ex := executor.New(executor.WithWorkers(1), executor.WithErrorHandler(func(error) { reported.Add(1) }))
		ctx, cancel := context.WithCancelCause(context.Background())
		started, release := make(chan struct{}), make(chan struct{})
		// The first task cancels the ctx of the one queued behind it.
		ex.Go(context.Background(), func(context.Context) error {
			close(started)
			<-release
			cancel(cause)
			return nil
		})
		<-started
		var ran atomic.Bool
		ex.Go(ctx, func(ctx context.Context) error { ran.Store(true); return context.Cause(ctx) })
		close(release)
		shutdown(t, ex)
		if ran.Load() {
			t.Errorf("the task ran after another task cancelled its ctx; want it skipped")
		}
		if n := reported.Load(); n != 0 {
			t.Errorf("error handler called %d times; want 0: a skipped task is not a failure", n)
		}
		if s := ex.Stats(); s.Cancelled != 1 {
			t.Errorf("Stats().Cancelled = %d; want 1", s.Cancelled)
		}
	})

	t.Run("a queued future whose ctx ended resolves cancelled with the cause and never runs", func(t *testing.T) {
		ex, release := busy(t)
		ctx, cancel := context.WithCancelCause(context.Background())
		var ran atomic.Bool
		f := executor.Submit(ctx, ex, func(context.Context) (int, error) { ran.Store(true); return 1, nil })
		cancel(cause)
		release()
		v, err := f.Wait(context.Background())
		if v != 0 || !errors.Is(err, cause) || f.State() != executor.Cancelled {
			t.Errorf("Wait() = %v, %v, State() = %v; want 0, %v, cancelled", v, err, f.State(), cause)
		}
		shutdown(t, ex)
		if ran.Load() {
			t.Errorf("the future's function ran after its ctx ended while queued; want it skipped")
		}
		if s := ex.Stats(); s.Cancelled != 1 || s.Completed != 1 {
			t.Errorf("Stats() = %+v; want Cancelled 1, Completed 1 (the blocker)", s)
		}
	})

	t.Run("a task waiting on its own queued future whose ctx ended does not run it", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(1))
		defer shutdown(t, ex)
		var ran atomic.Bool
		out := executor.Submit(context.Background(), ex, func(ctx context.Context) (error, error) {
			sub, cancel := context.WithCancelCause(ctx)
			f := executor.Submit(sub, ex, func(context.Context) (int, error) { ran.Store(true); return 1, nil })
			cancel(cause)
			_, err := f.Wait(ctx) // ctx is this task's: Wait would run f here
			return err, nil
		})
		err, _ := out.Wait(context.Background())
		if !errors.Is(err, cause) || ran.Load() {
			t.Errorf("inner Wait() = %v, ran = %v; want %v and not run", err, ran.Load(), cause)
		}
	})

	t.Run("ShutdownNow with cancelled tasks queued returns and accounts for all", func(t *testing.T) {
		ex, _ := busy(t) // the blocker returns when ShutdownNow cancels its ctx
		ctx, cancel := context.WithCancelCause(context.Background())
		var ran atomic.Int32
		var fs []*executor.Future[int]
		for range 8 {
			fs = append(fs, executor.Submit(ctx, ex, func(context.Context) (int, error) { ran.Add(1); return 1, nil }))
			if err := ex.Go(ctx, func(context.Context) error { ran.Add(1); return nil }); err != nil {
				t.Fatalf("Go() = %v; want nil", err)
			}
		}
		cancel(cause)
		ex.ShutdownNow() // must not hang
		for i, f := range fs {
			if _, err := f.Wait(context.Background()); f.State() != executor.Cancelled || err == nil {
				t.Errorf("futures[%d]: Wait() = _, %v, State() = %v; want an error, cancelled", i, err, f.State())
			}
		}
		if n := ran.Load(); n != 0 {
			t.Errorf("%d cancelled tasks ran; want 0", n)
		}
		s := ex.Stats()
		checkIdentity(t, s)
		if s.Cancelled != 16 {
			t.Errorf("Stats().Cancelled = %d; want 16", s.Cancelled)
		}
	})
}
