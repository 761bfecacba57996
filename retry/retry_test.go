package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/retry"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var errFlaky = errors.New("flaky")

// hookCall records one call of the WithOnRetry hook.
type hookCall struct {
	attempt int
	err     error
	wait    time.Duration
}

// recorder counts calls and records hook calls; it is used from one
// goroutine.
type recorder struct {
	calls int
	hooks []hookCall
}

func (r *recorder) hook() retry.Option {
	return retry.WithOnRetry(func(attempt int, err error, wait time.Duration) {
		r.hooks = append(r.hooks, hookCall{attempt, err, wait})
	})
}

// exact is the options of a test that wants exact waits: 1s, 2s, 4s, 8s, 8s...
func exact(opts ...retry.Option) []retry.Option {
	return append([]retry.Option{
		retry.WithBackoff(time.Second, 8*time.Second),
		retry.WithMultiplier(2),
		retry.WithJitter(0),
	}, opts...)
}

func TestFirstTrySuccess(t *testing.T) {
	t.Run("a success on the first try calls fn once and no hook", func(t *testing.T) {
		var r recorder
		err := retry.Do(context.Background(), func(context.Context) error {
			r.calls++
			return nil
		}, r.hook())
		if err != nil || r.calls != 1 || len(r.hooks) != 0 {
			t.Fatalf("Do() = %v after %d calls, %d hooks; want nil after 1 call, 0 hooks", err, r.calls, len(r.hooks))
		}
	})
	t.Run("DoValue returns the value of the successful attempt", func(t *testing.T) {
		v, err := retry.DoValue(context.Background(), func(context.Context) (string, error) {
			return "ok", nil
		})
		if v != "ok" || err != nil {
			t.Fatalf("DoValue() = %q, %v; want ok, nil", v, err)
		}
	})
	t.Run("fn receives ctx itself without an attempt timeout", func(t *testing.T) {
		type key struct{}
		ctx := context.WithValue(context.Background(), key{}, 1)
		var got context.Context
		_ = retry.Do(ctx, func(ctx context.Context) error { got = ctx; return nil })
		if got != ctx {
			t.Fatalf("fn got ctx %v; want the caller's %v", got, ctx)
		}
	})
	t.Run("a first-try success allocates nothing, with or without options", func(t *testing.T) {
		ctx := context.Background()
		op := func(context.Context) error { return nil }
		opts := []retry.Option{retry.WithMaxAttempts(3), retry.WithJitter(0.2)}
		calls := 0
		capturing := []retry.Option{
			retry.WithRetryIf(func(error) bool { calls++; return true }),
			retry.WithOnRetry(func(int, error, time.Duration) { calls++ }),
		}
		cases := map[string]func(){
			"no options": func() { _ = retry.Do(ctx, op) },
			"inline options": func() {
				_ = retry.Do(ctx, op, retry.WithMaxAttempts(3), retry.WithBackoff(time.Millisecond, time.Second),
					retry.WithMultiplier(1.5), retry.WithJitter(0.1),
					retry.WithRetryIf(func(error) bool { return true }),
					retry.WithOnRetry(func(int, error, time.Duration) {}))
			},
			"shared options":                         func() { _ = retry.Do(ctx, op, opts...) },
			"shared options with capturing closures": func() { _ = retry.Do(ctx, op, capturing...) },
			"DoValue":                                func() { _, _ = retry.DoValue(ctx, func(context.Context) (int, error) { return 1, nil }, opts...) },
		}
		for name, f := range cases {
			if n := testing.AllocsPerRun(100, f); n != 0 {
				t.Errorf("%s: AllocsPerRun = %v; want 0", name, n)
			}
		}
	})
}

