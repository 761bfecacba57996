package executor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"weak"

	"go.uber.org/goleak"

	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/internal/safe"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var errBoom = errors.New("boom")

// shutdown is deferred by tests: it stops ex and checks the Stats identity.
func shutdown(t *testing.T, ex *executor.Executor) {
	t.Helper()
	if err := ex.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown() = %v; want nil", err)
	}
	checkIdentity(t, ex.Stats())
}

func checkIdentity(t *testing.T, s executor.Stats) {
	t.Helper()
	if sum := s.Completed + s.Failed + s.Cancelled + s.Rejected; sum != s.Submitted {
		t.Errorf("Stats() = %+v: Completed+Failed+Cancelled+Rejected = %d; want Submitted = %d", s, sum, s.Submitted)
	}
	if s.Running != 0 || s.Queued != 0 || s.Workers != 0 {
		t.Errorf("Stats() after shutdown = %+v; want Running, Queued and Workers 0", s)
	}
}

func value(v int) func(context.Context) (int, error) {
	return func(context.Context) (int, error) { return v, nil }
}

// blockUntil returns a task that signals started, then waits for release
// (or its ctx) and returns v.
func blockUntil(started chan<- struct{}, release <-chan struct{}, v int) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		if started != nil {
			started <- struct{}{}
		}
		select {
		case <-release:
			return v, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func TestSubmit(t *testing.T) {
	t.Run("a future returns its function's value", func(t *testing.T) {
		ex := executor.New()
		defer shutdown(t, ex)
		f := executor.Submit(context.Background(), ex, value(42))
		if v, err := f.Wait(context.Background()); v != 42 || err != nil {
			t.Errorf("Wait() = %v, %v; want 42, nil", v, err)
		}
		if st := f.State(); st != executor.Succeeded {
			t.Errorf("State() = %v; want succeeded", st)
		}
		<-f.Done()
	})

	t.Run("a failing function fails its future and keeps the error", func(t *testing.T) {
		ex := executor.New()
		f := executor.Submit(context.Background(), ex, func(context.Context) (int, error) {
			return 0, fmt.Errorf("wrapped: %w", errBoom)
		})
		if _, err := f.Wait(context.Background()); !errors.Is(err, errBoom) {
			t.Errorf("Wait() error = %v; want it to match errBoom", err)
		}
		if st := f.State(); st != executor.Failed {
			t.Errorf("State() = %v; want failed", st)
		}
		shutdown(t, ex) // a task counts just after its future resolves
		if s := ex.Stats(); s.Failed != 1 {
			t.Errorf("Stats().Failed = %d; want 1", s.Failed)
		}
	})

	t.Run("a panic fails the future with a PanicError and the worker goes on", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(1))
		defer shutdown(t, ex)
		f := executor.Submit(context.Background(), ex, func(context.Context) (int, error) {
			panic(errBoom)
		})
		_, err := f.Wait(context.Background())
		var pe *executor.PanicError
		if !errors.As(err, &pe) || pe.Value != errBoom || len(pe.Stack) == 0 {
			t.Fatalf("Wait() error = %v; want a *PanicError with value errBoom and a stack", err)
		}
		if !errors.Is(err, errBoom) {
			t.Errorf("errors.Is(%v, errBoom) = false; want true", err)
		}
		if v, err := executor.Submit(context.Background(), ex, value(7)).Wait(context.Background()); v != 7 || err != nil {
			t.Errorf("Wait() after a panic = %v, %v; want 7, nil", v, err)
		}
	})

	t.Run("a Goexit fails the future and a fresh worker takes over", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(1))
		f := executor.Submit(context.Background(), ex, func(context.Context) (int, error) {
			runtime.Goexit()
			return 0, nil
		})
		_, err := f.Wait(context.Background())
		var pe *executor.PanicError
		if !errors.As(err, &pe) || pe.Value != safe.ErrGoexit {
			t.Fatalf("Wait() error = %v; want a *PanicError for Goexit", err)
		}
		if v, err := executor.Submit(context.Background(), ex, value(7)).Wait(context.Background()); v != 7 || err != nil {
			t.Errorf("Wait() after a Goexit = %v, %v; want 7, nil", v, err)
		}
		if s := ex.Stats(); s.Workers != 1 {
			t.Errorf("Stats().Workers = %d; want 1", s.Workers)
		}
		shutdown(t, ex) // a task counts just after its future resolves
		if s := ex.Stats(); s.Failed != 1 || s.Completed != 1 {
			t.Errorf("Stats() = %+v; want 1 failed, 1 completed", s)
		}
	})

	t.Run("Wait returns the cause when its ctx ends first and leaves the future alone", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(1))
		defer shutdown(t, ex)
		release := make(chan struct{})
		f := executor.Submit(context.Background(), ex, blockUntil(nil, release, 1))
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errBoom)
		if _, err := f.Wait(ctx); err != errBoom {
			t.Errorf("Wait(done ctx) = %v; want errBoom", err)
		}
		close(release)
		if v, err := f.Wait(context.Background()); v != 1 || err != nil {
			t.Errorf("Wait() = %v, %v; want 1, nil", v, err)
		}
	})

	t.Run("the task's ctx carries Submit's ctx values", func(t *testing.T) {
		type key struct{}
		ex := executor.New()
		defer shutdown(t, ex)
		ctx := context.WithValue(context.Background(), key{}, "v")
		f := executor.Submit(ctx, ex, func(ctx context.Context) (string, error) {
			s, _ := ctx.Value(key{}).(string)
			return s, nil
		})
		if v, _ := f.Wait(context.Background()); v != "v" {
			t.Errorf("ctx.Value(key) = %q; want %q", v, "v")
		}
	})
}

