package limit_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/limit"
)

func TestNewBulkheadBadInput(t *testing.T) {
	mustPanic(t, "n must be >= 1", func() { limit.NewBulkhead(0) })
	mustPanic(t, "n must be >= 1", func() { limit.NewBulkhead(-3) })
	mustPanic(t, "WithMaxWaiting", func() { limit.WithMaxWaiting(-1) })
	mustPanic(t, "nil Option given to the bulkhead", func() { limit.NewBulkhead(1, nil) })
}

// hold takes a slot of b through Acquire and fails the test if it cannot.
func hold(t *testing.T, b *limit.Bulkhead) limit.Permit {
	t.Helper()
	p, err := b.Acquire(t.Context())
	if err != nil {
		t.Fatalf("Acquire() = %v; want a permit", err)
	}
	return p
}

func TestBulkheadLimits(t *testing.T) {
	t.Run("at most n hold a slot; waiters are served first come first served", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := limit.NewBulkhead(2)
			p1, p2 := hold(t, b), hold(t, b)
			if _, ok := b.TryAcquire(); ok {
				t.Fatal("TryAcquire() with every slot held = true; want false")
			}
			var (
				order []int
				mu    sync.Mutex
				wg    sync.WaitGroup
			)
			admitted := func() []int {
				mu.Lock()
				defer mu.Unlock()
				return append([]int(nil), order...)
			}
			leave := make(chan struct{}) // closed to let the admitted waiters release
			for i := range 3 {
				wg.Go(func() {
					p, err := b.Acquire(t.Context())
					if err != nil {
						t.Errorf("waiter %d: Acquire() = %v", i, err)
						return
					}
					mu.Lock()
					order = append(order, i)
					mu.Unlock()
					<-leave
					b.Release(p, limit.Success)
				})
				synctest.Wait() // waiter i is in line before waiter i+1
			}
			if s := b.Stats(); s.InFlight != 2 || s.Queued != 3 || s.Limit != 2 {
				t.Errorf("Stats() = %+v; want Limit 2, InFlight 2, Queued 3", s)
			}
			// Each slot freed goes to the earliest waiter still in line,
			// not to a later one, nor to a TryAcquire arriving after it.
			for i, p := range []limit.Permit{p1, p2} {
				b.Release(p, limit.Success)
				if p, ok := b.TryAcquire(); ok {
					b.Release(p, limit.Success)
					t.Errorf("TryAcquire() just after release %d, with waiters in line = true; want false (no jumping the line)", i+1)
				}
				synctest.Wait()
				if got, want := admitted(), []int{0, 1}[:i+1]; !slices.Equal(got, want) {
					t.Errorf("admitted after %d releases = %v; want %v", i+1, got, want)
				}
			}
			close(leave)
			wg.Wait()
			if got, want := admitted(), []int{0, 1, 2}; !slices.Equal(got, want) {
				t.Errorf("admission order = %v; want %v", got, want)
			}
			if s := b.Stats(); s.InFlight != 0 || s.Queued != 0 {
				t.Errorf("Stats() at the end = %+v; want nothing held or queued", s)
			}
		})
	})
	t.Run("WithMaxWaiting rejects the one too many at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := limit.NewBulkhead(1, limit.WithMaxWaiting(1), limit.WithName("db"))
			p := hold(t, b)
			go func() {
				if p, err := b.Acquire(t.Context()); err == nil {
					b.Release(p, limit.Success)
				}
			}()
			synctest.Wait()
			_, err := b.Acquire(t.Context())
			var re *limit.RejectedError
			if !errors.As(err, &re) || !errors.Is(err, limit.ErrRejected) || re.Limiter != "db" || re.RetryAfter() != 0 {
				t.Fatalf("Acquire() past the queue bound = %#v; want a rejection by \"db\", RetryAfter 0", err)
			}
			if !strings.Contains(err.Error(), "too many waiting") {
				t.Errorf("Error() = %q; want it to say why", err)
			}
			if got := b.Stats().Rejected; got != 1 {
				t.Errorf("Stats().Rejected = %d; want 1", got)
			}
			b.Release(p, limit.Success)
		})
	})
	t.Run("WithMaxWaiting(0) rejects whatever cannot run at once", func(t *testing.T) {
		b := limit.NewBulkhead(1, limit.WithMaxWaiting(0))
		p := hold(t, b)
		if err := b.Do(t.Context(), func(context.Context) error { return nil }); !errors.Is(err, limit.ErrRejected) {
			t.Errorf("Do() = %v; want ErrRejected", err)
		}
		b.Release(p, limit.Success)
	})
	t.Run("WithMaxWait rejects a waiter after the wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := limit.NewBulkhead(1, limit.WithMaxWait(50*time.Millisecond))
			p := hold(t, b)
			start := time.Now()
			_, err := b.Acquire(t.Context())
			if !errors.Is(err, limit.ErrRejected) || time.Since(start) != 50*time.Millisecond {
				t.Fatalf("Acquire() = %v after %v; want ErrRejected after 50ms", err, time.Since(start))
			}
			if s := b.Stats(); s.Queued != 0 || s.Rejected != 1 {
				t.Errorf("Stats() = %+v; want Queued 0, Rejected 1", s)
			}
			b.Release(p, limit.Success)
			// A waiter served within the bound is admitted.
			p = hold(t, b)
			go func() {
				time.Sleep(49 * time.Millisecond)
				b.Release(p, limit.Success)
			}()
			p2, err := b.Acquire(t.Context())
			if err != nil {
				t.Fatalf("Acquire() served after 49ms = %v; want a permit", err)
			}
			b.Release(p2, limit.Success)
		})
	})
	t.Run("WithMaxWait(0) never waits", func(t *testing.T) {
		b := limit.NewBulkhead(1, limit.WithMaxWait(0))
		p := hold(t, b)
		if _, err := b.Acquire(t.Context()); !errors.Is(err, limit.ErrRejected) {
			t.Errorf("Acquire() = %v; want ErrRejected", err)
		}
		b.Release(p, limit.Success)
	})
	t.Run("an option for rate limiters does not apply", func(t *testing.T) {
		// every bulkhead option applies; WithName applies everywhere
		b := limit.NewBulkhead(1, limit.WithName("x"), limit.WithMaxWait(time.Second), limit.WithMaxWaiting(2))
		if b.Stats().Limit != 1 {
			t.Error("NewBulkhead with every option failed")
		}
	})
}