func TestAttemptsAreExact(t *testing.T) {
	for n := 1; n <= 6; n++ {
		t.Run(fmt.Sprintf("WithMaxAttempts(%d) calls fn %d times and the hook %d times", n, n, n-1), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var r recorder
				err := retry.Do(t.Context(), func(context.Context) error {
					r.calls++
					return errFlaky
				}, exact(retry.WithMaxAttempts(n), r.hook())...)
				if r.calls != n || len(r.hooks) != n-1 {
					t.Fatalf("calls, hooks = %d, %d; want %d, %d", r.calls, len(r.hooks), n, n-1)
				}
				var re *retry.Error
				if !errors.As(err, &re) || re.Attempts != n || re.Last != errFlaky {
					t.Fatalf("Do() = %#v; want *Error{Attempts: %d, Last: errFlaky}", err, n)
				}
				if !errors.Is(err, retry.ErrExhausted) || !errors.Is(err, errFlaky) {
					t.Errorf("Do() = %v; want a match for ErrExhausted and errFlaky", err)
				}
			})
		})
	}
	t.Run("a success on the third try makes three calls and two hooks", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var r recorder
			v, err := retry.DoValue(t.Context(), func(context.Context) (int, error) {
				r.calls++
				if r.calls < 3 {
					return 0, errFlaky
				}
				return 42, nil
			}, exact(r.hook())...)
			if v != 42 || err != nil || r.calls != 3 || len(r.hooks) != 2 {
				t.Fatalf("DoValue() = %v, %v after %d calls, %d hooks; want 42, nil after 3, 2", v, err, r.calls, len(r.hooks))
			}
		})
	})
	t.Run("a failed DoValue returns the zero value", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			v, err := retry.DoValue(t.Context(), func(context.Context) (int, error) {
				return 7, errFlaky
			}, exact(retry.WithMaxAttempts(2))...)
			if v != 0 || !errors.Is(err, errFlaky) {
				t.Fatalf("DoValue() = %v, %v; want 0, errFlaky", v, err)
			}
		})
	})
}

func TestHookArguments(t *testing.T) {
	t.Run("the hook gets the 1-based attempt, its error and the wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var r recorder
			start := time.Now()
			var starts []time.Duration
			_ = retry.Do(t.Context(), func(context.Context) error {
				starts = append(starts, time.Since(start))
				r.calls++
				return fmt.Errorf("call %d: %w", r.calls, errFlaky)
			}, exact(retry.WithMaxAttempts(6), r.hook())...)
			wantWaits := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
			if len(r.hooks) != len(wantWaits) {
				t.Fatalf("%d hooks; want %d", len(r.hooks), len(wantWaits))
			}
			var at time.Duration
			for i, h := range r.hooks {
				if h.attempt != i+1 || h.wait != wantWaits[i] || h.err.Error() != fmt.Sprintf("call %d: flaky", i+1) {
					t.Errorf("hook %d = (%d, %v, %v); want (%d, call %d: flaky, %v)", i, h.attempt, h.err, h.wait, i+1, i+1, wantWaits[i])
				}
				at += wantWaits[i]
				if starts[i+1] != at {
					t.Errorf("attempt %d started at %v; want %v", i+2, starts[i+1], at)
				}
			}
		})
	})
	t.Run("the waits with jitter stay within the randomization bounds", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var r recorder
			_ = retry.Do(t.Context(), func(context.Context) error { return errFlaky },
				retry.WithMaxAttempts(20), retry.WithBackoff(time.Second, 8*time.Second), retry.WithJitter(0.5), r.hook())
			interval := time.Second
			for _, h := range r.hooks {
				lo, hi := interval/2, interval*3/2+1
				if h.wait < lo || h.wait > hi {
					t.Errorf("attempt %d: wait %v; want within [%v, %v]", h.attempt, h.wait, lo, hi)
				}
				interval = min(2*interval, 8*time.Second)
			}
		})
	})
}

