package guard_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/guard"
	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/retry"
)

// copies runs the copies of a hedged function: copy i (0-based) waits
// delays[i] (or for its ctx), then returns results[i].
type copies struct {
	delays  []time.Duration
	errs    []error
	started atomic.Int32
	mu      sync.Mutex
	ended   []string // "i: how", in the order copies ended
}

func (c *copies) fn(ctx context.Context) (int, error) {
	i := int(c.started.Add(1)) - 1
	select {
	case <-time.After(c.delays[i]):
		c.end(i, "done")
		if c.errs != nil && c.errs[i] != nil {
			return 0, c.errs[i]
		}
		return i, nil
	case <-ctx.Done():
		c.end(i, "cancelled")
		return 0, ctx.Err()
	}
}

func (c *copies) end(i int, how string) {
	c.mu.Lock()
	c.ended = append(c.ended, string(rune('0'+i))+": "+how)
	c.mu.Unlock()
}

func (c *copies) endings() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ended...)
}

func TestHedge(t *testing.T) {
	t.Run("a slow first copy loses to the second, which is cancelled and awaited", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := &copies{delays: []time.Duration{time.Hour, 10 * time.Millisecond}}
			g := guard.New(guard.WithHedge(50*time.Millisecond, 2))
			start := time.Now()
			v, err := guard.DoValue(t.Context(), g, c.fn)
			if v != 1 || err != nil {
				t.Fatalf("DoValue = %d, %v; want the second copy's 1", v, err)
			}
			if d := time.Since(start); d != 60*time.Millisecond {
				t.Errorf("took %v; want 60ms (50ms delay + 10ms)", d)
			}
			// The loser has ended before DoValue returned.
			if got := c.endings(); len(got) != 2 || got[0] != "1: done" || got[1] != "0: cancelled" {
				t.Errorf("endings %v; want [1: done 0: cancelled]", got)
			}
		})
	})
	t.Run("a first copy that succeeds before the delay is the only one", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := &copies{delays: []time.Duration{10 * time.Millisecond, 0}}
			g := guard.New(guard.WithHedge(50*time.Millisecond, 2))
			if v, err := guard.DoValue(t.Context(), g, c.fn); v != 0 || err != nil {
				t.Fatalf("DoValue = %d, %v; want 0", v, err)
			}
			if n := c.started.Load(); n != 1 {
				t.Errorf("%d copies started; want 1", n)
			}
		})
	})
	t.Run("up to n copies start a delay apart", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := &copies{delays: []time.Duration{time.Hour, time.Hour, 5 * time.Millisecond, 0}}
			g := guard.New(guard.WithHedge(10*time.Millisecond, 3))
			start := time.Now()
			v, err := guard.DoValue(t.Context(), g, c.fn)
			if v != 2 || err != nil || time.Since(start) != 25*time.Millisecond {
				t.Errorf("DoValue = %d, %v after %v; want the third copy's 2 after 25ms", v, err, time.Since(start))
			}
			if n := c.started.Load(); n != 3 {
				t.Errorf("%d copies started; want 3 (n)", n)
			}
		})
	})
	t.Run("a failed copy waits for the other; when all fail, the latest failure is returned", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			errA, errB := errors.New("a"), errors.New("b")
			c := &copies{delays: []time.Duration{20 * time.Millisecond, 30 * time.Millisecond}, errs: []error{errA, errB}}
			g := guard.New(guard.WithHedge(10*time.Millisecond, 2))
			if _, err := guard.DoValue(t.Context(), g, c.fn); err != errB {
				t.Errorf("DoValue = %v; want the latest failure, b", err)
			}
			c = &copies{delays: []time.Duration{20 * time.Millisecond, 5 * time.Millisecond}, errs: []error{errA, nil}}
			if v, err := guard.DoValue(t.Context(), g, c.fn); v != 1 || err != nil {
				t.Errorf("DoValue = %d, %v; want the second copy's success after the first failed", v, err)
			}
		})
	})
	t.Run("a first copy that fails before the delay fails the attempt at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := &copies{delays: []time.Duration{time.Millisecond, 0}, errs: []error{errDown, nil}}
			g := guard.New(guard.WithHedge(10*time.Millisecond, 2))
			if _, err := guard.DoValue(t.Context(), g, c.fn); err != errDown || c.started.Load() != 1 {
				t.Errorf("DoValue = %v with %d copies; want errDown, one copy", err, c.started.Load())
			}
		})
	})
	t.Run("a panic ends the hedge at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var slowEnded atomic.Bool
			var n atomic.Int32
			g := guard.New(guard.WithHedge(10*time.Millisecond, 2))
			_, err := guard.DoValue(t.Context(), g, func(ctx context.Context) (int, error) {
				if n.Add(1) == 1 {
					<-ctx.Done()
					slowEnded.Store(true)
					return 0, ctx.Err()
				}
				panic("copy bug")
			})
			var pe *guard.PanicError
			if !errors.As(err, &pe) || pe.Value != "copy bug" || !slowEnded.Load() {
				t.Errorf("DoValue = %v (slow copy ended: %v); want the panic, the slow copy cancelled and awaited", err, slowEnded.Load())
			}
		})
	})
	t.Run("a Goexit in a copy is reported, not hung on", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := guard.New(guard.WithHedge(10*time.Millisecond, 2))
			_, err := guard.DoValue(t.Context(), g, func(context.Context) (int, error) { runtime.Goexit(); return 0, nil })
			var pe *guard.PanicError
			if !errors.As(err, &pe) {
				t.Errorf("DoValue = %v; want a *PanicError for the Goexit", err)
			}
		})
	})
	t.Run("the budget refuses extra copies", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			budget := retry.NewBudget(0.5, 0, time.Minute) // one deposit: half a copy
			c := &copies{delays: []time.Duration{30 * time.Millisecond, 0}}
			g := guard.New(guard.WithHedge(10*time.Millisecond, 2), guard.WithBudget(budget))
			if v, err := guard.DoValue(t.Context(), g, c.fn); v != 0 || err != nil {
				t.Fatalf("DoValue = %d, %v; want the first copy's 0", v, err)
			}
			if n := c.started.Load(); n != 1 {
				t.Errorf("%d copies started; want 1 (the budget refused the second)", n)
			}
			if s := budget.Stats(); s.Refused != 1 || s.Spent != 0 {
				t.Errorf("budget Stats() = %+v; want 1 refused", s)
			}
			c = &copies{delays: []time.Duration{30 * time.Millisecond, 0}}
			guard.DoValue(t.Context(), g, c.fn) // a second deposit: a whole copy now
			if s := budget.Stats(); c.started.Load() != 2 || s.Spent != 1 {
				t.Errorf("%d copies, budget %+v; want the second copy spent", c.started.Load(), s)
			}
		})
	})
	t.Run("each copy passes the breaker; the loser's cancellation is not counted", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := breaker.New(breaker.WithConsecutiveFailures(100))
			c := &copies{delays: []time.Duration{time.Hour, 0}}
			g := guard.New(guard.WithHedge(10*time.Millisecond, 2), guard.WithBreaker(b))
			guard.DoValue(t.Context(), g, c.fn)
			if cs := b.Counts(); cs.Requests != 2 || cs.TotalSuccesses != 1 || cs.TotalFailures != 0 || cs.TotalExclusions != 1 {
				t.Errorf("breaker Counts() = %+v; want 2 requests: 1 success, 1 exclusion", cs)
			}
		})
	})
	t.Run("retry around the hedge: a hedged attempt is one attempt", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var calls atomic.Int32
			g := guard.New(guard.WithHedge(10*time.Millisecond, 2),
				guard.WithRetry(retry.WithMaxAttempts(2), retry.WithBackoff(0, 0)))
			_, err := guard.DoValue(t.Context(), g, func(ctx context.Context) (int, error) {
				calls.Add(1)
				time.Sleep(20 * time.Millisecond)
				return 0, errDown
			})
			var re *retry.Error
			if !errors.As(err, &re) || re.Attempts != 2 || calls.Load() != 4 {
				t.Errorf("DoValue = %v after %d calls; want 2 attempts of 2 copies", err, calls.Load())
			}
		})
	})
	t.Run("the caller's cancellation ends every copy and is returned", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(t.Context())
			errBye := errors.New("bye")
			c := &copies{delays: []time.Duration{time.Hour, time.Hour}}
			g := guard.New(guard.WithHedge(10*time.Millisecond, 2))
			time.AfterFunc(15*time.Millisecond, func() { cancel(errBye) })
			_, err := guard.DoValue(ctx, g, c.fn)
			if !errors.Is(err, context.Canceled) || len(c.endings()) != 2 {
				t.Errorf("DoValue = %v, endings %v; want context.Canceled, both copies ended", err, c.endings())
			}
		})
	})
	t.Run("with retry and a budget, a call deposits once", func(t *testing.T) {
		budget := retry.NewBudget(1, 0, time.Minute)
		g := guard.New(guard.WithHedge(time.Hour, 2), guard.WithBudget(budget), fast)
		if _, err := guard.DoValue(t.Context(), g, func(context.Context) (int, error) { return 1, nil }); err != nil {
			t.Fatal(err)
		}
		if s := budget.Stats(); s.Balance != 1 {
			t.Errorf("budget Stats() = %+v; want a balance of 1 (one deposit)", s)
		}
	})
	t.Run("many goroutines hedging through one guard keep the bulkhead's bound", func(t *testing.T) {
		bh := limit.NewBulkhead(3, limit.WithMaxWaiting(100))
		g := guard.New(guard.WithHedge(0, 2), guard.WithConcurrencyLimiter(bh),
			guard.WithBreaker(breaker.New(breaker.WithConsecutiveFailures(1000))))
		var active, peak atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 30 {
					_, err := guard.DoValue(t.Context(), g, func(ctx context.Context) (int, error) {
						n := active.Add(1)
						defer active.Add(-1)
						for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
						}
						runtime.Gosched()
						return 1, nil
					})
					if err != nil {
						t.Errorf("DoValue = %v; want nil", err)
					}
				}
			})
		}
		wg.Wait()
		if p := peak.Load(); p > 3 {
			t.Errorf("peak concurrency %d; want <= 3", p)
		}
		if s := bh.Stats(); s.InFlight != 0 {
			t.Errorf("bulkhead Stats() = %+v; want every permit released", s)
		}
	})
}