func TestTaskContext(t *testing.T) {
	t.Run("the task's ctx ends when Submit's ctx ends", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(1))
		defer shutdown(t, ex)
		ctx, cancel := context.WithCancelCause(context.Background())
		started := make(chan struct{})
		f := executor.Submit(ctx, ex, func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			return 0, context.Cause(ctx)
		})
		<-started
		cancel(errBoom)
		if _, err := f.Wait(context.Background()); err != errBoom {
			t.Errorf("Wait() = %v; want errBoom (the cause)", err)
		}
		if st := f.State(); st != executor.Cancelled {
			t.Errorf("State() = %v; want cancelled", st)
		}
	})

	t.Run("the task's ctx ends when the future is cancelled", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(1))
		started := make(chan struct{})
		f := executor.Submit(context.Background(), ex, blockUntil(started, nil, 0))
		<-started
		f.Cancel()
		if _, err := f.Wait(context.Background()); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait() = %v; want context.Canceled", err)
		}
		if st := f.State(); st != executor.Cancelled {
			t.Errorf("State() = %v; want cancelled", st)
		}
		shutdown(t, ex) // a task counts just after its future resolves
		if s := ex.Stats(); s.Cancelled != 1 {
			t.Errorf("Stats().Cancelled = %d; want 1", s.Cancelled)
		}
	})

	t.Run("the task's ctx ends on ShutdownNow, which waits for the task", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(2))
		started := make(chan struct{})
		var returned atomic.Bool
		f := executor.Submit(context.Background(), ex, func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			returned.Store(true)
			return 0, ctx.Err()
		})
		<-started
		ex.ShutdownNow()
		if !returned.Load() {
			t.Errorf("ShutdownNow returned before the running task")
		}
		if _, err := f.Wait(context.Background()); !errors.Is(err, context.Canceled) {
			t.Errorf("Wait() = %v; want context.Canceled", err)
		}
		checkIdentity(t, ex.Stats())
	})
}

func TestShutdownNowInline(t *testing.T) {
	t.Run("ShutdownNow cancels a future that a waiting task runs itself", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// The parent, on one worker, waits on a future submitted from
			// outside and still queued, so it runs that future itself. The
			// other worker then takes the future's queue entry and skips
			// it. The future's ctx does not derive from the parent's: only
			// ShutdownNow can end it, and ShutdownNow must, or it waits for
			// it forever.
			ex := executor.New(executor.WithWorkers(2))
			busy, release := make(chan struct{}), make(chan struct{})
			executor.Submit(context.Background(), ex, blockUntil(busy, release, 0))
			<-busy
			ready, parentStarted, started := make(chan struct{}), make(chan struct{}), make(chan struct{})
			var child *executor.Future[int]
			parent := executor.Submit(context.Background(), ex, func(ctx context.Context) (int, error) {
				close(parentStarted)
				<-ready
				return child.Wait(ctx)
			})
			<-parentStarted
			child = executor.Submit(context.Background(), ex, blockUntil(started, nil, 1))
			close(ready)
			<-started
			close(release)
			synctest.Wait() // the other worker has skipped the child's entry and waits for work
			if s := ex.Stats(); s.Queued != 0 {
				t.Fatalf("Stats().Queued = %d; want 0", s.Queued)
			}
			ex.ShutdownNow()
			if _, err := child.Wait(context.Background()); !errors.Is(err, context.Canceled) || child.State() != executor.Cancelled {
				t.Errorf("child: Wait() = %v, State() = %v; want context.Canceled, cancelled", err, child.State())
			}
			if _, err := parent.Wait(context.Background()); !errors.Is(err, context.Canceled) {
				t.Errorf("parent: Wait() = %v; want context.Canceled", err)
			}
			checkIdentity(t, ex.Stats())
		})
	})
}

func TestCancelQueued(t *testing.T) {
	t.Run("a future cancelled while queued resolves at once and never runs", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(1))
		defer shutdown(t, ex)
		started, release := make(chan struct{}), make(chan struct{})
		executor.Submit(context.Background(), ex, blockUntil(started, release, 0))
		<-started
		var ran atomic.Bool
		f := executor.Submit(context.Background(), ex, func(context.Context) (int, error) {
			ran.Store(true)
			return 1, nil
		})
		f.Cancel()
		if st := f.State(); st != executor.Cancelled {
			t.Errorf("State() right after Cancel = %v; want cancelled", st)
		}
		if _, err := f.Wait(context.Background()); err != context.Canceled {
			t.Errorf("Wait() = %v; want context.Canceled", err)
		}
		close(release)
		if err := ex.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ran.Load() {
			t.Errorf("a future cancelled while queued ran its function")
		}
	})

	t.Run("ShutdownNow cancels queued futures, which never run", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(1))
		started := make(chan struct{})
		first := executor.Submit(context.Background(), ex, blockUntil(started, nil, 0))
		<-started
		var ran atomic.Int32
		var queued []*executor.Future[int]
		for range 5 {
			queued = append(queued, executor.Submit(context.Background(), ex, func(context.Context) (int, error) {
				ran.Add(1)
				return 1, nil
			}))
		}
		var goRan atomic.Bool
		if err := ex.Go(context.Background(), func(context.Context) error { goRan.Store(true); return nil }); err != nil {
			t.Fatal(err)
		}
		ex.ShutdownNow()
		for i, f := range queued {
			_, err := f.Wait(context.Background())
			if f.State() != executor.Cancelled || !errors.Is(err, executor.ErrClosed) || !errors.Is(err, context.Canceled) {
				t.Errorf("queued[%d]: State() = %v, Wait() = %v; want cancelled with an error matching ErrClosed and context.Canceled", i, f.State(), err)
			}
		}
		if ran.Load() != 0 || goRan.Load() {
			t.Errorf("%d queued futures ran (Go task ran: %v); want none", ran.Load(), goRan.Load())
		}
		if st := first.State(); st != executor.Cancelled {
			t.Errorf("running future State() = %v; want cancelled", st)
		}
		s := ex.Stats()
		checkIdentity(t, s)
		if s.Cancelled != 7 {
			t.Errorf("Stats().Cancelled = %d; want 7", s.Cancelled)
		}
		ex.ShutdownNow() // idempotent
		if err := ex.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown() after ShutdownNow = %v; want nil", err)
		}
	})
}

