package limit_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/limit"
)

// service is a simulated server inside a synctest bubble: workers slots
// (0: no bound) and a service time that can change. A call waits for a
// worker, sleeps the service time, and gives up when ctx ends.
type service struct {
	workers chan struct{} // nil: unbounded
	svc     atomic.Int64  // ns
}

func newService(workers int, svc time.Duration) *service {
	s := &service{}
	if workers > 0 {
		s.workers = make(chan struct{}, workers)
	}
	s.svc.Store(int64(svc))
	return s
}

func (s *service) call(ctx context.Context) error {
	if s.workers != nil {
		select {
		case s.workers <- struct{}{}:
			defer func() { <-s.workers }()
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	select {
	case <-time.After(time.Duration(s.svc.Load())):
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// closedLoop runs callers goroutines that call s through a until ctx ends;
// a rejected caller backs off 5 ms.
func closedLoop(ctx context.Context, wg *sync.WaitGroup, a *limit.Adaptive, s *service, callers int) {
	for range callers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := a.Do(ctx, s.call); errors.Is(err, limit.ErrRejected) {
					select {
					case <-time.After(5 * time.Millisecond):
					case <-ctx.Done():
					}
				}
			}
		})
	}
}

func TestNewAdaptiveBadInput(t *testing.T) {
	mustPanic(t, "min must be >= 1", func() { limit.WithLimits(0, 1, 2) })
	mustPanic(t, "min must be <= max", func() { limit.WithLimits(5, 5, 4) })
	mustPanic(t, "initial must be within", func() { limit.WithLimits(2, 1, 4) })
	mustPanic(t, "initial must be within", func() { limit.WithLimits(2, 5, 4) })
	mustPanic(t, "WithLimits does not apply to a bulkhead", func() { limit.NewBulkhead(1, limit.WithLimits(1, 1, 1)) })
	mustPanic(t, "nil Option given to the adaptive limiter", func() { limit.NewAdaptive(nil) })
	var nilCtx context.Context // a nil ctx is the caller's bug
	mustPanic(t, "nil ctx", func() { limit.NewAdaptive().Acquire(nilCtx) })
	if err := limit.NewAdaptive().Do(t.Context(), nil); !errors.Is(err, limit.ErrNilFunc) {
		t.Errorf("Do(nil) = %v; want ErrNilFunc", err)
	}
	a := limit.NewAdaptive()
	p, err := a.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	a.Release(p, limit.Success)
	mustPanic(t, "released twice", func() { a.Release(p, limit.Success) })
}

func TestAdaptiveLimit(t *testing.T) {
	t.Run("the limit grows while latency stays low", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a := limit.NewAdaptive(limit.WithLimits(1, 4, 64))
			s := newService(0, 10*time.Millisecond) // latency never depends on load
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			var wg sync.WaitGroup
			closedLoop(ctx, &wg, a, s, 48)
			wg.Wait()
			cancel()
			if got := a.Stats().Limit; got < 40 {
				t.Errorf("Stats().Limit = %d after 20 s of flat latency under 48 callers; want >= 40", got)
			}
		})
	})

	t.Run("the limit shrinks to the service's concurrency when calls queue", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a := limit.NewAdaptive(limit.WithLimits(1, 40, 100))
			s := newService(4, 10*time.Millisecond) // 4 workers: past 4, calls queue
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			var wg sync.WaitGroup
			closedLoop(ctx, &wg, a, s, 60)
			wg.Wait()
			cancel()
			// A cold start under overload never sees the latency without
			// queue, so the baseline can hold up to one service time of
			// queue: at most twice the workers.
			if got := a.Stats().Limit; got < 4 || got > 8 {
				t.Errorf("Stats().Limit = %d after 20 s against 4 workers, from 40; want 4..8", got)
			}
		})
	})

	t.Run("a slower service is not mistaken for queueing", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// 8 workers; the service time goes from 10 ms to 40 ms and
			// stays there. Plain Vegas (a baseline of the lowest latency
			// ever seen) reads 3 calls of queue per call and cuts to 1/4.
			a := limit.NewAdaptive()
			s := newService(8, 10*time.Millisecond)
			ctx, cancel := context.WithTimeout(t.Context(), 65*time.Second)
			var wg sync.WaitGroup
			closedLoop(ctx, &wg, a, s, 40)
			time.Sleep(5 * time.Second)
			if got := a.Stats().Limit; got < 8 || got > 16 {
				t.Errorf("Stats().Limit = %d at 10 ms against 8 workers; want 8..16", got)
			}
			s.svc.Store(int64(40 * time.Millisecond))
			time.Sleep(2 * time.Second) // the probe: one window may dip below 8
			lowest := 1 << 30
			for range 5800 {
				time.Sleep(10 * time.Millisecond)
				lowest = min(lowest, a.Stats().Limit)
			}
			wg.Wait()
			cancel()
			if lowest < 8 {
				t.Errorf("lowest limit in the 58 s after the slowdown settled = %d; want >= 8 (the workers)", lowest)
			}
			if got := a.Stats().Limit; got > 16 {
				t.Errorf("Stats().Limit = %d at 40 ms; want <= 16 (8 workers and a short queue)", got)
			}
		})
	})

	t.Run("the limit never leaves [min, max]", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a := limit.NewAdaptive(limit.WithLimits(3, 5, 7))
			fast, queueing := newService(0, 5*time.Millisecond), newService(1, 20*time.Millisecond)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			var wg sync.WaitGroup
			closedLoop(ctx, &wg, a, fast, 20)
			closedLoop(ctx, &wg, a, queueing, 20)
			for ctx.Err() == nil {
				if got := a.Stats().Limit; got < 3 || got > 7 {
					t.Fatalf("Stats().Limit = %d; want within [3, 7]", got)
				}
				time.Sleep(time.Millisecond)
			}
			wg.Wait()
			cancel()
		})
	})
}

