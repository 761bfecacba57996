package retry_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/retry"
)

func TestNewBudgetBadInput(t *testing.T) {
	for _, tc := range []struct {
		name         string
		ratio, floor float64
		window       time.Duration
		want         string
	}{
		{"a ratio of 0", 0, 1, time.Second, "NewBudget(ratio 0)"},
		{"a negative ratio", -0.1, 1, time.Second, "NewBudget(ratio -0.1)"},
		{"a ratio above 1", 1.5, 1, time.Second, "NewBudget(ratio 1.5)"},
		{"a NaN ratio", nan(), 1, time.Second, "NewBudget(ratio NaN)"},
		{"a negative floor", 0.1, -1, time.Second, "NewBudget(minPerSecond -1)"},
		{"an infinite floor", 0.1, inf(), time.Second, "NewBudget(minPerSecond +Inf)"},
		{"a zero window", 0.1, 1, 0, "NewBudget(window 0s)"},
	} {
		t.Run(tc.name+" panics naming it", func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "retry: "+tc.want) {
					t.Errorf("panic = %q; want it to start with %q", msg, "retry: "+tc.want)
				}
			}()
			retry.NewBudget(tc.ratio, tc.floor, tc.window)
		})
	}
	t.Run("a ratio of 1 and a floor of 0 are fine", func(t *testing.T) {
		retry.NewBudget(1, 0, time.Second)
	})
	t.Run("WithBudget(nil) is an error and no attempt is made", func(t *testing.T) {
		calls := 0
		err := retry.Do(context.Background(), func(context.Context) error { calls++; return nil }, retry.WithBudget(nil))
		if err == nil || !strings.Contains(err.Error(), "WithBudget(nil)") || calls != 0 {
			t.Errorf("Do = %v after %d calls; want an error naming WithBudget(nil), no call", err, calls)
		}
	})
}

func nan() float64 { z := 0.0; return z / z }
func inf() float64 { z := 0.0; return 1 / z }

