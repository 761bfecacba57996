package executor_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/executor"
)

// TestGoCtxOutlivedByTheContextPackage covers a fire-and-forget task that
// derives a ctx from a wrapper of its own (context.WithValue, then
// WithCancel or AfterFunc) and returns without cancelling it. The context
// package cannot register with a parent it does not know, so it starts a
// goroutine that asks the task's ctx for Done when it gets to run (perhaps
// after the task returned) and for Err and Cause when that channel closes.
// That goroutine must not race with the worker reusing the ctx for its next
// tasks, and must not be woken by the end of a later task's parent.
func TestGoCtxOutlivedByTheContextPackage(t *testing.T) {
	type key struct{}

	t.Run("the late reader does not race with the next tasks", func(t *testing.T) {
		// Run under -race: the fire-and-forget ctx was rewritten by the
		// next task's Start while the context package's goroutine read it.
		ex := executor.New(executor.WithWorkers(2))
		live, cancelLive := context.WithCancel(context.Background())
		defer cancelLive()
		const n = 2000
		type derivedCtx struct {
			d         context.Context
			cancel    func()
			stoppable bool // its parent never ends: ShutdownNow must end it
		}
		var (
			mu      sync.Mutex
			derived []derivedCtx
			wg      sync.WaitGroup
			fired   sync.WaitGroup // the AfterFunc callbacks ShutdownNow must run
		)
		wg.Add(n)
		for i := range n {
			parent := context.Background()
			if i%4 == 3 {
				parent = live // a later task whose parent can end
			}
			stoppable := parent == context.Background()
			if stoppable && i%2 == 1 {
				fired.Add(1)
			}
			err := ex.Go(parent, func(ctx context.Context) error {
				defer wg.Done()
				dc := derivedCtx{stoppable: stoppable}
				if i%2 == 0 {
					var cancel context.CancelFunc
					dc.d, cancel = context.WithCancel(context.WithValue(ctx, key{}, i))
					dc.cancel = cancel
				} else {
					dc.d = context.WithValue(ctx, key{}, i)
					f := func() {}
					if stoppable {
						f = fired.Done
					}
					stop := context.AfterFunc(dc.d, f)
					dc.cancel = func() { stop() }
				}
				mu.Lock()
				derived = append(derived, dc)
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Fatalf("Go() = %v; want nil", err)
			}
		}
		wg.Wait()
		for _, dc := range derived {
			if dc.d.Value(key{}) == nil {
				t.Fatalf("Value(key) = nil on a derived ctx; want the task's")
			}
		}
		ex.ShutdownNow() // the late readers now ask for Err and Cause
		if err := ex.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown() = %v; want nil", err)
		}
		for _, dc := range derived {
			if _, ok := dc.d.Deadline(); ok {
				t.Errorf("Deadline() set on a derived ctx; want none")
			}
		}
		// What derives from a ctx over a parent that never ends ends with
		// ShutdownNow, however late the context package's goroutine got to
		// it. (One over a parent that can end is not woken by it once its
		// task returned: a retired ctx's merged Done channel stops watching
		// then, and the context package's goroutine holds that channel.
		// The cancels below end those.)
		allFired := make(chan struct{})
		go func() { fired.Wait(); close(allFired) }()
		bound := time.After(10 * time.Second) // a bound on a hang, not an ordering
		select {
		case <-allFired:
		case <-bound:
			t.Fatalf("an AfterFunc on a derived ctx did not run on ShutdownNow")
		}
		for _, dc := range derived {
			if !dc.stoppable {
				continue
			}
			select {
			case <-dc.d.Done():
			case <-bound:
				t.Fatalf("a derived ctx did not end on ShutdownNow")
			}
			if err := dc.d.Err(); err != context.Canceled {
				t.Errorf("Err() = %v on a derived ctx after ShutdownNow; want context.Canceled", err)
			}
		}
		// goleak checks that every goroutine the context package started
		// has returned.
		for _, dc := range derived {
			dc.cancel()
		}
	})

	t.Run("a later task's parent does not end what an earlier task derived", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ex := executor.New(executor.WithWorkers(1))
			derivedCh := make(chan context.Context, 1)
			var cancelD context.CancelFunc // called at the end: the task leaves its ctx live
			ex.Go(context.Background(), func(ctx context.Context) error {
				var d context.Context
				d, cancelD = context.WithCancel(context.WithValue(ctx, key{}, 1))
				derivedCh <- d
				return nil
			})
			errLater := errors.New("the later task's parent ended")
			later, cancelLater := context.WithCancelCause(context.Background())
			waiting, started, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
			ex.Go(later, func(ctx context.Context) error {
				done := ctx.Done()
				close(waiting)
				<-done // closed by cancelLater
				return nil
			})
			ex.Go(context.Background(), func(ctx context.Context) error {
				close(started)
				<-release
				return nil
			})
			d := <-derivedCh
			<-waiting
			cancelLater(errLater) // ends the second task
			<-started
			synctest.Wait() // the derived ctx's watcher has run, while a later task holds the worker
			if cause := context.Cause(d); errors.Is(cause, errLater) {
				t.Errorf("Cause() = %v: a later task's parent ended a ctx an earlier task derived", cause)
			}
			// A ctx over a parent that never ends is live until ShutdownNow,
			// during later tasks and between them.
			if err := d.Err(); err != nil {
				t.Errorf("Err() = %v during a later task; want nil (only ShutdownNow ends it)", err)
			}
			close(release)
			synctest.Wait()
			if err := d.Err(); err != nil {
				t.Errorf("Err() = %v between tasks; want nil", err)
			}
			ex.ShutdownNow()
			<-d.Done()
			if err := d.Err(); err != context.Canceled {
				t.Errorf("Err() = %v after ShutdownNow; want context.Canceled", err)
			}
			if err := ex.Shutdown(context.Background()); err != nil {
				t.Fatalf("Shutdown() = %v; want nil", err)
			}
			cancelD()
		})
	})
}