func TestBackpressure(t *testing.T) {
	// setup fills a one-worker, one-slot executor: one task running, one
	// queued. It returns the channel that releases them.
	setup := func(t *testing.T) (*executor.Executor, chan struct{}) {
		ex := executor.New(executor.WithWorkers(1), executor.WithQueueSize(1))
		started, release := make(chan struct{}), make(chan struct{})
		executor.Submit(context.Background(), ex, blockUntil(started, release, 0))
		<-started
		executor.Submit(context.Background(), ex, blockUntil(nil, release, 0))
		return ex, release
	}

	t.Run("Submit blocks while the queue is full until there is room", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ex, release := setup(t)
			var f *executor.Future[int]
			done := make(chan struct{})
			go func() {
				f = executor.Submit(context.Background(), ex, value(3))
				close(done)
			}()
			synctest.Wait()
			select {
			case <-done:
				t.Fatal("Submit returned while the queue was full")
			default:
			}
			if _, err := executor.TrySubmit(ex, value(1)); err != executor.ErrFull {
				t.Errorf("TrySubmit() on a full queue = %v; want ErrFull", err)
			}
			if s := ex.Stats(); s.Running != 1 || s.Queued != 1 {
				t.Errorf("Stats() = %+v; want 1 running, 1 queued", s)
			}
			close(release)
			<-done
			if v, err := f.Wait(context.Background()); v != 3 || err != nil {
				t.Errorf("Wait() = %v, %v; want 3, nil", v, err)
			}
			shutdown(t, ex)
			if s := ex.Stats(); s.Rejected != 1 || s.Completed != 3 {
				t.Errorf("Stats() = %+v; want 1 rejected (the TrySubmit), 3 completed", s)
			}
		})
	})

	t.Run("Submit blocked on a full queue gives up when its ctx ends", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ex, release := setup(t)
			ctx, cancel := context.WithTimeoutCause(context.Background(), time.Second, errBoom)
			defer cancel()
			start := time.Now()
			var ran atomic.Bool
			f := executor.Submit(ctx, ex, func(context.Context) (int, error) { ran.Store(true); return 0, nil })
			if d := time.Since(start); d != time.Second {
				t.Errorf("Submit returned after %v; want 1s (the ctx timeout)", d)
			}
			if _, err := f.Wait(context.Background()); err != errBoom || f.State() != executor.Failed {
				t.Errorf("Wait() = %v, State() = %v; want errBoom (the cause), failed", err, f.State())
			}
			if err := ex.Go(ctx, func(context.Context) error { ran.Store(true); return nil }); err != errBoom {
				t.Errorf("Go() with a done ctx = %v; want errBoom", err)
			}
			close(release)
			shutdown(t, ex)
			if ran.Load() {
				t.Error("a rejected task ran")
			}
			if s := ex.Stats(); s.Rejected != 2 {
				t.Errorf("Stats().Rejected = %d; want 2", s.Rejected)
			}
		})
	})

	t.Run("Submit blocked on a full queue fails with ErrClosed on Shutdown", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ex, release := setup(t)
			done := make(chan *executor.Future[int])
			go func() { done <- executor.Submit(context.Background(), ex, value(1)) }()
			synctest.Wait()
			shut := make(chan error)
			go func() { shut <- ex.Shutdown(context.Background()) }()
			f := <-done
			if _, err := f.Wait(context.Background()); err != executor.ErrClosed {
				t.Errorf("Wait() = %v; want ErrClosed", err)
			}
			close(release)
			if err := <-shut; err != nil {
				t.Errorf("Shutdown() = %v; want nil", err)
			}
			checkIdentity(t, ex.Stats())
		})
	})

	t.Run("Go blocks while the queue is full until there is room", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ex, release := setup(t)
			done := make(chan error)
			var ran atomic.Bool
			go func() {
				done <- ex.Go(context.Background(), func(context.Context) error { ran.Store(true); return nil })
			}()
			synctest.Wait()
			select {
			case <-done:
				t.Fatal("Go returned while the queue was full")
			default:
			}
			close(release)
			if err := <-done; err != nil {
				t.Errorf("Go() = %v; want nil", err)
			}
			shutdown(t, ex)
			if !ran.Load() {
				t.Error("the Go task did not run")
			}
		})
	})
}

func TestShutdown(t *testing.T) {
	t.Run("submits after shutdown fail with ErrClosed and never panic", func(t *testing.T) {
		ex := executor.New()
		if err := ex.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		f := executor.Submit(context.Background(), ex, value(1))
		if _, err := f.Wait(context.Background()); err != executor.ErrClosed || f.State() != executor.Failed {
			t.Errorf("Submit after Shutdown: Wait() = %v, State() = %v; want ErrClosed, failed", err, f.State())
		}
		if f, err := executor.TrySubmit(ex, value(1)); f != nil || err != executor.ErrClosed {
			t.Errorf("TrySubmit() after Shutdown = %v, %v; want nil, ErrClosed", f, err)
		}
		if err := ex.Go(context.Background(), func(context.Context) error { return nil }); err != executor.ErrClosed {
			t.Errorf("Go() after Shutdown = %v; want ErrClosed", err)
		}
		if _, err := executor.Map(context.Background(), ex, []int{1, 2}, func(_ context.Context, i int) (int, error) { return i, nil }); !errors.Is(err, executor.ErrClosed) {
			t.Errorf("Map() after Shutdown = %v; want ErrClosed", err)
		}
		s := ex.Stats()
		checkIdentity(t, s)
		if s.Rejected != 4 {
			t.Errorf("Stats().Rejected = %d; want 4", s.Rejected)
		}
	})

	t.Run("Shutdown runs what is queued", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(1), executor.WithQueueSize(100))
		started, release := make(chan struct{}), make(chan struct{})
		executor.Submit(context.Background(), ex, blockUntil(started, release, 0))
		<-started
		var fs []*executor.Future[int]
		for i := range 50 {
			fs = append(fs, executor.Submit(context.Background(), ex, value(i)))
		}
		var goRan atomic.Int32
		for range 10 {
			ex.Go(context.Background(), func(context.Context) error { goRan.Add(1); return nil })
		}
		close(release)
		shutdown(t, ex)
		for i, f := range fs {
			if v, err := f.Wait(context.Background()); v != i || err != nil {
				t.Errorf("queued[%d].Wait() = %v, %v; want %d, nil", i, v, err, i)
			}
		}
		if goRan.Load() != 10 {
			t.Errorf("%d queued Go tasks ran; want 10", goRan.Load())
		}
	})

	t.Run("Shutdown is bounded by its ctx and may be called again", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ex := executor.New(executor.WithWorkers(1))
			started, release := make(chan struct{}), make(chan struct{})
			executor.Submit(context.Background(), ex, blockUntil(started, release, 0))
			<-started
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := ex.Shutdown(ctx); err != context.DeadlineExceeded {
				t.Errorf("Shutdown(ctx) with a task still running = %v; want DeadlineExceeded", err)
			}
			if s := ex.Stats(); s.Workers != 1 || s.Running != 1 {
				t.Errorf("Stats() = %+v; want the worker and its task still running", s)
			}
			close(release)
			shutdown(t, ex)
			shutdown(t, ex)
		})
	})

	t.Run("Shutdown and ShutdownNow racing each other both return", func(t *testing.T) {
		for range 200 {
			ex := executor.New(executor.WithWorkers(3), executor.WithQueueSize(2))
			for range 4 {
				ex.Go(context.Background(), func(context.Context) error { return nil })
			}
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); ex.Shutdown(context.Background()) }()
			go func() { defer wg.Done(); ex.ShutdownNow() }()
			ex.ShutdownNow()
			wg.Wait()
			checkIdentity(t, ex.Stats())
		}
	})

	t.Run("every future resolves when a thousand submits race Shutdown", func(t *testing.T) {
		raceShutdown(t, func(ex *executor.Executor) { ex.Shutdown(context.Background()) })
	})

	t.Run("every future resolves when a thousand submits race ShutdownNow", func(t *testing.T) {
		raceShutdown(t, func(ex *executor.Executor) { ex.ShutdownNow() })
	})
}