func TestDefaults(t *testing.T) {
	t.Run("a default call stops after five attempts with bounded waits", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var r recorder
			start := time.Now()
			err := retry.Do(t.Context(), func(context.Context) error {
				r.calls++
				return errFlaky
			}, r.hook())
			if r.calls != retry.DefaultMaxAttempts || !errors.Is(err, retry.ErrExhausted) {
				t.Fatalf("Do() = %v after %d calls; want ErrExhausted after %d", err, r.calls, retry.DefaultMaxAttempts)
			}
			interval := retry.DefaultInitial
			for _, h := range r.hooks {
				lo, hi := interval/2, interval*3/2+1
				if h.wait < lo || h.wait > hi {
					t.Errorf("attempt %d: wait %v; want within [%v, %v]", h.attempt, h.wait, lo, hi)
				}
				interval *= 2
			}
			if took := time.Since(start); took > 2250*time.Millisecond+time.Millisecond {
				t.Errorf("a default call took %v; want at most 2.25s", took)
			}
		})
	})
	t.Run("backoff/v4's 15-minute MaxElapsedTime does not silently apply", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			start := time.Now()
			err := retry.Do(t.Context(), func(context.Context) error {
				calls++
				return errFlaky
			}, retry.WithMaxAttempts(30), retry.WithBackoff(time.Minute, time.Minute), retry.WithJitter(0))
			if calls != 30 || !errors.Is(err, retry.ErrExhausted) {
				t.Fatalf("Do() = %v after %d calls; want ErrExhausted after 30", err, calls)
			}
			if took := time.Since(start); took != 29*time.Minute {
				t.Errorf("Do() took %v; want 29m0s", took)
			}
		})
	})
	t.Run("options of one call do not leak into the next", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			fail := func(context.Context) error { calls++; return errFlaky }
			_ = retry.Do(t.Context(), fail, retry.WithMaxAttempts(2), retry.WithRetryIf(func(error) bool { return true }))
			calls = 0
			_ = retry.Do(t.Context(), fail, retry.WithJitter(0))
			if calls != retry.DefaultMaxAttempts {
				t.Fatalf("calls = %d; want %d", calls, retry.DefaultMaxAttempts)
			}
		})
	})
	t.Run("a later option overrides an earlier one", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			_ = retry.Do(t.Context(), func(context.Context) error { calls++; return errFlaky },
				retry.WithMaxAttempts(7), retry.WithMaxAttempts(2))
			if calls != 2 {
				t.Fatalf("calls = %d; want 2", calls)
			}
		})
	})
	t.Run("a jittered wait at an uncapped maximum saturates instead of wrapping negative", func(t *testing.T) {
		// With max = the largest Duration, the second wait is drawn around
		// it; half of the draws exceed what a Duration holds. Such a wait
		// must stay huge (and so pass the deadline), never become a
		// negative no-wait that retries at once.
		synctest.Test(t, func(t *testing.T) {
			for run := range 64 {
				ctx, cancel := context.WithTimeout(t.Context(), 1000*time.Hour)
				var r recorder
				err := retry.Do(ctx, func(context.Context) error { r.calls++; return errFlaky },
					retry.WithMaxAttempts(100), retry.WithBackoff(time.Second, math.MaxInt64),
					retry.WithMultiplier(1e12), retry.WithJitter(0.5), r.hook())
				cancel()
				if r.calls != 2 || !errors.Is(err, retry.ErrExhausted) || !strings.Contains(err.Error(), "deadline") {
					t.Fatalf("run %d: Do() = %v after %d calls (hooks %v); want a deadline give-up after 2", run, err, r.calls, r.hooks)
				}
			}
		})
	})
	for _, maxWait := range []time.Duration{0, 5 * time.Second} {
		t.Run(fmt.Sprintf("a zero initial backoff retries without waiting, with max %v", maxWait), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var r recorder
				start := time.Now()
				_ = retry.Do(t.Context(), func(context.Context) error { r.calls++; return errFlaky },
					retry.WithBackoff(0, maxWait), r.hook())
				if r.calls != 5 || time.Since(start) != 0 {
					t.Fatalf("%d calls in %v; want 5 in 0s", r.calls, time.Since(start))
				}
				for _, h := range r.hooks {
					if h.wait != 0 {
						t.Errorf("attempt %d: wait %v; want 0", h.attempt, h.wait)
					}
				}
			})
		})
	}
}