// TestGoCtxDoneCostsNothing checks that a fire-and-forget task costs no
// allocation, nor does one that selects on its ctx's Done over a parent
// that never ends: that ctx is reused from one task to the next.
func TestGoCtxDoneCostsNothing(t *testing.T) {
	if testing.CoverMode() != "" || raceOn {
		t.Skip("allocation counts differ under -cover and -race")
	}
	ex := executor.New(executor.WithWorkers(1))
	defer ex.Shutdown(context.Background())
	ctx := context.Background()
	done := make(chan struct{}, 1)
	plain := func(context.Context) error { done <- struct{}{}; return nil }
	selects := func(ctx context.Context) error {
		select {
		case <-ctx.Done():
		default:
		}
		done <- struct{}{}
		return nil
	}
	for _, c := range []struct {
		name string
		fn   func(context.Context) error
	}{{"a task that ignores its ctx", plain}, {"a task that selects on ctx.Done()", selects}} {
		n := testing.AllocsPerRun(1000, func() {
			if err := ex.Go(ctx, c.fn); err != nil {
				t.Fatalf("Go() = %v; want nil", err)
			}
			<-done
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per Go; want 0", c.name, n)
		}
	}
}

// BenchmarkGoCtx runs fire-and-forget tasks under context.Background(), one
// at a time on one worker, that use their ctx in three ways: not at all,
// a select on Done, and a ctx derived from a wrapper (the context package
// then starts a goroutine; it is stopped before the task returns).
func BenchmarkGoCtx(b *testing.B) {
	type key struct{}
	ex := executor.New(executor.WithWorkers(1))
	defer ex.Shutdown(context.Background())
	ctx := context.Background()
	done := make(chan struct{}, 1)
	for _, c := range []struct {
		name string
		fn   func(context.Context) error
	}{
		{"Ignores", func(context.Context) error { done <- struct{}{}; return nil }},
		{"SelectsDone", func(ctx context.Context) error {
			select {
			case <-ctx.Done():
			default:
			}
			done <- struct{}{}
			return nil
		}},
		{"DerivesFromWrapper", func(ctx context.Context) error {
			_, cancel := context.WithCancel(context.WithValue(ctx, key{}, 1))
			cancel()
			done <- struct{}{}
			return nil
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ex.Go(ctx, c.fn)
				<-done
			}
		})
	}
}