// raceShutdown submits a thousand tasks of every kind (succeeding, failing,
// panicking, cancelled) from many goroutines while stop runs, and checks
// that every future resolves and that Stats accounts for each.
func raceShutdown(t *testing.T, stop func(*executor.Executor)) {
	const n = 1000
	ex := executor.New(executor.WithWorkers(4), executor.WithQueueSize(16), executor.WithErrorHandler(func(error) {}))
	futures := make([]*executor.Future[int], n)
	var wg sync.WaitGroup
	var goAccepted atomic.Int32
	var goRan atomic.Int32
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn := func(ctx context.Context) (int, error) {
				switch i % 5 {
				case 1:
					return 0, errBoom
				case 2:
					panic(i)
				case 3: // cancelled by the Cancel below, or by ShutdownNow
					<-ctx.Done()
					return 0, ctx.Err()
				}
				return i, nil
			}
			if i%7 == 0 {
				if ex.Go(context.Background(), func(context.Context) error { goRan.Add(1); return nil }) == nil {
					goAccepted.Add(1)
				}
			}
			f := executor.Submit(context.Background(), ex, fn)
			if i%5 == 3 {
				f.Cancel()
			}
			futures[i] = f
		}()
		if i == n/2 {
			wg.Add(1)
			go func() { defer wg.Done(); stop(ex) }()
		}
	}
	wg.Wait()
	stop(ex)
	for i, f := range futures {
		v, err := f.Wait(context.Background())
		switch f.State() {
		case executor.Succeeded:
			if v != i || err != nil {
				t.Errorf("futures[%d] succeeded with %v, %v; want %d, nil", i, v, err, i)
			}
		case executor.Failed, executor.Cancelled:
			if err == nil {
				t.Errorf("futures[%d] is %v with a nil error", i, f.State())
			}
		default:
			t.Errorf("futures[%d].State() = %v after shutdown; want it resolved", i, f.State())
		}
	}
	s := ex.Stats()
	checkIdentity(t, s)
	if want := uint64(n) + uint64(n/7+1); s.Submitted != want {
		t.Errorf("Stats().Submitted = %d; want %d", s.Submitted, want)
	}
	if goRan.Load() > goAccepted.Load() {
		t.Errorf("%d Go tasks ran but %d were accepted", goRan.Load(), goAccepted.Load())
	}
}

