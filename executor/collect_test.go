package executor_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"
	"weak"

	"go.uber.org/goleak"

	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/observe"
)

// collected reports whether the executor w points to is collected within
// a few seconds of garbage collections.
func collected(w weak.Pointer[executor.Executor]) bool {
	deadline := time.Now().Add(5 * time.Second)
	for w.Value() != nil {
		if time.Now().After(deadline) {
			return false
		}
		runtime.GC()
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// An executor dropped without Shutdown is collected, and its workers exit,
// whichever path it was used through.
func TestDroppedExecutorIsCollected(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		use  func(t *testing.T) (weak.Pointer[executor.Executor], any)
	}{
		{"with a limiter", func(t *testing.T) (weak.Pointer[executor.Executor], any) {
			ex := executor.New(executor.WithWorkers(2), executor.WithLimiter(limit.NewBulkhead(1)))
			ex.Go(ctx, func(context.Context) error { return nil })
			executor.Submit(ctx, ex, func(context.Context) (int, error) { return 1, nil }).Wait(ctx)
			return weak.Make(ex), nil
		}},
		{"with an observer", func(t *testing.T) (weak.Pointer[executor.Executor], any) {
			ex := executor.New(executor.WithWorkers(2), executor.WithObserver(observe.Slog(slog.New(slog.NewTextHandler(io.Discard, nil)))))
			ex.Go(ctx, func(context.Context) error { return errBoom })
			executor.Submit(ctx, ex, func(context.Context) (int, error) { return 1, errBoom }).Wait(ctx)
			return weak.Make(ex), nil
		}},
		{"with a future kept", func(t *testing.T) (weak.Pointer[executor.Executor], any) {
			ex := executor.New(executor.WithWorkers(2))
			f := executor.Submit(ctx, ex, func(context.Context) (int, error) { return 1, nil })
			f.Wait(ctx)
			return weak.Make(ex), f
		}},
		{"with a future kept, queued", func(t *testing.T) (weak.Pointer[executor.Executor], any) {
			ex := executor.New(executor.WithWorkers(1))
			f := executor.Submit(ctx, ex, func(context.Context) (int, error) { return 1, nil })
			return weak.Make(ex), f
		}},
		{"through Map", func(t *testing.T) (weak.Pointer[executor.Executor], any) {
			ex := executor.New(executor.WithWorkers(2))
			out, err := executor.Map(ctx, ex, []int{1, 2, 3, 4, 5, 6, 7, 8, 9}, func(_ context.Context, i int) (int, error) { return i, nil })
			if err != nil || len(out) != 9 {
				t.Errorf("Map() = %v, %v", out, err)
			}
			return weak.Make(ex), out
		}},
		{"through nested submits", func(t *testing.T) (weak.Pointer[executor.Executor], any) {
			ex := executor.New(executor.WithWorkers(1), executor.WithQueueSize(1))
			f := executor.Submit(ctx, ex, func(ctx context.Context) (int, error) {
				g := executor.Submit(ctx, ex, func(context.Context) (int, error) { return 1, nil })
				ex.Go(ctx, func(context.Context) error { return nil })
				ex.Go(ctx, func(context.Context) error { return nil })
				return g.Wait(ctx)
			})
			f.Wait(ctx)
			return weak.Make(ex), nil
		}},
		{"through TrySubmit and Stats", func(t *testing.T) (weak.Pointer[executor.Executor], any) {
			ex := executor.New(executor.WithWorkers(1), executor.WithErrorHandler(func(error) {}))
			f, _ := executor.TrySubmit(ex, func(context.Context) (int, error) { return 1, nil })
			f.Wait(ctx)
			ex.Go(ctx, func(context.Context) error { panic("x") })
			_ = ex.Stats()
			return weak.Make(ex), nil
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := goleak.IgnoreCurrent()
			w, keep := c.use(t)
			if !collected(w) {
				t.Fatal("the dropped executor was never collected")
			}
			goleak.VerifyNone(t, before)
			runtime.KeepAlive(keep)
		})
	}
}

// The cleanup that closes a dropped executor runs while its workers, and
// goroutines holding its futures, go on: every future still resolves, the
// queued ones run (none is refused), and -race sees nothing.
func TestDroppedExecutorClosesUnderWork(t *testing.T) {
	ctx := context.Background()
	before := goleak.IgnoreCurrent()
	w, fs := submitAndDrop(ctx, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, f := range fs {
			if i%3 == 0 {
				f.Cancel()
			}
		}
	}()
	if !collected(w) {
		t.Fatal("the dropped executor was never collected")
	}
	<-done
	for i, f := range fs {
		v, err := f.Wait(ctx)
		switch {
		case err == nil && v != i:
			t.Errorf("future %d: Wait() = %d; want %d", i, v, i)
		case err != nil && (i%3 != 0 || !errors.Is(err, context.Canceled)):
			t.Errorf("future %d: Wait() error = %v; want nil, or context.Canceled for a cancelled one", i, err)
		}
	}
	goleak.VerifyNone(t, before)
}

//go:noinline
func submitAndDrop(ctx context.Context, n int) (weak.Pointer[executor.Executor], []*executor.Future[int]) {
	ex := executor.New(executor.WithWorkers(2), executor.WithQueueSize(n))
	fs := make([]*executor.Future[int], n)
	for i := range fs {
		fs[i] = executor.Submit(ctx, ex, func(ctx context.Context) (int, error) {
			runtime.Gosched()
			return i, nil
		})
	}
	return weak.Make(ex), fs
}