func TestAdaptiveRejection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := limit.NewAdaptive(limit.WithLimits(2, 2, 2), limit.WithMaxWaiting(0), limit.WithName("api"))
		s := newService(0, 50*time.Millisecond)
		// Enough calls to measure a window of latency.
		for range 30 {
			if err := a.Do(t.Context(), s.call); err != nil {
				t.Fatal(err)
			}
		}
		p1, _ := a.Acquire(t.Context())
		p2, _ := a.Acquire(t.Context())
		_, err := a.Acquire(t.Context())
		var rej *limit.RejectedError
		if !errors.As(err, &rej) || !errors.Is(err, limit.ErrRejected) {
			t.Fatalf("Acquire() on a full limiter = %v; want a *RejectedError matching ErrRejected", err)
		}
		if rej.Limiter != "api" || rej.RetryAfter() < 50*time.Millisecond || rej.RetryAfter() > 60*time.Millisecond {
			t.Errorf("rejection = %q, RetryAfter %v; want limiter \"api\" and about the 50 ms latency", rej.Limiter, rej.RetryAfter())
		}
		if st := a.Stats(); st.Rejected == 0 || st.InFlight != 2 || st.Queued != 0 {
			t.Errorf("Stats() = %+v; want Rejected > 0, InFlight 2, Queued 0", st)
		}
		a.Release(p1, limit.Success)
		a.Release(p2, limit.Success)
	})
}

// acquireAsync starts an Acquire with priority p and returns where its
// result will arrive.
func acquireAsync(ctx context.Context, a *limit.Adaptive, p limit.Priority) chan error {
	ch := make(chan error, 1)
	go func() {
		pm, err := a.Acquire(limit.WithPriority(ctx, p))
		if err == nil {
			a.Release(pm, limit.Ignored)
		}
		ch <- err
	}()
	return ch
}