func TestNested(t *testing.T) {
	t.Run("a task that submits to its own full executor and waits does not deadlock", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(2), executor.WithQueueSize(1))
		defer shutdown(t, ex)
		// Two parents fill the workers; each fills the queue with children
		// and waits on them, and the children submit grandchildren.
		var parents []*executor.Future[int]
		for p := range 2 {
			parents = append(parents, executor.Submit(context.Background(), ex, func(ctx context.Context) (int, error) {
				var kids []*executor.Future[int]
				for k := range 5 {
					kids = append(kids, executor.Submit(ctx, ex, func(ctx context.Context) (int, error) {
						g := executor.Submit(ctx, ex, value(k))
						return g.Wait(ctx)
					}))
				}
				sum := p * 100
				for _, f := range kids {
					v, err := f.Wait(ctx)
					if err != nil {
						return 0, err
					}
					sum += v
				}
				return sum, nil
			}))
		}
		for p, f := range parents {
			if v, err := f.Wait(context.Background()); v != p*100+10 || err != nil {
				t.Errorf("parents[%d].Wait() = %v, %v; want %d, nil", p, v, err, p*100+10)
			}
		}
	})

	t.Run("a Go task that calls Go on its own full executor does not deadlock", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(1), executor.WithQueueSize(1))
		var count atomic.Int32
		var wg sync.WaitGroup
		var spawn func(depth int) func(context.Context) error
		spawn = func(depth int) func(context.Context) error {
			return func(ctx context.Context) error {
				defer wg.Done()
				count.Add(1)
				if depth == 0 {
					return nil
				}
				for range 3 {
					wg.Add(1)
					if err := ex.Go(ctx, spawn(depth-1)); err != nil {
						wg.Done()
						return err
					}
				}
				return nil
			}
		}
		wg.Add(1)
		if err := ex.Go(context.Background(), spawn(3)); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		shutdown(t, ex)
		if c := count.Load(); c != 1+3+9+27 {
			t.Errorf("%d tasks ran; want 40", c)
		}
	})

	t.Run("work a Go task queues with its ctx keeps a live ctx after the task returns", func(t *testing.T) {
		type key struct{}
		var cancels []context.CancelFunc // the cancel ctx outlives its task on purpose
		defer func() {
			for _, c := range cancels {
				c()
			}
		}()
		wraps := map[string]func(context.Context) context.Context{
			"the task's ctx":      func(ctx context.Context) context.Context { return ctx },
			"a value ctx over it": func(ctx context.Context) context.Context { return context.WithValue(ctx, key{}, 1) },
			"a cancel ctx over it": func(ctx context.Context) context.Context {
				ctx, cancel := context.WithCancel(ctx)
				cancels = append(cancels, cancel)
				return ctx
			},
		}
		for name, wrap := range wraps {
			// One worker: the children run after the parent, on the worker
			// that ran it, and the ctx they derive from must be neither
			// reused for them nor read as ended.
			ex := executor.New(executor.WithWorkers(1))
			errs := make(chan error, 2)
			var f *executor.Future[int]
			ex.Go(context.Background(), func(ctx context.Context) error {
				ctx = wrap(ctx)
				f = executor.Submit(ctx, ex, func(ctx context.Context) (int, error) {
					errs <- ctx.Err()
					return 0, nil
				})
				return ex.Go(ctx, func(ctx context.Context) error {
					errs <- ctx.Err()
					return nil
				})
			})
			for range 2 {
				if err := <-errs; err != nil {
					t.Errorf("%s: a queued child's ctx.Err() = %v; want nil", name, err)
				}
			}
			shutdown(t, ex)
			if _, err := f.Wait(context.Background()); err != nil {
				t.Errorf("%s: the queued future's Wait() = %v; want nil", name, err)
			}
		}
	})

	t.Run("every worker waiting on queued children does not deadlock", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(2), executor.WithQueueSize(64))
		defer shutdown(t, ex)
		var parents []*executor.Future[int]
		for range 4 {
			parents = append(parents, executor.Submit(context.Background(), ex, func(ctx context.Context) (int, error) {
				return executor.Submit(ctx, ex, value(5)).Wait(ctx)
			}))
		}
		for i, f := range parents {
			if v, err := f.Wait(context.Background()); v != 5 || err != nil {
				t.Errorf("parents[%d].Wait() = %v, %v; want 5, nil", i, v, err)
			}
		}
	})

	t.Run("a Map inside a task of the same executor does not deadlock", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(1), executor.WithQueueSize(1))
		defer shutdown(t, ex)
		f := executor.Submit(context.Background(), ex, func(ctx context.Context) (int, error) {
			out, err := executor.Map(ctx, ex, []int{1, 2, 3, 4, 5, 6}, func(_ context.Context, i int) (int, error) { return i * i, nil })
			sum := 0
			for _, v := range out {
				sum += v
			}
			return sum, err
		})
		if v, err := f.Wait(context.Background()); v != 91 || err != nil {
			t.Errorf("Wait() = %v, %v; want 91, nil", v, err)
		}
	})
}