func TestBulkheadCancellation(t *testing.T) {
	t.Run("a done ctx is not admitted even with a free slot", func(t *testing.T) {
		b := limit.NewBulkhead(1)
		cause := errors.New("gone")
		ctx, cancel := context.WithCancelCause(t.Context())
		cancel(cause)
		if _, err := b.Acquire(ctx); err != cause {
			t.Fatalf("Acquire(done ctx) = %v; want its cause", err)
		}
		called := false
		if err := b.Do(ctx, func(context.Context) error { called = true; return nil }); err != cause || called {
			t.Fatalf("Do(done ctx) = %v, called %v; want its cause, not called", err, called)
		}
		if s := b.Stats(); s.InFlight != 0 || s.Rejected != 0 {
			t.Errorf("Stats() = %+v; want nothing held, no rejection", s)
		}
	})
	t.Run("a waiter whose ctx ends returns its cause and leaves the line", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := limit.NewBulkhead(1)
			p := hold(t, b)
			cause := errors.New("caller left")
			ctx, cancel := context.WithCancelCause(t.Context())
			errc := make(chan error)
			go func() { _, err := b.Acquire(ctx); errc <- err }()
			synctest.Wait()
			cancel(cause)
			if err := <-errc; err != cause {
				t.Fatalf("Acquire() = %v; want the cause", err)
			}
			if s := b.Stats(); s.Queued != 0 || s.Rejected != 0 {
				t.Errorf("Stats() = %+v; want nobody queued, no rejection", s)
			}
			b.Release(p, limit.Success)
		})
	})
	t.Run("an earlier cancellation wins over a slot freed at the same instant", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			for range 50 { // the select inside sees both ready; whichever it picks, the cancelled waiter must lose
				b := limit.NewBulkhead(1)
				p := hold(t, b)
				ctx, cancel := context.WithCancel(t.Context())
				first := make(chan error)
				go func() {
					p, err := b.Acquire(ctx)
					if err == nil {
						b.Release(p, limit.Success)
					}
					first <- err
				}()
				synctest.Wait()
				second := make(chan error)
				go func() {
					p, err := b.Acquire(t.Context())
					if err == nil {
						b.Release(p, limit.Success)
					}
					second <- err
				}()
				synctest.Wait()
				cancel()
				b.Release(p, limit.Success) // before the first waiter has run again
				if err := <-first; !errors.Is(err, context.Canceled) {
					t.Fatalf("the cancelled waiter's Acquire() = %v; want context.Canceled", err)
				}
				if err := <-second; err != nil {
					t.Fatalf("the next waiter's Acquire() = %v; want the freed slot", err)
				}
			}
		})
	})
	t.Run("a max wait that ends with the caller's ctx reports the caller's cause", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := limit.NewBulkhead(1, limit.WithMaxWait(time.Second))
			p := hold(t, b)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
			defer cancel()
			if _, err := b.Acquire(ctx); err != context.DeadlineExceeded {
				t.Fatalf("Acquire() = %v; want context.DeadlineExceeded", err)
			}
			b.Release(p, limit.Success)
		})
	})
}