func TestContext(t *testing.T) {
	t.Run("a ctx already done makes no attempt", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		calls := 0
		err := retry.Do(ctx, func(context.Context) error { calls++; return nil })
		var re *retry.Error
		if calls != 0 || !errors.As(err, &re) || re.Attempts != 0 || re.Last != nil {
			t.Fatalf("Do() = %v after %d calls; want *Error{Attempts: 0} after 0", err, calls)
		}
		if !errors.Is(err, context.Canceled) || errors.Is(err, retry.ErrExhausted) {
			t.Errorf("Do() = %v; want a match for context.Canceled and not ErrExhausted", err)
		}
	})
	t.Run("ctx ending during a wait returns at once with the cause and the last error", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cause := errors.New("shutting down")
			ctx, cancel := context.WithCancelCause(t.Context())
			calls := 0
			start := time.Now()
			time.AfterFunc(1500*time.Millisecond, func() { cancel(cause) })
			err := retry.Do(ctx, func(context.Context) error {
				calls++
				return errFlaky
			}, exact(retry.WithMaxAttempts(10))...)
			if took := time.Since(start); took != 1500*time.Millisecond {
				t.Errorf("Do() returned after %v; want 1.5s (at the cancel)", took)
			}
			if calls != 2 {
				t.Errorf("calls = %d; want 2", calls)
			}
			for _, target := range []error{cause, context.Canceled, errFlaky} {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false; want true", err, target)
				}
			}
			if errors.Is(err, retry.ErrExhausted) {
				t.Errorf("errors.Is(%v, ErrExhausted) = true; want false", err)
			}
			var re *retry.Error
			if !errors.As(err, &re) || re.Attempts != 2 || re.Last != errFlaky {
				t.Errorf("Do() = %#v; want *Error{Attempts: 2, Last: errFlaky}", err)
			}
		})
	})
	t.Run("cancellation keeps the operation's error, unlike backoff/v4", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			opErr := errors.New("503 from upstream")
			ctx, cancel := context.WithCancel(t.Context())
			err := retry.Do(ctx, func(context.Context) error {
				cancel()
				return opErr
			})
			if !errors.Is(err, opErr) || !errors.Is(err, context.Canceled) {
				t.Fatalf("Do() = %v; want a match for both the operation's error and context.Canceled", err)
			}
			if !strings.Contains(err.Error(), "503 from upstream") {
				t.Errorf("Do().Error() = %q; want it to mention the operation's error", err)
			}
		})
	})
	t.Run("a wait that would pass ctx's deadline is not started", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			var r recorder
			start := time.Now()
			err := retry.Do(ctx, func(context.Context) error { r.calls++; return errFlaky },
				exact(retry.WithMaxAttempts(10), r.hook())...)
			// Waits 1s and 2s fit (attempts at 0s, 1s, 3s); 4s would end at 7s.
			if took := time.Since(start); took != 3*time.Second || r.calls != 3 || len(r.hooks) != 2 {
				t.Fatalf("Do() returned after %v, %d calls, %d hooks; want 3s, 3 calls, 2 hooks", took, r.calls, len(r.hooks))
			}
			if !errors.Is(err, retry.ErrExhausted) || !errors.Is(err, errFlaky) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Do() = %v; want ErrExhausted and errFlaky, not DeadlineExceeded", err)
			}
			if !strings.Contains(err.Error(), "deadline") {
				t.Errorf("Do().Error() = %q; want it to mention the deadline", err)
			}
		})
	})
	t.Run("a wait ending exactly at the deadline is not started", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			calls := 0
			err := retry.Do(ctx, func(context.Context) error { calls++; return errFlaky }, exact()...)
			if calls != 2 || !errors.Is(err, retry.ErrExhausted) {
				t.Fatalf("Do() = %v after %d calls; want ErrExhausted after 2", err, calls)
			}
		})
	})
	t.Run("an attempt that fails because ctx expired is not retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			calls := 0
			err := retry.Do(ctx, func(ctx context.Context) error {
				calls++
				<-ctx.Done()
				return ctx.Err()
			}, exact()...)
			if calls != 1 || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, retry.ErrExhausted) {
				t.Fatalf("Do() = %v after %d calls; want DeadlineExceeded (not ErrExhausted) after 1", err, calls)
			}
		})
	})
}

func TestMaxElapsed(t *testing.T) {
	t.Run("a wait that would pass the budget is not started", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var r recorder
			start := time.Now()
			err := retry.Do(t.Context(), func(context.Context) error {
				r.calls++
				time.Sleep(500 * time.Millisecond) // the attempts count against the budget
				return errFlaky
			}, exact(retry.WithMaxAttempts(10), retry.WithMaxElapsed(6*time.Second), r.hook())...)
			// Attempts at 0s, 1.5s, 4s each last 0.5s; after the third (4.5s) the 4s wait would end at 8.5s.
			if took := time.Since(start); took != 4500*time.Millisecond || r.calls != 3 {
				t.Fatalf("Do() returned after %v, %d calls; want 4.5s, 3 calls", took, r.calls)
			}
			if !errors.Is(err, retry.ErrExhausted) || !errors.Is(err, errFlaky) {
				t.Fatalf("Do() = %v; want ErrExhausted and errFlaky", err)
			}
			if !strings.Contains(err.Error(), "budget") {
				t.Errorf("Do().Error() = %q; want it to mention the budget", err)
			}
		})
	})
	t.Run("a wait ending exactly at the budget's end is started", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var starts []time.Duration
			start := time.Now()
			err := retry.Do(t.Context(), func(context.Context) error {
				starts = append(starts, time.Since(start))
				return errFlaky
			}, exact(retry.WithMaxAttempts(10), retry.WithMaxElapsed(3*time.Second))...)
			// Waits 1s and 2s: the third attempt starts at 3s, the budget's end.
			want := []time.Duration{0, time.Second, 3 * time.Second}
			if fmt.Sprint(starts) != fmt.Sprint(want) || !errors.Is(err, retry.ErrExhausted) {
				t.Fatalf("Do() = %v with attempts at %v; want ErrExhausted with attempts at %v", err, starts, want)
			}
		})
	})
	t.Run("the budget starts at the call, not at the first failure", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			_ = retry.Do(t.Context(), func(context.Context) error {
				calls++
				time.Sleep(2 * time.Second)
				return errFlaky
			}, exact(retry.WithMaxElapsed(2500*time.Millisecond))...)
			if calls != 1 {
				t.Fatalf("calls = %d; want 1 (2s attempt + 1s wait passes a 2.5s budget)", calls)
			}
		})
	})
}