func TestGo(t *testing.T) {
	t.Run("errors and panics go to the error handler and count as failures", func(t *testing.T) {
		var mu sync.Mutex
		var got []error
		ex := executor.New(executor.WithWorkers(1), executor.WithErrorHandler(func(err error) {
			mu.Lock()
			got = append(got, err)
			mu.Unlock()
		}))
		ex.Go(context.Background(), func(context.Context) error { return errBoom })
		ex.Go(context.Background(), func(context.Context) error { panic("oops") })
		ex.Go(context.Background(), func(context.Context) error { return nil })
		shutdown(t, ex)
		if len(got) != 2 || got[0] != errBoom {
			t.Fatalf("handler got %v; want errBoom and a panic", got)
		}
		var pe *executor.PanicError
		if !errors.As(got[1], &pe) || pe.Value != "oops" {
			t.Errorf("handler got %v; want a *PanicError with value oops", got[1])
		}
		if s := ex.Stats(); s.Failed != 2 || s.Completed != 1 {
			t.Errorf("Stats() = %+v; want 2 failed, 1 completed", s)
		}
	})

	t.Run("without a handler failures are logged through slog", func(t *testing.T) {
		var buf bytes.Buffer
		var mu sync.Mutex
		old := slog.Default()
		slog.SetDefault(slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil)))
		defer slog.SetDefault(old)
		ex := executor.New(executor.WithWorkers(1))
		ex.Go(context.Background(), func(context.Context) error { return errBoom })
		shutdown(t, ex)
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(buf.String(), "boom") {
			t.Errorf("log = %q; want it to mention the error", buf.String())
		}
	})

	t.Run("a task's own cancellation is counted but not reported", func(t *testing.T) {
		var reported atomic.Int32
		ex := executor.New(executor.WithWorkers(1), executor.WithErrorHandler(func(error) { reported.Add(1) }))
		ctx, cancel := context.WithCancel(context.Background())
		started := make(chan struct{})
		ex.Go(ctx, func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		})
		<-started
		cancel()
		shutdown(t, ex)
		if reported.Load() != 0 {
			t.Errorf("the handler was called %d times; want 0", reported.Load())
		}
		if s := ex.Stats(); s.Cancelled != 1 {
			t.Errorf("Stats().Cancelled = %d; want 1", s.Cancelled)
		}
	})

	t.Run("a panicking error handler does not stop the worker", func(t *testing.T) {
		old := slog.Default()
		slog.SetDefault(slog.New(slog.DiscardHandler))
		defer slog.SetDefault(old)
		ex := executor.New(executor.WithWorkers(1), executor.WithErrorHandler(func(error) { panic("handler") }))
		ex.Go(context.Background(), func(context.Context) error { return errBoom })
		if v, err := executor.Submit(context.Background(), ex, value(1)).Wait(context.Background()); v != 1 || err != nil {
			t.Errorf("Wait() = %v, %v; want 1, nil", v, err)
		}
		shutdown(t, ex)
	})

	t.Run("the task's ctx ends on ShutdownNow", func(t *testing.T) {
		for _, parent := range []context.Context{context.Background(), context.WithoutCancel(context.TODO())} {
			ctx, cancel := context.WithCancel(parent)
			for _, c := range []context.Context{parent, ctx} {
				ex := executor.New(executor.WithWorkers(1))
				started := make(chan struct{})
				var err error
				ex.Go(c, func(ctx context.Context) error {
					close(started)
					<-ctx.Done()
					err = ctx.Err()
					return err
				})
				<-started
				ex.ShutdownNow()
				if err != context.Canceled {
					t.Errorf("ctx.Err() after ShutdownNow = %v; want context.Canceled", err)
				}
				checkIdentity(t, ex.Stats())
			}
			cancel()
		}
	})

	t.Run("the task's ctx derives from Go's ctx, values and cause included", func(t *testing.T) {
		type key struct{}
		ex := executor.New(executor.WithWorkers(1))
		defer shutdown(t, ex)
		ctx, cancel := context.WithCancelCause(context.WithValue(context.Background(), key{}, "v"))
		started := make(chan struct{})
		type result struct {
			val   any
			err   error
			cause error
			child error
		}
		res := make(chan result, 1)
		ex.Go(ctx, func(ctx context.Context) error {
			child, stop := context.WithCancel(ctx)
			defer stop()
			if ctx.Err() != nil {
				t.Error("ctx.Err() != nil before cancellation")
			}
			close(started)
			<-ctx.Done()
			<-child.Done()
			res <- result{ctx.Value(key{}), ctx.Err(), context.Cause(ctx), child.Err()}
			return nil
		})
		<-started
		cancel(errBoom)
		r := <-res
		if r.val != "v" || r.err != context.Canceled || r.cause != errBoom || r.child != context.Canceled {
			t.Errorf("ctx gave value %v, Err %v, Cause %v, child Err %v; want v, Canceled, errBoom, Canceled", r.val, r.err, r.cause, r.child)
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestMap(t *testing.T) {
	square := func(_ context.Context, i int) (int, error) { return i * i, nil }

	t.Run("Map keeps input order and equals the sequential loop", func(t *testing.T) {
		for _, workers := range []int{1, 2, 3, 8} {
			ex := executor.New(executor.WithWorkers(workers), executor.WithQueueSize(2))
			for _, n := range []int{0, 1, 2, 7, 31, 100, 1000, 4099} {
				items := make([]int, n)
				want := make([]int, n)
				for i := range items {
					items[i] = i*7919%1000 - 500
					want[i], _ = square(context.Background(), items[i])
				}
				got, err := executor.Map(context.Background(), ex, items, square)
				if err != nil || len(got) != n {
					t.Fatalf("Map(%d items, %d workers) = len %d, %v; want len %d, nil", n, workers, len(got), err, n)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("Map(%d items, %d workers)[%d] = %d; want %d", n, workers, i, got[i], want[i])
					}
				}
			}
			shutdown(t, ex)
		}
	})

	t.Run("the first failure cancels the rest", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(2), executor.WithQueueSize(4))
		defer shutdown(t, ex)
		items := make([]int, 10000)
		var calls atomic.Int32
		var cancelled atomic.Int32
		out, err := executor.Map(context.Background(), ex, items, func(ctx context.Context, _ int) (int, error) {
			if calls.Add(1) == 10 {
				return 0, errBoom
			}
			if ctx.Err() != nil {
				cancelled.Add(1)
				return 0, context.Cause(ctx)
			}
			return 1, nil
		})
		if out != nil || err != errBoom {
			t.Errorf("Map() = %v, %v; want nil, errBoom alone (cancellations left out)", out, err)
		}
		if c := calls.Load(); c >= int32(len(items)) {
			t.Errorf("fn ran on all %d items after the first failure", c)
		}
	})

	t.Run("a panic becomes a PanicError", func(t *testing.T) {
		ex := executor.New()
		defer shutdown(t, ex)
		_, err := executor.Map(context.Background(), ex, []int{1, 2, 3}, func(_ context.Context, i int) (int, error) {
			if i == 2 {
				panic("two")
			}
			return i, nil
		})
		var pe *executor.PanicError
		if !errors.As(err, &pe) || pe.Value != "two" {
			t.Errorf("Map() error = %v; want a *PanicError with value two", err)
		}
	})

	t.Run("Map returns the cause when its ctx ends", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(2))
		defer shutdown(t, ex)
		ctx, cancel := context.WithCancelCause(context.Background())
		var once sync.Once
		out, err := executor.Map(ctx, ex, make([]int, 1000), func(ctx context.Context, _ int) (int, error) {
			once.Do(func() { cancel(errBoom) })
			return 0, ctx.Err()
		})
		if out != nil || err != errBoom {
			t.Errorf("Map() = %v, %v; want nil, errBoom", out, err)
		}
	})

	t.Run("ShutdownNow during Map returns ErrClosed", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(1), executor.WithQueueSize(100))
		started := make(chan struct{})
		var once sync.Once
		done := make(chan error)
		go func() {
			_, err := executor.Map(context.Background(), ex, make([]int, 100), func(ctx context.Context, _ int) (int, error) {
				once.Do(func() { close(started) })
				<-ctx.Done()
				return 0, ctx.Err()
			})
			done <- err
		}()
		<-started
		ex.ShutdownNow()
		if err := <-done; !errors.Is(err, executor.ErrClosed) {
			t.Errorf("Map() = %v; want ErrClosed", err)
		}
		checkIdentity(t, ex.Stats())
	})

	t.Run("a chunk cut short by ShutdownNow fails Map even if its calls succeeded", func(t *testing.T) {
		// One worker and eight items: four chunks of two, run in order. The
		// first call of the last chunk returns success after ShutdownNow has
		// cancelled its ctx; the chunk's second item never runs, so Map must
		// not return the output as complete.
		ex := executor.New(executor.WithWorkers(1), executor.WithQueueSize(8))
		started := make(chan struct{})
		type result struct {
			out []int
			err error
		}
		done := make(chan result)
		go func() {
			out, err := executor.Map(context.Background(), ex, []int{0, 1, 2, 3, 4, 5, 6, 7}, func(ctx context.Context, i int) (int, error) {
				if i == 6 {
					close(started)
					<-ctx.Done()
				}
				return i + 100, nil
			})
			done <- result{out, err}
		}()
		<-started
		ex.ShutdownNow()
		r := <-done
		if r.out != nil || !errors.Is(r.err, executor.ErrClosed) {
			t.Errorf("Map() = %v, %v; want nil and an error matching ErrClosed", r.out, r.err)
		}
		checkIdentity(t, ex.Stats())
	})
}