func TestAdaptivePriorities(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// One slot, a queue of 5, waits bounded by ctx only.
		a := limit.NewAdaptive(limit.WithLimits(1, 1, 1), limit.WithMaxWaiting(5), limit.WithMaxWait(time.Hour))
		held, err := a.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// The lowest priority may fill a fifth of the queue: one waiter.
		low := acquireAsync(t.Context(), a, limit.Lowest)
		synctest.Wait()
		if err := <-acquireAsync(t.Context(), a, limit.Lowest); !errors.Is(err, limit.ErrRejected) {
			t.Fatalf("a second Lowest waiter: Acquire() = %v; want rejected at once", err)
		}
		// Normal may fill three fifths: two more.
		normal1 := acquireAsync(t.Context(), a, limit.Normal)
		synctest.Wait()
		normal2 := acquireAsync(t.Context(), a, limit.Normal)
		synctest.Wait()
		if err := <-acquireAsync(t.Context(), a, limit.Normal); !errors.Is(err, limit.ErrRejected) {
			t.Fatalf("a third Normal waiter with 3 queued: Acquire() = %v; want rejected", err)
		}
		high := acquireAsync(t.Context(), a, limit.High) // 4/5 of the queue: room
		synctest.Wait()
		highest := acquireAsync(t.Context(), a, limit.Highest) // fills the queue
		synctest.Wait()
		if got := a.Stats().Queued; got != 5 {
			t.Fatalf("Stats().Queued = %d; want 5", got)
		}
		// A full queue: a High caller displaces the Lowest waiter.
		high2 := acquireAsync(t.Context(), a, limit.High)
		synctest.Wait()
		select {
		case err := <-low:
			if !errors.Is(err, limit.ErrRejected) {
				t.Fatalf("the displaced Lowest waiter got %v; want a rejection", err)
			}
		default:
			t.Fatal("the Lowest waiter is still waiting after a High caller found the queue full")
		}
		// Release: the highest priority goes first, then High in arrival order.
		var order []string
		a.Release(held, limit.Ignored)
		for _, w := range []struct {
			name string
			ch   chan error
		}{{"highest", highest}, {"high", high}, {"high2", high2}, {"normal1", normal1}, {"normal2", normal2}} {
			synctest.Wait()
			select {
			case err := <-w.ch:
				if err != nil {
					t.Fatalf("%s: Acquire() = %v; want admitted", w.name, err)
				}
				order = append(order, w.name)
			default:
				t.Fatalf("admitted so far %v; want %s next", order, w.name)
			}
		}
		if st := a.Stats(); st.InFlight != 0 || st.Queued != 0 {
			t.Errorf("Stats() = %+v; want nothing held or queued", st)
		}
	})
}

func TestAdaptiveCancelledWaiter(t *testing.T) {
	t.Run("a waiter whose ctx ended is never admitted", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a := limit.NewAdaptive(limit.WithLimits(1, 1, 1), limit.WithMaxWaiting(4), limit.WithMaxWait(time.Hour))
			held, _ := a.Acquire(t.Context())
			ctx, cancel := context.WithCancelCause(t.Context())
			cause := errors.New("caller left")
			w := acquireAsync(ctx, a, limit.Normal)
			next := acquireAsync(t.Context(), a, limit.Normal)
			synctest.Wait()
			cancel(cause)
			a.Release(held, limit.Success) // at the same instant as the cancellation
			if err := <-w; !errors.Is(err, cause) {
				t.Errorf("cancelled waiter: Acquire() = %v; want its ctx's cause", err)
			}
			if err := <-next; err != nil {
				t.Errorf("the waiter behind it: Acquire() = %v; want admitted", err)
			}
			if st := a.Stats(); st.InFlight != 0 || st.Queued != 0 {
				t.Errorf("Stats() = %+v; want nothing held or queued", st)
			}
		})
	})
	t.Run("a ctx already done is refused without counting a rejection", func(t *testing.T) {
		a := limit.NewAdaptive()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := a.Acquire(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Acquire(done ctx) = %v; want context.Canceled", err)
		}
		if st := a.Stats(); st.Rejected != 0 || st.InFlight != 0 {
			t.Errorf("Stats() = %+v; want nothing", st)
		}
	})
	t.Run("a waiter that waits too long is rejected", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			a := limit.NewAdaptive(limit.WithLimits(1, 1, 1), limit.WithMaxWait(20*time.Millisecond))
			held, _ := a.Acquire(t.Context())
			start := time.Now()
			_, err := a.Acquire(t.Context())
			if !errors.Is(err, limit.ErrRejected) || time.Since(start) != 20*time.Millisecond {
				t.Errorf("Acquire() = %v after %v; want a rejection after 20ms", err, time.Since(start))
			}
			a.Release(held, limit.Success)
		})
	})
}