// hinted is an error type of the caller's own with a RetryAfter method.
type hinted struct{ d time.Duration }

func (h hinted) Error() string             { return "slow down" }
func (h hinted) RetryAfter() time.Duration { return h.d }

func TestRetryAfter(t *testing.T) {
	t.Run("a hint longer than the backoff sets the wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var r recorder
			start := time.Now()
			err := retry.Do(t.Context(), func(context.Context) error {
				r.calls++
				if r.calls == 1 {
					return retry.After(5*time.Second, errFlaky)
				}
				return nil
			}, exact(r.hook())...)
			if err != nil || len(r.hooks) != 1 || r.hooks[0].wait != 5*time.Second || time.Since(start) != 5*time.Second {
				t.Fatalf("Do() = %v, hooks %v, took %v; want nil, one hook with wait 5s, 5s", err, r.hooks, time.Since(start))
			}
			if !errors.Is(r.hooks[0].err, errFlaky) {
				t.Errorf("hook err = %v; want a match for errFlaky", r.hooks[0].err)
			}
		})
	})
	t.Run("a hint shorter than the backoff leaves the backoff", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var r recorder
			_ = retry.Do(t.Context(), func(context.Context) error {
				r.calls++
				return retry.After(time.Millisecond, errFlaky)
			}, exact(retry.WithMaxAttempts(3), r.hook())...)
			if len(r.hooks) != 2 || r.hooks[0].wait != time.Second || r.hooks[1].wait != 2*time.Second {
				t.Fatalf("hooks = %v; want waits 1s, 2s", r.hooks)
			}
		})
	})
	t.Run("any error type with a RetryAfter method works, wrapped too", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var r recorder
			err := retry.Do(t.Context(), func(context.Context) error {
				r.calls++
				return fmt.Errorf("call: %w", hinted{30 * time.Second})
			}, exact(retry.WithMaxAttempts(2), r.hook())...)
			if len(r.hooks) != 1 || r.hooks[0].wait != 30*time.Second {
				t.Fatalf("hooks = %v; want one with wait 30s", r.hooks)
			}
			var h hinted
			if !errors.As(err, &h) {
				t.Errorf("errors.As(%v, hinted) = false; want true", err)
			}
		})
	})
	t.Run("a hint that would pass the deadline gives up at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			start := time.Now()
			err := retry.Do(ctx, func(context.Context) error {
				return retry.After(time.Hour, errFlaky)
			})
			if time.Since(start) != 0 || !errors.Is(err, retry.ErrExhausted) || !errors.Is(err, errFlaky) {
				t.Fatalf("Do() = %v after %v; want ErrExhausted and errFlaky at once", err, time.Since(start))
			}
		})
	})
	t.Run("the largest possible hint gives up at once under a budget or a deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			huge := time.Duration(math.MaxInt64)
			fn := func(context.Context) error { return retry.After(huge, errFlaky) }
			ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
			defer cancel()
			for name, err := range map[string]error{
				"budget":   retry.Do(t.Context(), fn, retry.WithMaxElapsed(time.Hour)),
				"deadline": retry.Do(ctx, fn),
			} {
				if !errors.Is(err, retry.ErrExhausted) || !strings.Contains(err.Error(), name) {
					t.Errorf("Do() = %v; want ErrExhausted for the %s", err, name)
				}
			}
		})
	})
	t.Run("After of nil is nil and a negative hint counts as zero", func(t *testing.T) {
		if err := retry.After(time.Second, nil); err != nil {
			t.Errorf("After(1s, nil) = %v; want nil", err)
		}
		var h interface{ RetryAfter() time.Duration }
		if err := retry.After(-time.Second, errFlaky); !errors.As(err, &h) || h.RetryAfter() != 0 || err.Error() != "flaky" {
			t.Errorf("After(-1s, errFlaky) = %v; want error \"flaky\" with RetryAfter() 0", err)
		}
	})
}