func TestBadInput(t *testing.T) {
	mustPanic := func(t *testing.T, want string, f func()) {
		t.Helper()
		defer func() {
			t.Helper()
			r := recover()
			if s, _ := r.(string); !strings.HasPrefix(s, want) {
				t.Errorf("panic = %v; want a message starting with %q", r, want)
			}
		}()
		f()
	}

	t.Run("New panics on options below 1, naming them", func(t *testing.T) {
		mustPanic(t, "executor: WithWorkers(0): ", func() { executor.New(executor.WithWorkers(0)) })
		mustPanic(t, "executor: WithQueueSize(-1): ", func() { executor.New(executor.WithQueueSize(-1)) })
		mustPanic(t, "executor: WithErrorHandler(nil): ", func() { executor.New(executor.WithErrorHandler(nil)) })
		mustPanic(t, "executor: nil Option passed to New", func() { executor.New(nil) })
	})

	t.Run("a nil fn fails the submit with an error naming it that matches ErrNilFunc", func(t *testing.T) {
		ex := executor.New()
		isNilFn := func(err error) bool {
			return err != nil && err.Error() == "executor: fn is nil" && errors.Is(err, executor.ErrNilFunc)
		}
		f := executor.Submit[int](context.Background(), ex, nil)
		if _, err := f.Wait(context.Background()); !isNilFn(err) || f.State() != executor.Failed {
			t.Errorf("Submit(nil fn): Wait() = %v, State() = %v; want %q matching ErrNilFunc, failed", err, f.State(), "executor: fn is nil")
		}
		if f, err := executor.TrySubmit[int](ex, nil); f != nil || !isNilFn(err) {
			t.Errorf("TrySubmit(nil fn) = %v, %v; want nil and ErrNilFunc", f, err)
		}
		if err := ex.Go(context.Background(), nil); !isNilFn(err) {
			t.Errorf("Go(nil fn) = %v; want ErrNilFunc", err)
		}
		if _, err := executor.Map[int, int](context.Background(), ex, []int{1}, nil); !isNilFn(err) {
			t.Errorf("Map(nil fn) = %v; want ErrNilFunc", err)
		}
		f = executor.Submit(context.Background(), nil, value(1))
		if _, err := f.Wait(context.Background()); err == nil || !strings.Contains(err.Error(), "nil *Executor") {
			t.Errorf("Submit(nil ex): Wait() = %v; want an error naming the executor", err)
		}
		f.Cancel()
		shutdown(t, ex)
		if s := ex.Stats(); s.Rejected != 3 {
			t.Errorf("Stats().Rejected = %d; want 3", s.Rejected)
		}
	})

	t.Run("a nil ctx panics naming the function called, and starts nothing", func(t *testing.T) {
		ex := executor.New()
		ran := false
		fn := func(context.Context) (int, error) { ran = true; return 1, nil }
		var nilCtx context.Context
		mustPanic(t, "executor: nil ctx passed to Submit", func() { executor.Submit(nilCtx, ex, fn) })
		mustPanic(t, "executor: nil ctx passed to Go", func() { ex.Go(nilCtx, func(context.Context) error { ran = true; return nil }) })
		mustPanic(t, "executor: nil ctx passed to Map", func() {
			executor.Map(nilCtx, ex, []int{1}, func(context.Context, int) (int, error) { ran = true; return 1, nil })
		})
		f, err := executor.TrySubmit(ex, value(1))
		if err != nil {
			t.Fatalf("TrySubmit() = %v; want nil", err)
		}
		mustPanic(t, "executor: nil ctx passed to Wait", func() { f.Wait(nilCtx) })
		mustPanic(t, "executor: nil ctx passed to Shutdown", func() { ex.Shutdown(nilCtx) })
		if _, err := executor.TrySubmit(ex, value(1)); err != nil {
			t.Errorf("TrySubmit() after Shutdown(nil) panicked = %v; want nil: the executor is not shut down", err)
		}
		shutdown(t, ex)
		if ran {
			t.Errorf("a function given with a nil ctx ran; want none to")
		}
		if s := ex.Stats(); s.Rejected != 0 {
			t.Errorf("Stats().Rejected = %d; want 0: a panic is not a rejection", s.Rejected)
		}
	})

	t.Run("the zero-config executor has GOMAXPROCS workers", func(t *testing.T) {
		ex := executor.New()
		if s := ex.Stats(); s.Workers != runtime.GOMAXPROCS(0) {
			t.Errorf("Stats().Workers = %d; want GOMAXPROCS = %d", s.Workers, runtime.GOMAXPROCS(0))
		}
		shutdown(t, ex)
	})

	t.Run("states have names", func(t *testing.T) {
		for st, want := range map[executor.State]string{
			executor.Pending: "pending", executor.Running: "running", executor.Succeeded: "succeeded",
			executor.Failed: "failed", executor.Cancelled: "cancelled",
		} {
			if got := st.String(); got != want {
				t.Errorf("State(%d).String() = %q; want %q", int(st), got, want)
			}
		}
	})
}

func TestTrySubmit(t *testing.T) {
	t.Run("an accepted TrySubmit returns a working future", func(t *testing.T) {
		ex := executor.New()
		defer shutdown(t, ex)
		f, err := executor.TrySubmit(ex, value(9))
		if err != nil {
			t.Fatalf("TrySubmit() error = %v; want nil", err)
		}
		if v, err := f.Wait(context.Background()); v != 9 || err != nil {
			t.Errorf("Wait() = %v, %v; want 9, nil", v, err)
		}
		if err := f.Err(); err != nil {
			t.Errorf("Err() = %v; want nil", err)
		}
	})
}