// TestAdaptiveProperty drives the limiter with random callers (priorities,
// service times, outcomes, cancellations, panics) against a service whose
// speed changes, and checks that no admission ever takes the permits held
// past the limit, and that every admitted call is released once.
func TestAdaptiveProperty(t *testing.T) {
	for seed := range uint64(8) {
		synctest.Test(t, func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 31))
			a := limit.NewAdaptive(limit.WithLimits(2, 1+r.IntN(10)+1, 16))
			var admitted, over atomic.Int64
			limit.SetOnAdmit(a, func(inFlight, lim int) {
				admitted.Add(1)
				if inFlight > lim {
					over.Add(1)
				}
			})
			s := newService(1+r.IntN(8), time.Duration(1+r.IntN(20))*time.Millisecond)
			var released atomic.Int64
			var wg sync.WaitGroup
			for i := range 200 {
				prio := limit.Priority(r.IntN(5) - 2)
				timeout := time.Duration(5+r.IntN(200)) * time.Millisecond
				wait := time.Duration(r.IntN(2000)) * time.Millisecond
				mode := r.IntN(4)
				wg.Go(func() {
					time.Sleep(wait)
					if i%50 == 0 {
						s.svc.Store(int64(time.Duration(1+i/10) * time.Millisecond))
					}
					ctx, cancel := context.WithTimeout(limit.WithPriority(context.Background(), prio), timeout)
					defer cancel()
					err := a.Do(ctx, func(ctx context.Context) error {
						defer released.Add(1)
						switch mode {
						case 0:
							panic("boom")
						case 1:
							return errors.New("failed")
						}
						return s.call(ctx)
					})
					var pe *limit.PanicError
					if mode == 0 && err != nil && !errors.As(err, &pe) && !errors.Is(err, limit.ErrRejected) && ctx.Err() == nil {
						t.Errorf("a panicking call returned %v; want a *PanicError", err)
					}
				})
			}
			wg.Wait()
			if n := over.Load(); n != 0 {
				t.Errorf("%d admissions took the permits held past the limit", n)
			}
			if st := a.Stats(); st.InFlight != 0 || st.Queued != 0 {
				t.Errorf("Stats() = %+v at the end; want nothing held or queued", st)
			}
			if admitted.Load() != released.Load() {
				t.Errorf("admitted %d, ran and released %d; want equal", admitted.Load(), released.Load())
			}
		})
	}
}

func TestAdaptiveAdmitsWithoutAllocating(t *testing.T) {
	a := limit.NewAdaptive()
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	allocs := testing.AllocsPerRun(1000, func() {
		p, err := a.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		a.Release(p, limit.Success)
		if err := a.Do(ctx, fn); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Acquire, Release and Do admitted at once: %v allocations; want 0", allocs)
	}
}

// openLoop sends calls through a to s at rate a second (Poisson arrivals
// from a fixed seed, so the phases of the workers mix as they do in
// production) until ctx ends; each call has a deadline of deadline.
func openLoop(ctx context.Context, wg *sync.WaitGroup, a *limit.Adaptive, s *service, rate float64, deadline time.Duration) {
	r := rand.New(rand.NewPCG(7, 31))
	wg.Go(func() {
		for {
			select {
			case <-time.After(time.Duration(r.ExpFloat64() / rate * float64(time.Second))):
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(ctx, deadline)
				defer cancel()
				_ = a.Do(cctx, s.call)
			})
		}
	})
}

func TestAdaptiveSettlesAtTheKnee(t *testing.T) {
	// w workers; 50 ms, then 200 ms (capacity 5w a second) under 8.5w
	// calls a second: the limit must find w again and sit there, not at
	// w+1 (a call always queued downstream), and find it without cutting
	// far below (idle workers): one call below, for one window, at most.
	for _, w := range []int{12, 24} {
		t.Run(fmt.Sprint(w, " workers"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := limit.NewAdaptive(limit.WithLimits(1, w+8, 1000)) // above the workers
				s := newService(w, 50*time.Millisecond)
				ctx, cancel := context.WithCancel(t.Context())
				var wg sync.WaitGroup
				openLoop(ctx, &wg, a, s, 8.5*float64(w), time.Second)
				time.Sleep(10 * time.Second)
				s.svc.Store(int64(200 * time.Millisecond))

				lowest, samples, at := 1<<30, 0, map[int]int{}
				for i := range 6000 { // 60 s, every 10 ms
					time.Sleep(10 * time.Millisecond)
					l := a.Stats().Limit
					lowest = min(lowest, l)
					if i >= 1000 { // from 10 s after the slowdown
						samples++
						at[l]++
					}
				}
				cancel()
				wg.Wait()
				if lowest < w-1 {
					t.Errorf("lowest limit after the slowdown = %d; want >= %d (one call below the workers at most)", lowest, w-1)
				}
				if share := float64(at[w]) / float64(samples); share < 0.75 {
					t.Errorf("the limit was %d (the workers) in %.0f%% of the last 50 s (distribution %v); want >= 75%%", w, 100*share, at)
				}
				for l := range at {
					if l < w {
						t.Errorf("the limit went below the %d workers after it settled: %v", w, at)
						break
					}
				}
			})
		})
	}
}

func TestAdaptiveStandingQueueServesNewestFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// One slot, a queue of 5 (Normal may hold 3), waits of 30 ms.
		a := limit.NewAdaptive(limit.WithLimits(1, 1, 1), limit.WithMaxWaiting(5), limit.WithMaxWait(30*time.Millisecond))
		held, err := a.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// A waiter that times out: the queue holds callers longer than
		// they may wait, so it stands.
		if err := <-acquireAsync(t.Context(), a, limit.Normal); !errors.Is(err, limit.ErrRejected) {
			t.Fatalf("a waiter past its 30 ms: Acquire() = %v; want rejected", err)
		}
		var mu sync.Mutex
		var order []int
		var ch [4]chan error
		for i := range ch {
			ch[i] = make(chan error, 1)
			go func() {
				p, err := a.Acquire(t.Context())
				if err == nil {
					mu.Lock()
					order = append(order, i)
					mu.Unlock()
					a.Release(p, limit.Ignored)
				}
				ch[i] <- err
			}()
			synctest.Wait()
			time.Sleep(time.Millisecond)
		}
		// The fourth Normal caller found its share (3) full: it took the
		// place of the oldest, which is rejected at once.
		select {
		case err := <-ch[0]:
			if !errors.Is(err, limit.ErrRejected) {
				t.Fatalf("the oldest waiter, displaced: Acquire() = %v; want rejected", err)
			}
		default:
			t.Fatal("the oldest waiter still waits after a newer caller found the queue full")
		}
		// Released: the newest waiter first.
		a.Release(held, limit.Ignored)
		for i := 1; i < len(ch); i++ {
			if err := <-ch[i]; err != nil {
				t.Fatalf("waiter %d: Acquire() = %v; want admitted", i, err)
			}
		}
		if want := []int{3, 2, 1}; !slices.Equal(order, want) {
			t.Errorf("admitted in the order %v; want the newest first, %v", order, want)
		}
	})
}

func TestAdaptiveSlowdownSeenWithoutQueueNeedsNoProbe(t *testing.T) {
	// The overload benchmark's scenario: 12 workers, 80 or 100 calls a
	// second, the default limit (20, above the workers), 50 ms and then
	// 200 ms. The limit does not bind at 50 ms, so right after the
	// slowdown calls admitted with room under it take 200 ms: that is the
	// service's own latency, and the limit, coming down to 12, has no need
	// to probe below it to learn so. Nor may that latency hold the limit
	// up before it has come down (the first window after the slowdown can
	// hold only calls that met no queue).
	for _, rate := range []float64{80, 100} {
		t.Run(fmt.Sprint(rate, " calls a second"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := limit.NewAdaptive()
				s := newService(12, 50*time.Millisecond)
				ctx, cancel := context.WithCancel(t.Context())
				var wg sync.WaitGroup
				openLoop(ctx, &wg, a, s, rate, time.Second)
				time.Sleep(10 * time.Second)
				s.svc.Store(int64(200 * time.Millisecond))

				lowest, last := 1<<30, 0
				var down time.Duration = -1 // until the limit is 13 or less
				for i := range 2000 {       // 20 s, every 10 ms
					time.Sleep(10 * time.Millisecond)
					last = a.Stats().Limit
					lowest = min(lowest, last)
					if down < 0 && last <= 13 {
						down = time.Duration(i+1) * 10 * time.Millisecond
					}
				}
				cancel()
				wg.Wait()
				if lowest < 12 {
					t.Errorf("lowest limit after the slowdown = %d; want >= 12 (the workers)", lowest)
				}
				if down < 0 || down > 3*time.Second {
					t.Errorf("the limit came down to 13 or less %v after the slowdown (-1: never); want within 3s", down)
				}
				if last > 13 {
					t.Errorf("limit 20 s after the slowdown = %d; want 12 or 13", last)
				}
			})
		})
	}
}