func TestBulkheadDo(t *testing.T) {
	b := limit.NewBulkhead(1)
	if err := b.Do(t.Context(), nil); err != limit.ErrNilFunc {
		t.Errorf("Do(nil) = %v; want ErrNilFunc", err)
	}
	err := b.Do(t.Context(), func(context.Context) error { panic("boom") })
	var pe *limit.PanicError
	if !errors.As(err, &pe) {
		t.Errorf("Do(panicking fn) = %v; want *PanicError", err)
	}
	if s := b.Stats(); s.InFlight != 0 {
		t.Errorf("Stats() after a panic = %+v; want the slot freed", s)
	}
	errX := errors.New("x")
	if err := b.Do(t.Context(), func(context.Context) error { return errX }); err != errX {
		t.Errorf("Do() = %v; want fn's error", err)
	}
}

func TestBulkheadReleaseMisuse(t *testing.T) {
	b := limit.NewBulkhead(2)
	p := hold(t, b)
	b.Release(p, limit.Success)
	mustPanic(t, "released twice", func() { b.Release(p, limit.Success) })
	mustPanic(t, "released twice", func() { b.Release(limit.Permit{}, limit.Success) })
	// A stale copy stays stale after its slot is reused.
	p2 := hold(t, b)
	mustPanic(t, "released twice", func() { b.Release(p, limit.Success) })
	b.Release(p2, limit.Success)
	if s := b.Stats(); s.InFlight != 0 {
		t.Errorf("Stats() = %+v; want nothing held (a refused release frees nothing)", s)
	}
	if p, ok := b.TryAcquire(); !ok {
		t.Error("TryAcquire() = false; want true")
	} else {
		b.Release(p, limit.Success)
	}
}

// TestBulkheadProperty drives a bulkhead from many goroutines with random
// waits, cancellations and bounds, and checks the invariants that hold for
// every interleaving: no more than n run at once, every admitted call is
// released (all n slots are free at the end), and admitted + rejected +
// cancelled = attempted.
func TestBulkheadProperty(t *testing.T) {
	for seed := range 20 {
		n := 1 + seed%4
		var opts []limit.Option
		if seed%3 == 0 {
			opts = append(opts, limit.WithMaxWaiting(seed%5))
		}
		if seed%2 == 0 {
			opts = append(opts, limit.WithMaxWait(time.Duration(seed%3)*time.Millisecond))
		}
		b := limit.NewBulkhead(n, opts...)
		var active, peak, admitted, rejected, cancelled atomic.Int64
		var wg sync.WaitGroup
		const workers, calls = 8, 50
		for w := range workers {
			wg.Go(func() {
				for i := range calls {
					ctx, cancel := context.WithCancel(context.Background())
					if (w+i+seed)%7 == 0 {
						go cancel() // races with the acquisition
					}
					run := func(context.Context) error {
						a := active.Add(1)
						for {
							p := peak.Load()
							if a <= p || peak.CompareAndSwap(p, a) {
								break
							}
						}
						if a > int64(n) {
							t.Errorf("seed %d: %d running; limit %d", seed, a, n)
						}
						if i%3 == 0 {
							time.Sleep(time.Duration(i%4) * 100 * time.Microsecond)
						}
						active.Add(-1)
						return nil
					}
					var err error
					if i%2 == 0 {
						err = b.Do(ctx, run)
					} else {
						var p limit.Permit
						if p, err = b.Acquire(ctx); err == nil {
							err = run(ctx)
							b.Release(p, limit.OutcomeOf(ctx, err))
						}
					}
					switch {
					case err == nil:
						admitted.Add(1)
					case errors.Is(err, limit.ErrRejected):
						rejected.Add(1)
					case errors.Is(err, context.Canceled):
						cancelled.Add(1)
					default:
						t.Errorf("seed %d: unexpected error %v", seed, err)
					}
					cancel()
				}
			})
		}
		wg.Wait()
		if got := admitted.Load() + rejected.Load() + cancelled.Load(); got != workers*calls {
			t.Errorf("seed %d: admitted+rejected+cancelled = %d; want %d", seed, got, workers*calls)
		}
		if s := b.Stats(); s.InFlight != 0 || s.Queued != 0 || s.Rejected != uint64(rejected.Load()) {
			t.Errorf("seed %d: Stats() = %+v; want nothing held or queued, Rejected %d", seed, s, rejected.Load())
		}
		held := make([]limit.Permit, 0, n)
		for range n {
			p, ok := b.TryAcquire()
			if !ok {
				t.Fatalf("seed %d: only %d of %d slots free at the end: an admitted call was not released", seed, len(held), n)
			}
			held = append(held, p)
		}
		for _, p := range held {
			b.Release(p, limit.Success)
		}
	}
}