func TestGoContextReuse(t *testing.T) {
	t.Run("a ctx derived from a Go task's ctx ends on ShutdownNow", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(1))
		started := make(chan struct{})
		errc := make(chan error, 1)
		ex.Go(context.Background(), func(ctx context.Context) error {
			child, cancel := context.WithTimeout(ctx, time.Hour)
			defer cancel()
			close(started)
			<-child.Done()
			errc <- child.Err()
			return nil
		})
		<-started
		ex.ShutdownNow()
		if err := <-errc; err != context.Canceled {
			t.Errorf("child.Err() = %v; want context.Canceled", err)
		}
	})

	t.Run("each Go task on a worker sees its own ctx", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(1))
		defer shutdown(t, ex)
		for i := range 5 {
			ctx, cancel := context.WithCancel(context.Background())
			kept := make(chan context.Context, 1)
			done := make(chan struct{})
			ex.Go(ctx, func(ctx context.Context) error {
				defer close(done)
				if ctx.Err() != nil {
					t.Errorf("task %d: ctx.Err() = %v at start; want nil", i, ctx.Err())
				}
				if i%2 == 0 {
					_ = ctx.Done() // makes a merged channel; the ctx is then not reused
					kept <- ctx
				}
				return nil
			})
			<-done
			cancel()
			if i%2 == 0 {
				c := <-kept
				<-c.Done()
				if c.Err() != context.Canceled {
					t.Errorf("task %d: kept ctx Err() = %v after its parent ended; want context.Canceled", i, c.Err())
				}
			}
		}
	})
}

// watchCounter is a parent ctx that never ends and counts the callbacks
// registered on it through context.AfterFunc and not yet stopped: what a
// task's ctx must drop when the task ends. It is no *cancelCtx, so the
// context package registers through its AfterFunc method.
type watchCounter struct {
	live atomic.Int32
}

func (*watchCounter) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*watchCounter) Done() <-chan struct{}       { return make(chan struct{}) }
func (*watchCounter) Err() error                  { return nil }
func (*watchCounter) Value(any) any               { return nil }

func (c *watchCounter) AfterFunc(func()) func() bool {
	c.live.Add(1)
	var stopped atomic.Bool
	return func() bool {
		if stopped.CompareAndSwap(false, true) {
			c.live.Add(-1)
			return true
		}
		return false
	}
}

func TestContextRegistrations(t *testing.T) {
	t.Run("a task that watched a long-lived ctx leaves nothing registered on it", func(t *testing.T) {
		parent := &watchCounter{}
		ex := executor.New(executor.WithWorkers(2))
		watch := func(ctx context.Context) error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			default:
				return nil
			}
		}
		var fs []*executor.Future[int]
		for range 20 {
			if err := ex.Go(parent, watch); err != nil {
				t.Fatal(err)
			}
			fs = append(fs, executor.Submit(parent, ex, func(ctx context.Context) (int, error) { return 0, watch(ctx) }))
		}
		shutdown(t, ex)
		for _, f := range fs {
			f.Wait(context.Background())
		}
		if n := parent.live.Load(); n != 0 {
			t.Errorf("%d callbacks still registered on the parent ctx after every task ended; want 0", n)
		}
	})
}

// FuzzMap checks that Map equals the sequential loop for any size, worker
// count and queue size.
func FuzzMap(f *testing.F) {
	f.Add(uint16(0), uint8(1), uint8(1))
	f.Add(uint16(1), uint8(3), uint8(1))
	f.Add(uint16(17), uint8(2), uint8(2))
	f.Add(uint16(1000), uint8(4), uint8(3))
	f.Add(uint16(4097), uint8(7), uint8(64))
	f.Fuzz(func(t *testing.T, n uint16, workers, queue uint8) {
		ex := executor.New(executor.WithWorkers(int(workers%16)+1), executor.WithQueueSize(int(queue)+1))
		defer shutdown(t, ex)
		items := make([]int, n)
		for i := range items {
			items[i] = i * 31
		}
		got, err := executor.Map(context.Background(), ex, items, func(_ context.Context, v int) (string, error) {
			return fmt.Sprint(v), nil
		})
		if err != nil || len(got) != len(items) {
			t.Fatalf("Map() = len %d, %v; want len %d, nil", len(got), err, len(items))
		}
		for i, v := range items {
			if got[i] != fmt.Sprint(v) {
				t.Fatalf("Map()[%d] = %q; want %q", i, got[i], fmt.Sprint(v))
			}
		}
	})
}

// TestGoInBursts submits tiny Go tasks in bursts of one to three and waits
// for each burst, so the workers run out of work, park and are woken tens
// of thousands of times: a lost wake-up hangs it (the test's timeout).
func TestGoInBursts(t *testing.T) {
	ex := executor.New(executor.WithWorkers(2), executor.WithQueueSize(4))
	defer shutdown(t, ex)
	var wg sync.WaitGroup
	task := func(context.Context) error { wg.Done(); return nil }
	for i := range 50_000 {
		n := 1 + i%3
		wg.Add(n)
		for range n {
			if err := ex.Go(context.Background(), task); err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
	}
}

// An executor dropped without Shutdown is collected (its workers do not
// keep it alive), and is then closed as Shutdown closes it: the running
// task is not cancelled, the queued one still runs, and then no goroutine
// of it is left.
func TestDroppedExecutorIsClosed(t *testing.T) {
	before := goleak.IgnoreCurrent()
	handle, release, ranQueued, cancelled := dropExecutor()
	deadline := time.After(10 * time.Second)
	for handle.Value() != nil {
		runtime.GC()
		select {
		case <-deadline:
			t.Fatal("the dropped executor was never collected")
		case <-time.After(5 * time.Millisecond):
		}
	}
	select {
	case <-ranQueued:
		t.Fatal("the queued task ran before the running one returned (one worker)")
	default:
	}
	close(release)
	select {
	case <-ranQueued:
	case <-time.After(10 * time.Second):
		t.Fatal("the queued task of the dropped executor never ran")
	}
	goleak.VerifyNone(t, before) // the worker exits: the executor was closed
	if cancelled.Load() {
		t.Error("the running task saw its ctx end; dropping the handle must not cancel accepted work")
	}
}

//go:noinline
func dropExecutor() (handle weak.Pointer[executor.Executor], release, ranQueued chan struct{}, cancelled *atomic.Bool) {
	ex := executor.New(executor.WithWorkers(1), executor.WithQueueSize(4))
	started := make(chan struct{})
	release, ranQueued, cancelled = make(chan struct{}), make(chan struct{}), new(atomic.Bool)
	ex.Go(context.Background(), func(ctx context.Context) error {
		close(started)
		select {
		case <-release:
		case <-ctx.Done():
			cancelled.Store(true)
			<-release
		}
		return nil
	})
	<-started
	ex.Go(context.Background(), func(ctx context.Context) error { close(ranQueued); return nil })
	return weak.Make(ex), release, ranQueued, cancelled
}