func TestNotRetried(t *testing.T) {
	t.Run("a permanent error stops after that call and still matches", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var r recorder
			err := retry.Do(t.Context(), func(context.Context) error {
				r.calls++
				if r.calls == 2 {
					return retry.Permanent(errFlaky)
				}
				return errors.New("transient")
			}, r.hook())
			var re *retry.Error
			if r.calls != 2 || len(r.hooks) != 1 || !errors.As(err, &re) || re.Attempts != 2 || re.Last != errFlaky {
				t.Fatalf("Do() = %#v after %d calls; want *Error{Attempts: 2, Last: errFlaky} after 2", err, r.calls)
			}
			if !errors.Is(err, errFlaky) || errors.Is(err, retry.ErrExhausted) {
				t.Errorf("Do() = %v; want a match for errFlaky and not ErrExhausted", err)
			}
		})
	})
	t.Run("a wrapped permanent error stops too", func(t *testing.T) {
		calls := 0
		err := retry.Do(context.Background(), func(context.Context) error {
			calls++
			return fmt.Errorf("load: %w", retry.Permanent(errFlaky))
		})
		if calls != 1 || !errors.Is(err, errFlaky) || err.Error() != "retry: attempt 1 failed permanently: load: flaky" {
			t.Fatalf("Do() = %q after %d calls; want a permanent failure after 1", err, calls)
		}
	})
	t.Run("Permanent of nil is nil", func(t *testing.T) {
		if err := retry.Permanent(nil); err != nil {
			t.Fatalf("Permanent(nil) = %v; want nil", err)
		}
	})
	t.Run("WithRetryIf decides which errors are retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			errFatal := errors.New("fatal")
			calls := 0
			err := retry.Do(t.Context(), func(context.Context) error {
				calls++
				if calls < 3 {
					return errFlaky
				}
				return errFatal
			}, retry.WithMaxAttempts(10), retry.WithRetryIf(func(err error) bool { return errors.Is(err, errFlaky) }))
			if calls != 3 || !errors.Is(err, errFatal) || errors.Is(err, retry.ErrExhausted) {
				t.Fatalf("Do() = %v after %d calls; want errFatal (not ErrExhausted) after 3", err, calls)
			}
			if !strings.Contains(err.Error(), "not retried") {
				t.Errorf("Do().Error() = %q; want it to say not retried", err)
			}
		})
	})
	t.Run("a panic is never retried and comes back as the shared PanicError", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			err := retry.Do(t.Context(), func(context.Context) error {
				calls++
				panic(errFlaky)
			})
			var pe *retry.PanicError
			var spe *safe.PanicError
			if calls != 1 || !errors.As(err, &pe) || !errors.As(err, &spe) || pe != spe {
				t.Fatalf("Do() = %v after %d calls; want a *PanicError after 1", err, calls)
			}
			if !errors.Is(err, errFlaky) || errors.Is(err, retry.ErrExhausted) {
				t.Errorf("Do() = %v; want a match for the panic value and not ErrExhausted", err)
			}
			if !strings.Contains(string(pe.Stack), "retry_test.go") {
				t.Errorf("Stack does not name the panicking file:\n%s", pe.Stack)
			}
		})
	})
	t.Run("a panic on a later attempt is reported with its attempt number", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			_, err := retry.DoValue(t.Context(), func(context.Context) (int, error) {
				calls++
				if calls == 2 {
					panic("boom")
				}
				return 0, errFlaky
			})
			var re *retry.Error
			var pe *retry.PanicError
			if calls != 2 || !errors.As(err, &re) || re.Attempts != 2 || !errors.As(err, &pe) || pe.Value != "boom" {
				t.Fatalf("DoValue() = %v after %d calls; want a panic on attempt 2", err, calls)
			}
		})
	})
}