func TestBudget(t *testing.T) {
	t.Run("the floor alone allows minPerSecond times the window", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := retry.NewBudget(0.5, 1, 10*time.Second)
			for i := range 10 {
				if !b.TrySpend() {
					t.Fatalf("TrySpend #%d = false; want true (floor of 10)", i+1)
				}
			}
			if b.TrySpend() {
				t.Fatal("TrySpend #11 = true; want false")
			}
			if s := b.Stats(); s.Spent != 10 || s.Refused != 1 || s.Balance != 0 {
				t.Errorf("Stats() = %+v; want 10 spent, 1 refused, balance 0", s)
			}
		})
	})
	t.Run("each deposit allows ratio more retries", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := retry.NewBudget(0.25, 0, 10*time.Second)
			for range 8 {
				b.Deposit()
			}
			n := 0
			for b.TrySpend() {
				n++
			}
			if n != 2 {
				t.Errorf("8 deposits at ratio 0.25 allowed %d retries; want 2", n)
			}
		})
	})
	t.Run("spends and deposits leave the window", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := retry.NewBudget(1, 0.1, 10*time.Second) // floor: 1 retry per window
			if !b.TrySpend() || b.TrySpend() {
				t.Fatal("want exactly one retry from the floor")
			}
			time.Sleep(10 * time.Second)
			if !b.TrySpend() {
				t.Fatal("a window later, the floor's retry is back: TrySpend = false; want true")
			}
			b.Deposit()
			time.Sleep(5 * time.Second)
			if !b.TrySpend() {
				t.Fatal("a deposit 5s old is in a 10s window: TrySpend = false; want true")
			}
			b.Deposit()
			time.Sleep(11 * time.Second)
			b.Stats() // moves the window
			if got := b.Stats().Balance; got != 1 {
				t.Errorf("after 11s, Balance = %v; want 1 (the floor only: the deposit left the window)", got)
			}
		})
	})
	t.Run("many goroutines never spend more than the window holds", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := retry.NewBudget(0.1, 0, time.Minute)
			var wg sync.WaitGroup
			var allowed atomic.Int64
			for range 8 {
				wg.Go(func() {
					for range 1000 {
						b.Deposit()
						if b.TrySpend() {
							allowed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			if got := allowed.Load(); got > 800 || got < 790 {
				t.Errorf("8000 deposits at ratio 0.1 allowed %d retries; want about 800, never more", got)
			}
			if s := b.Stats(); s.Spent != uint64(allowed.Load()) || s.Spent+s.Refused != 8000 {
				t.Errorf("Stats() = %+v; want Spent %d and 8000 asked", s, allowed.Load())
			}
		})
	})
}

func TestWithBudget(t *testing.T) {
	errDown := errors.New("down")
	t.Run("a refused retry ends the call with an error matching the budget, the bound and the last error", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := retry.NewBudget(1, 0, time.Minute)
			var r recorder
			calls := 0
			start := time.Now()
			err := retry.Do(context.Background(), func(context.Context) error { calls++; return errDown },
				exact(retry.WithMaxAttempts(4), retry.WithBudget(b), r.hook())...)
			// One deposit at ratio 1: one retry, then refused.
			if calls != 2 {
				t.Errorf("calls = %d; want 2", calls)
			}
			if !errors.Is(err, retry.ErrBudgetExhausted) || !errors.Is(err, retry.ErrExhausted) || !errors.Is(err, errDown) {
				t.Errorf("Do = %v; want it to match ErrBudgetExhausted, ErrExhausted and the last error", err)
			}
			var re *retry.Error
			if !errors.As(err, &re) || re.Attempts != 2 || re.Last != errDown {
				t.Errorf("Do = %#v; want a *retry.Error with 2 attempts and Last = errDown", err)
			}
			if !strings.Contains(err.Error(), "retry budget") {
				t.Errorf("Error() = %q; want it to say the retry budget", err)
			}
			if len(r.hooks) != 1 {
				t.Errorf("OnRetry called %d times; want 1 (not for the refused retry)", len(r.hooks))
			}
			if d := time.Since(start); d != time.Second {
				t.Errorf("the call took %v; want 1s (one wait, none for the refused retry)", d)
			}
		})
	})
	t.Run("a first attempt always goes, even on an empty budget", func(t *testing.T) {
		b := retry.NewBudget(0.1, 0, time.Minute)
		for range 3 {
			if err := retry.Do(context.Background(), func(context.Context) error { return nil }, retry.WithBudget(b)); err != nil {
				t.Fatalf("Do = %v; want nil", err)
			}
		}
	})
	t.Run("a call whose ctx is done deposits nothing", func(t *testing.T) {
		b := retry.NewBudget(1, 0, time.Minute)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = retry.Do(ctx, func(context.Context) error { return nil }, retry.WithBudget(b))
		if b.TrySpend() {
			t.Error("TrySpend = true after a call that made no attempt; want false")
		}
	})
	t.Run("a success or a permanent error spends nothing", func(t *testing.T) {
		b := retry.NewBudget(1, 0, time.Minute)
		_ = retry.Do(context.Background(), func(context.Context) error { return nil }, retry.WithBudget(b))
		_ = retry.Do(context.Background(), func(context.Context) error { return retry.Permanent(errDown) }, retry.WithBudget(b))
		if s := b.Stats(); s.Spent != 0 || s.Refused != 0 || s.Balance != 2 {
			t.Errorf("Stats() = %+v; want nothing spent or refused, balance 2", s)
		}
	})
}

// TestBudgetFigures measures what a budget does for a client sending 100
// requests a second for a minute (fake time), each call with 4 attempts
// and no wait between them: in a total outage, and at 10% random failures.
func TestBudgetFigures(t *testing.T) {
	run := func(t *testing.T, failRate float64, budget bool) (attemptsPerRequest, success float64) {
		var a, ok int
		synctest.Test(t, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			opts := []retry.Option{retry.WithMaxAttempts(4), retry.WithBackoff(0, 0)}
			if budget {
				opts = append(opts, retry.WithBudget(retry.NewBudget(0.15, 1, 10*time.Second)))
			}
			fn := func(context.Context) error {
				a++
				if rng.Float64() < failRate {
					return errors.New("unavailable")
				}
				return nil
			}
			const requests = 6000
			for range requests {
				if retry.Do(context.Background(), fn, opts...) == nil {
					ok++
				}
				time.Sleep(10 * time.Millisecond)
			}
			attemptsPerRequest, success = float64(a)/requests, 100*float64(ok)/requests
		})
		return
	}
	t.Run("a total outage", func(t *testing.T) {
		without, _ := run(t, 1, false)
		with, _ := run(t, 1, true)
		t.Logf("attempts per request: %.3f without a budget, %.3f with", without, with)
		if without != 4 {
			t.Errorf("without a budget: %.3f attempts per request; want 4", without)
		}
		if with > 1.2 {
			t.Errorf("with a budget: %.3f attempts per request; want <= 1.2", with)
		}
	})
	t.Run("10% random failures", func(t *testing.T) {
		_, without := run(t, 0.1, false)
		_, with := run(t, 0.1, true)
		t.Logf("success rate: %.3f%% without a budget, %.3f%% with", without, with)
		if without-with > 1 {
			t.Errorf("success rate %.3f%% with a budget, %.3f%% without; want within 1 point", with, without)
		}
	})
}