func TestAttemptTimeout(t *testing.T) {
	t.Run("each attempt gets its own deadline and a timed-out attempt is retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var deadlines []time.Time
			var starts []time.Time
			calls := 0
			err := retry.Do(t.Context(), func(ctx context.Context) error {
				calls++
				starts = append(starts, time.Now())
				dl, _ := ctx.Deadline()
				deadlines = append(deadlines, dl)
				if calls < 3 {
					<-ctx.Done()
					return ctx.Err()
				}
				return nil
			}, exact(retry.WithAttemptTimeout(10*time.Second),
				// Even a classifier that retries nothing does not stop a timed-out attempt.
				retry.WithRetryIf(func(error) bool { return false }))...)
			if err != nil || calls != 3 {
				t.Fatalf("Do() = %v after %d calls; want nil after 3", err, calls)
			}
			for i := range starts {
				if got := deadlines[i].Sub(starts[i]); got != 10*time.Second {
					t.Errorf("attempt %d: deadline %v after its start; want 10s", i+1, got)
				}
			}
		})
	})
	t.Run("the attempt deadline stays inside the parent's", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			want, _ := ctx.Deadline()
			calls := 0
			err := retry.Do(ctx, func(ctx context.Context) error {
				calls++
				if dl, _ := ctx.Deadline(); !dl.Equal(want) {
					t.Errorf("attempt deadline %v; want the parent's %v", dl, want)
				}
				<-ctx.Done()
				return ctx.Err()
			}, retry.WithAttemptTimeout(time.Minute))
			if calls != 1 || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, retry.ErrExhausted) {
				t.Fatalf("Do() = %v after %d calls; want the parent's DeadlineExceeded after 1", err, calls)
			}
		})
	})
	t.Run("an attempt that times out while the parent is cancelled is not retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			calls := 0
			err := retry.Do(ctx, func(ctx context.Context) error {
				calls++
				<-ctx.Done()
				cancel()
				return ctx.Err()
			}, retry.WithAttemptTimeout(time.Second))
			if calls != 1 || !errors.Is(err, context.Canceled) {
				t.Fatalf("Do() = %v after %d calls; want context.Canceled after 1", err, calls)
			}
		})
	})
	t.Run("a runtime.Goexit in fn still releases the attempt's context", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var attemptCtx context.Context
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = retry.Do(t.Context(), func(ctx context.Context) error {
					attemptCtx = ctx
					runtime.Goexit()
					return nil
				}, retry.WithAttemptTimeout(time.Hour))
			}()
			<-done
			if attemptCtx.Err() != context.Canceled {
				t.Fatalf("attempt ctx Err() = %v; want context.Canceled", attemptCtx.Err())
			}
		})
	})
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		opt  retry.Option
		name string
	}{
		{retry.WithMaxAttempts(0), "WithMaxAttempts(0)"},
		{retry.WithMaxAttempts(-3), "WithMaxAttempts(-3)"},
		{retry.WithMaxElapsed(-time.Second), "WithMaxElapsed(-1s)"},
		{retry.WithBackoff(-time.Second, time.Second), "WithBackoff(-1s, 1s)"},
		{retry.WithBackoff(2*time.Second, time.Second), "WithBackoff(2s, 1s)"},
		{retry.WithMultiplier(0.5), "WithMultiplier(0.5)"},
		{retry.WithMultiplier(math.NaN()), "WithMultiplier(NaN)"},
		{retry.WithMultiplier(math.Inf(1)), "WithMultiplier(+Inf)"},
		{retry.WithJitter(-0.1), "WithJitter(-0.1)"},
		{retry.WithJitter(1.5), "WithJitter(1.5)"},
		{retry.WithJitter(math.NaN()), "WithJitter(NaN)"},
		{retry.WithAttemptTimeout(-time.Second), "WithAttemptTimeout(-1s)"},
		{retry.WithRetryIf(nil), "WithRetryIf(nil)"},
		{retry.WithOnRetry(nil), "WithOnRetry(nil)"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" returns an error naming it and makes no call", func(t *testing.T) {
			calls := 0
			err := retry.Do(context.Background(), func(context.Context) error { calls++; return nil },
				retry.WithMaxAttempts(2), tc.opt)
			if calls != 0 || err == nil || !strings.HasPrefix(err.Error(), "retry: ") || !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("Do() = %v after %d calls; want an error naming %s after 0", err, calls, tc.name)
			}
			var re *retry.Error
			if errors.As(err, &re) {
				t.Errorf("Do() = %#v; want a plain error, not *Error", err)
			}
			_, err = retry.DoValue(context.Background(), func(context.Context) (int, error) { calls++; return 1, nil }, tc.opt)
			if calls != 0 || err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("DoValue() = %v after %d calls; want an error naming %s after 0", err, calls, tc.name)
			}
		})
	}
	t.Run("the edge values are accepted", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			err := retry.Do(t.Context(), func(context.Context) error { calls++; return errFlaky },
				retry.WithMaxAttempts(1), retry.WithMaxElapsed(0), retry.WithBackoff(0, 0),
				retry.WithMultiplier(1), retry.WithJitter(0), retry.WithJitter(1), retry.WithAttemptTimeout(0))
			if calls != 1 || !errors.Is(err, retry.ErrExhausted) {
				t.Fatalf("Do() = %v after %d calls; want ErrExhausted after 1", err, calls)
			}
		})
	})
	t.Run("a nil function returns an error naming fn that matches ErrNilFunc", func(t *testing.T) {
		if err := retry.Do(context.Background(), nil); err == nil || err.Error() != "retry: fn is nil" || !errors.Is(err, retry.ErrNilFunc) {
			t.Errorf("Do(nil) = %v; want %q matching ErrNilFunc", err, "retry: fn is nil")
		}
		if _, err := retry.DoValue[int](context.Background(), nil, retry.WithMaxAttempts(2)); err == nil || !errors.Is(err, retry.ErrNilFunc) {
			t.Errorf("DoValue(nil) = %v; want ErrNilFunc", err)
		}
	})
	t.Run("a nil ctx or a nil Option panics naming the function called", func(t *testing.T) {
		var nilCtx context.Context
		calls := 0
		fn := func(context.Context) error { calls++; return nil }
		vfn := func(context.Context) (int, error) { calls++; return 1, nil }
		for _, c := range []struct {
			want string
			call func()
		}{
			{"retry: nil ctx passed to Do", func() { retry.Do(nilCtx, fn) }},
			{"retry: nil ctx passed to DoValue", func() { retry.DoValue(nilCtx, vfn) }},
			{"retry: nil Option passed to Do (opts[1])", func() { retry.Do(context.Background(), fn, retry.WithJitter(0), nil) }},
			{"retry: nil Option passed to DoValue (opts[0])", func() { retry.DoValue(context.Background(), vfn, nil) }},
		} {
			func() {
				defer func() {
					if r := recover(); r != c.want {
						t.Errorf("panic = %v; want %q", r, c.want)
					}
				}()
				c.call()
			}()
		}
		if calls != 0 {
			t.Errorf("fn called %d times; want 0", calls)
		}
	})
}

func TestConcurrency(t *testing.T) {
	t.Run("one []Option shared by many goroutines is safe", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var hooks atomic.Int64
			opts := []retry.Option{
				retry.WithMaxAttempts(4),
				retry.WithBackoff(time.Second, 4*time.Second),
				retry.WithJitter(0.5),
				retry.WithRetryIf(func(error) bool { return true }),
				retry.WithOnRetry(func(int, error, time.Duration) { hooks.Add(1) }),
			}
			const goroutines = 16
			var wg sync.WaitGroup
			errs := make([]error, goroutines)
			calls := make([]int, goroutines)
			for g := range goroutines {
				wg.Go(func() {
					errs[g] = retry.Do(t.Context(), func(context.Context) error {
						calls[g]++
						if g%2 == 0 && calls[g] == 3 {
							return nil
						}
						return errFlaky
					}, opts...)
				})
			}
			wg.Wait()
			want := int64(0)
			for g := range goroutines {
				if g%2 == 0 {
					want += 2
					if errs[g] != nil || calls[g] != 3 {
						t.Errorf("goroutine %d: Do() = %v after %d calls; want nil after 3", g, errs[g], calls[g])
					}
				} else {
					want += 3
					if !errors.Is(errs[g], retry.ErrExhausted) || calls[g] != 4 {
						t.Errorf("goroutine %d: Do() = %v after %d calls; want ErrExhausted after 4", g, errs[g], calls[g])
					}
				}
			}
			if hooks.Load() != want {
				t.Errorf("hooks = %d; want %d", hooks.Load(), want)
			}
		})
	})
	t.Run("the hook may call Do again", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			inner := 0
			calls := 0
			_ = retry.Do(t.Context(), func(context.Context) error { calls++; return errFlaky },
				retry.WithMaxAttempts(2),
				retry.WithOnRetry(func(int, error, time.Duration) {
					_ = retry.Do(t.Context(), func(context.Context) error { inner++; return nil })
				}))
			if calls != 2 || inner != 1 {
				t.Fatalf("calls, inner = %d, %d; want 2, 1", calls, inner)
			}
		})
	})
}

func TestErrorMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		err := retry.Do(t.Context(), func(context.Context) error { return errFlaky }, exact(retry.WithMaxAttempts(3))...)
		if got, want := err.Error(), "retry: gave up after 3 attempts (attempt limit): flaky"; got != want {
			t.Errorf("Error() = %q; want %q", got, want)
		}
		err = retry.Do(t.Context(), func(context.Context) error { return errFlaky }, retry.WithMaxAttempts(1))
		if got, want := err.Error(), "retry: gave up after 1 attempt (attempt limit): flaky"; got != want {
			t.Errorf("Error() = %q; want %q", got, want)
		}
		ctx, cancel := context.WithCancel(t.Context())
		err = retry.Do(ctx, func(context.Context) error { cancel(); return errFlaky })
		if got, want := err.Error(), "retry: stopped after 1 attempt: context canceled; last error: flaky"; got != want {
			t.Errorf("Error() = %q; want %q", got, want)
		}
		err = retry.Do(ctx, func(context.Context) error { return nil })
		if got, want := err.Error(), "retry: no attempt made: context canceled"; got != want {
			t.Errorf("Error() = %q; want %q", got, want)
		}
	})
}
