package breaker

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
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var errBoom = errors.New("boom")

func fail(context.Context) error    { return errBoom }
func succeed(context.Context) error { return nil }

// failN makes n failing calls and returns the last error.
func failN(t *testing.T, b *Breaker, n int) {
	t.Helper()
	for i := range n {
		if err := b.Do(t.Context(), fail); err != errBoom {
			t.Fatalf("failing call %d: Do() = %v; want %v", i+1, err, errBoom)
		}
	}
}

func wantState(t *testing.T, b *Breaker, want State) {
	t.Helper()
	if got := b.State(); got != want {
		t.Fatalf("State() = %v; want %v", got, want)
	}
}

// hookLog records state changes as "from->to".
type hookLog struct {
	mu  sync.Mutex
	got []string
}

func (h *hookLog) hook(name string, from, to State) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, fmt.Sprintf("%s:%v->%v", name, from, to))
}

func (h *hookLog) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.got, " ")
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Closed: "closed", HalfOpen: "half-open", Open: "open", 7: "breaker.State(7)"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q; want %q", int(s), got, want)
		}
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Success: "success", Failure: "failure", Excluded: "excluded", 7: "breaker.Outcome(7)"} {
		if got := fmt.Sprint(o); got != want {
			t.Errorf("Outcome(%d).String() = %q; want %q", int(o), got, want)
		}
	}
}

func TestPolicy(t *testing.T) {
	t.Run("the default trips on the 5th consecutive failure", func(t *testing.T) {
		b := New()
		failN(t, b, 4)
		wantState(t, b, Closed)
		failN(t, b, 1)
		wantState(t, b, Open)
	})
	t.Run("consecutive failures trip exactly at n and a success starts over", func(t *testing.T) {
		b := New(WithConsecutiveFailures(3))
		failN(t, b, 2)
		if err := b.Do(t.Context(), succeed); err != nil {
			t.Fatalf("Do(succeed) = %v; want nil", err)
		}
		failN(t, b, 2)
		wantState(t, b, Closed)
		if got := b.Counts(); got.ConsecutiveFailures != 2 || got.TotalFailures != 4 || got.Requests != 5 {
			t.Fatalf("Counts() = %+v; want 2 consecutive, 4 total failures, 5 requests", got)
		}
		failN(t, b, 1)
		wantState(t, b, Open)
	})
	t.Run("a ratio applies only once minRequests have finished", func(t *testing.T) {
		b := New(WithFailureRatio(0.5, 4))
		failN(t, b, 3) // 100% failures, but only 3 finished
		wantState(t, b, Closed)
		if err := b.Do(t.Context(), succeed); err != nil {
			t.Fatalf("Do(succeed) = %v; want nil", err)
		}
		wantState(t, b, Closed) // 3/4 >= 0.5, but a success never trips
		failN(t, b, 1)          // 4/5
		wantState(t, b, Open)
	})
	t.Run("a ratio trips at exactly the ratio", func(t *testing.T) {
		b := New(WithFailureRatio(0.3, 10))
		for range 7 {
			b.Do(t.Context(), succeed)
		}
		failN(t, b, 2)
		wantState(t, b, Closed) // 2/9, fewer than 10 finished
		failN(t, b, 1)          // 3/10 == 0.3
		wantState(t, b, Open)
	})
	t.Run("calls still running or cancelled by the caller do not count toward minRequests", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := New(WithFailureRatio(0.3, 2))
			ctx, cancel := context.WithCancel(t.Context())
			b.Do(ctx, func(ctx context.Context) error { cancel(); return ctx.Err() }) // excluded
			release := make(chan struct{})
			done := make(chan error)
			go func() { done <- b.Do(t.Context(), func(context.Context) error { <-release; return nil }) }()
			synctest.Wait()
			failN(t, b, 1) // 3 requests, 1/3 >= 0.3, but 1 finished: below minRequests
			wantState(t, b, Closed)
			close(release)
			if err := <-done; err != nil {
				t.Fatalf("Do() = %v; want nil", err)
			}
			failN(t, b, 1) // 2 of 3 finished failed
			wantState(t, b, Open)
		})
	})
	t.Run("a ratio alone ignores long runs below it", func(t *testing.T) {
		b := New(WithFailureRatio(0.9, 2))
		for range 20 {
			b.Do(t.Context(), succeed)
			b.Do(t.Context(), fail)
		}
		wantState(t, b, Closed)
	})
	t.Run("with both policies either trips", func(t *testing.T) {
		b := New(WithConsecutiveFailures(3), WithFailureRatio(0.5, 10))
		failN(t, b, 3)
		wantState(t, b, Open)

		b = New(WithConsecutiveFailures(3), WithFailureRatio(0.5, 4))
		b.Do(t.Context(), fail)
		b.Do(t.Context(), succeed)
		b.Do(t.Context(), fail)
		wantState(t, b, Closed)
		b.Do(t.Context(), succeed)
		wantState(t, b, Closed) // 2/4 >= 0.5 but checked on failures only
		b.Do(t.Context(), fail) // 3/5
		wantState(t, b, Open)
	})
	t.Run("a rolling window forgets old failures", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := New(WithConsecutiveFailures(3), WithWindow(10*time.Second, time.Second))
			failN(t, b, 2)
			time.Sleep(5 * time.Second)
			if got := b.Counts().ConsecutiveFailures; got != 2 {
				t.Fatalf("Counts().ConsecutiveFailures after 5s = %d; want 2", got)
			}
			time.Sleep(5 * time.Second) // the first failures' bucket leaves the window
			if got := b.Counts(); got.ConsecutiveFailures != 0 || got.Requests != 0 {
				t.Fatalf("Counts() after 10s = %+v; want all zero", got)
			}
			failN(t, b, 2)
			wantState(t, b, Closed)
			failN(t, b, 1)
			wantState(t, b, Open)
		})
	})
	t.Run("a rolling window keeps failures still inside it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := New(WithFailureRatio(0.5, 4), WithWindow(10*time.Second, time.Second))
			failN(t, b, 2)
			time.Sleep(9 * time.Second)
			b.Do(t.Context(), succeed)
			failN(t, b, 1) // 3 of 4 inside the window
			wantState(t, b, Open)
		})
	})
	t.Run("a fixed window clears all counts every interval", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := New(WithConsecutiveFailures(3), WithWindow(10*time.Second, 10*time.Second))
			failN(t, b, 2)
			time.Sleep(9 * time.Second)
			failN(t, b, 1)
			wantState(t, b, Open)

			b = New(WithConsecutiveFailures(3), WithWindow(10*time.Second, 10*time.Second))
			failN(t, b, 2)
			time.Sleep(10*time.Second + 1)
			failN(t, b, 2)
			wantState(t, b, Closed)
		})
	})
	t.Run("IsFailure decides which errors count", func(t *testing.T) {
		errNotFound := errors.New("not found")
		var calls atomic.Int32
		b := New(WithConsecutiveFailures(1), WithIsFailure(func(err error) bool {
			calls.Add(1)
			return !errors.Is(err, errNotFound)
		}))
		for range 3 {
			if err := b.Do(t.Context(), func(context.Context) error { return errNotFound }); err != errNotFound {
				t.Fatalf("Do() = %v; want %v", err, errNotFound)
			}
		}
		b.Do(t.Context(), succeed)
		if got := calls.Load(); got != 3 {
			t.Errorf("IsFailure called %d times; want 3 (never for nil)", got)
		}
		if got := b.Counts(); got.TotalSuccesses != 4 {
			t.Errorf("Counts() = %+v; want 4 successes", got)
		}
		failN(t, b, 1)
		wantState(t, b, Open)
	})
}

func TestOpenAndHalfOpen(t *testing.T) {
	t.Run("open rejects without calling and says when to come back", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := New(WithName("db"), WithConsecutiveFailures(1), WithOpenTimeout(30*time.Second))
			failN(t, b, 1)
			time.Sleep(10 * time.Second)
			called := false
			err := b.Do(t.Context(), func(context.Context) error { called = true; return nil })
			if called {
				t.Fatal("Do ran fn on an open breaker")
			}
			if !errors.Is(err, ErrOpen) || errors.Is(err, ErrTooManyRequests) {
				t.Fatalf("Do() = %v; want ErrOpen only", err)
			}
			var re *RejectedError
			if !errors.As(err, &re) {
				t.Fatalf("Do() = %T; want *RejectedError", err)
			}
			if want := 20*time.Second + time.Millisecond; re.RetryAfter() != want {
				t.Errorf("RetryAfter() = %v; want %v", re.RetryAfter(), want)
			}
			if re.Name != "db" || re.State != Open {
				t.Errorf("RejectedError = %+v; want Name db, State open", re)
			}
			if want := "breaker: db: circuit open; retry after 20.001s"; err.Error() != want {
				t.Errorf("Error() = %q; want %q", err.Error(), want)
			}
			if got := b.Counts(); got.Requests != 0 {
				t.Errorf("Counts() = %+v; want nothing counted while open", got)
			}
		})
	})
	t.Run("it half-opens strictly after the timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := New(WithConsecutiveFailures(1), WithOpenTimeout(30*time.Second))
			failN(t, b, 1)
			time.Sleep(30 * time.Second)
			wantState(t, b, Open)
			time.Sleep(time.Nanosecond)
			wantState(t, b, HalfOpen)
		})
	})
	t.Run("waiting RetryAfter finds it half-open", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := New(WithConsecutiveFailures(1), WithOpenTimeout(7*time.Second))
			failN(t, b, 1)
			for _, d := range []time.Duration{0, time.Nanosecond, 2*time.Second + 999*time.Microsecond} {
				time.Sleep(d)
				var re *RejectedError
				if err := b.Do(t.Context(), succeed); !errors.As(err, &re) {
					t.Fatalf("Do() = %v; want a rejection", err)
				}
				if re.RetryAfter() <= 0 || re.RetryAfter()%time.Millisecond != 0 {
					t.Fatalf("RetryAfter() = %v; want a positive whole number of ms", re.RetryAfter())
				}
				time.Sleep(re.RetryAfter() - time.Millisecond)
				wantState(t, b, Open)
				time.Sleep(time.Millisecond)
				wantState(t, b, HalfOpen)
				b.Trip()
			}
		})
	})
	t.Run("RetryAfter saturates under the largest open timeout", func(t *testing.T) {
		// WithOpenTimeout(math.MaxInt64) is how a caller says "open until
		// Reset"; rounding the time left up must not wrap it negative.
		b := New(WithOpenTimeout(math.MaxInt64))
		b.Trip()
		var re *RejectedError
		if err := b.Do(t.Context(), succeed); !errors.As(err, &re) {
			t.Fatalf("Do() = %v; want a rejection", err)
		}
		if got := re.RetryAfter(); got < math.MaxInt64/2 {
			t.Errorf("RetryAfter() = %v; want about %v", got, time.Duration(math.MaxInt64))
		}
	})
	t.Run("half-open admits exactly n concurrent probes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			const n = 3
			b := New(WithConsecutiveFailures(1), WithOpenTimeout(time.Second), WithHalfOpenRequests(n))
			failN(t, b, 1)
			time.Sleep(2 * time.Second)

			release := make(chan struct{})
			var active, peak atomic.Int32
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					errs[i] = b.Do(t.Context(), func(context.Context) error {
						peak.Store(max(peak.Load(), active.Add(1)))
						<-release
						active.Add(-1)
						return nil
					})
				})
			}
			synctest.Wait()
			if got := active.Load(); got != n {
				t.Fatalf("%d probes running; want %d", got, n)
			}
			for range 5 {
				err := b.Do(t.Context(), succeed)
				if !errors.Is(err, ErrTooManyRequests) {
					t.Fatalf("Do() past the probes = %v; want ErrTooManyRequests", err)
				}
				var re *RejectedError
				if !errors.As(err, &re) || re.RetryAfter() != 0 || re.State != HalfOpen {
					t.Fatalf("Do() past the probes = %#v; want *RejectedError{State: HalfOpen} with RetryAfter 0", err)
				}
			}
			wantState(t, b, HalfOpen)
			close(release)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("probe %d: Do() = %v; want nil", i, err)
				}
			}
			if got := peak.Load(); got != n {
				t.Errorf("peak probes = %d; want %d", got, n)
			}
			wantState(t, b, Closed)
		})
	})
	t.Run("n sequential successes close it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := New(WithConsecutiveFailures(1), WithOpenTimeout(time.Second), WithHalfOpenRequests(2))
			failN(t, b, 1)
			time.Sleep(2 * time.Second)
			b.Do(t.Context(), succeed)
			wantState(t, b, HalfOpen)
			b.Do(t.Context(), succeed)
			wantState(t, b, Closed)
			if got := b.Counts(); got != (Counts{}) {
				t.Errorf("Counts() after closing = %+v; want zero", got)
			}
		})
	})
	t.Run("a failing probe opens it again for a full timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := New(WithConsecutiveFailures(1), WithOpenTimeout(time.Second), WithHalfOpenRequests(2))
			failN(t, b, 1)
			time.Sleep(2 * time.Second)
			b.Do(t.Context(), succeed)
			failN(t, b, 1)
			wantState(t, b, Open)
			time.Sleep(time.Second)
			wantState(t, b, Open)
			time.Sleep(time.Nanosecond)
			wantState(t, b, HalfOpen)
		})
	})
}

func TestContext(t *testing.T) {
	t.Run("the caller's cancellation is not counted", func(t *testing.T) {
		b := New(WithConsecutiveFailures(1))
		ctx, cancel := context.WithCancel(t.Context())
		err := b.Do(ctx, func(ctx context.Context) error {
			cancel()
			return ctx.Err()
		})
		if err != context.Canceled {
			t.Fatalf("Do() = %v; want %v", err, context.Canceled)
		}
		wantState(t, b, Closed)
		if got := b.Counts(); got.TotalFailures != 0 || got.TotalExclusions != 1 {
			t.Errorf("Counts() = %+v; want 0 failures, 1 exclusion", got)
		}
	})
	t.Run("a cancellation returned as its cause is not counted", func(t *testing.T) {
		b := New(WithConsecutiveFailures(1))
		errStop := errors.New("stop")
		ctx, cancel := context.WithCancelCause(t.Context())
		err := b.Do(ctx, func(ctx context.Context) error {
			cancel(errStop)
			return fmt.Errorf("query: %w", context.Cause(ctx))
		})
		if !errors.Is(err, errStop) {
			t.Fatalf("Do() = %v; want %v", err, errStop)
		}
		wantState(t, b, Closed)
	})
	t.Run("context.Canceled from fn while ctx is live is a failure", func(t *testing.T) {
		b := New(WithConsecutiveFailures(1))
		b.Do(t.Context(), func(context.Context) error { return context.Canceled })
		wantState(t, b, Open)
	})
	t.Run("another error after the caller cancelled is a failure", func(t *testing.T) {
		b := New(WithConsecutiveFailures(1))
		ctx, cancel := context.WithCancel(t.Context())
		b.Do(ctx, func(ctx context.Context) error { cancel(); return errBoom })
		wantState(t, b, Open)
	})
	t.Run("a cancelled probe frees its half-open slot", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := New(WithConsecutiveFailures(1), WithOpenTimeout(time.Second))
			failN(t, b, 1)
			time.Sleep(2 * time.Second)
			ctx, cancel := context.WithCancel(t.Context())
			b.Do(ctx, func(ctx context.Context) error { cancel(); return ctx.Err() })
			wantState(t, b, HalfOpen)
			if err := b.Do(t.Context(), succeed); err != nil {
				t.Fatalf("Do() after the cancelled probe = %v; want nil", err)
			}
			wantState(t, b, Closed)
		})
	})
	t.Run("a deadline expiring during the call is a failure", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := New(WithConsecutiveFailures(1))
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			err := b.Do(ctx, func(ctx context.Context) error {
				<-ctx.Done()
				return ctx.Err()
			})
			if err != context.DeadlineExceeded {
				t.Fatalf("Do() = %v; want %v", err, context.DeadlineExceeded)
			}
			wantState(t, b, Open)
		})
	})
	t.Run("a ctx already done runs nothing and counts nothing", func(t *testing.T) {
		b := New(WithConsecutiveFailures(1))
		errStop := errors.New("stop")
		ctx, cancel := context.WithCancelCause(t.Context())
		cancel(errStop)
		called := false
		err := b.Do(ctx, func(context.Context) error { called = true; return nil })
		if err != errStop || called {
			t.Fatalf("Do() = %v, called = %v; want %v, false", err, called, errStop)
		}
		if got := b.Counts(); got != (Counts{}) {
			t.Errorf("Counts() = %+v; want zero", got)
		}
	})
	t.Run("fn receives the caller's ctx", func(t *testing.T) {
		type key struct{}
		ctx := context.WithValue(t.Context(), key{}, 42)
		b := New()
		b.Do(ctx, func(ctx context.Context) error {
			if ctx.Value(key{}) != 42 {
				t.Error("fn's ctx lacks the caller's value")
			}
			return nil
		})
	})
}

func TestPanics(t *testing.T) {
	t.Run("a panic is a failure returned as *PanicError", func(t *testing.T) {
		b := New(WithConsecutiveFailures(1))
		err := b.Do(t.Context(), func(context.Context) error { panic(errBoom) })
		var pe *PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("Do() = %v; want *PanicError", err)
		}
		if !errors.Is(err, errBoom) {
			t.Errorf("errors.Is(err, errBoom) = false; want true")
		}
		if !strings.Contains(string(pe.Stack), "breaker_test.go") {
			t.Errorf("Stack does not show the panicking function:\n%s", pe.Stack)
		}
		wantState(t, b, Open)
	})
	t.Run("a panic is a failure even if IsFailure says otherwise", func(t *testing.T) {
		b := New(WithConsecutiveFailures(1), WithIsFailure(func(error) bool { return false }))
		b.Do(t.Context(), func(context.Context) error { panic("oops") })
		wantState(t, b, Open)
	})
	t.Run("a panic in IsFailure propagates and counts as a failure", func(t *testing.T) {
		b := New(WithConsecutiveFailures(1), WithIsFailure(func(error) bool { panic("classify") }))
		func() {
			defer func() {
				if r := recover(); r != "classify" {
					t.Errorf("recover() = %v; want classify", r)
				}
			}()
			b.Do(t.Context(), fail)
		}()
		wantState(t, b, Open)
	})
	t.Run("DoValue returns a panic as *PanicError", func(t *testing.T) {
		b := New()
		v, err := DoValue(t.Context(), b, func(context.Context) (int, error) { panic("oops") })
		var pe *PanicError
		if v != 0 || !errors.As(err, &pe) || pe.Value != "oops" {
			t.Fatalf("DoValue() = %v, %v; want 0, *PanicError{oops}", v, err)
		}
	})
	t.Run("a Goexit is counted and lets the goroutine exit", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var log hookLog
			b := New(WithConsecutiveFailures(1), WithOpenTimeout(time.Second), WithOnStateChange(log.hook))
			failN(t, b, 1)
			time.Sleep(2 * time.Second)
			wantState(t, b, HalfOpen)
			after := false
			done := make(chan struct{})
			go func() {
				defer close(done)
				b.Do(t.Context(), func(context.Context) error { runtime.Goexit(); return nil })
				after = true
			}()
			<-done
			if after {
				t.Fatal("Do returned after fn called Goexit")
			}
			// The probe's slot did not leak: it counted as a failure.
			if want := ":closed->open :open->half-open :half-open->open"; log.String() != want {
				t.Errorf("hook saw %q; want %q", log.String(), want)
			}
			wantState(t, b, Open)
		})
	})
}

func TestHooks(t *testing.T) {
	t.Run("hooks see every change in order", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var log hookLog
			b := New(WithName("db"), WithConsecutiveFailures(1), WithOpenTimeout(time.Second), WithOnStateChange(log.hook))
			failN(t, b, 1)
			time.Sleep(2 * time.Second)
			failN(t, b, 1)
			time.Sleep(2 * time.Second)
			b.Do(t.Context(), succeed)
			want := "db:closed->open db:open->half-open db:half-open->open db:open->half-open db:half-open->closed"
			if log.String() != want {
				t.Errorf("hook saw %q; want %q", log.String(), want)
			}
		})
	})
	t.Run("a hook runs before the call that caused the change returns", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var log hookLog
			b := New(WithConsecutiveFailures(1), WithOpenTimeout(time.Second), WithOnStateChange(log.hook))
			failN(t, b, 1)
			if want := ":closed->open"; log.String() != want {
				t.Fatalf("after Do: hook saw %q; want %q", log.String(), want)
			}
			time.Sleep(2 * time.Second)
			b.State()
			if want := ":closed->open :open->half-open"; log.String() != want {
				t.Fatalf("after State: hook saw %q; want %q", log.String(), want)
			}
		})
	})
	t.Run("the open to half-open change is noticed by Counts and Do too", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var log hookLog
			b := New(WithConsecutiveFailures(1), WithOpenTimeout(time.Second), WithOnStateChange(log.hook))
			failN(t, b, 1)
			time.Sleep(2 * time.Second)
			b.Counts()
			if want := ":closed->open :open->half-open"; log.String() != want {
				t.Fatalf("after Counts: hook saw %q; want %q", log.String(), want)
			}
			failN(t, b, 1)
			time.Sleep(2 * time.Second)
			b.Do(t.Context(), func(context.Context) error {
				if want := ":closed->open :open->half-open :half-open->open :open->half-open"; log.String() != want {
					t.Errorf("inside the probe: hook saw %q; want %q", log.String(), want)
				}
				return nil
			})
		})
	})
	t.Run("a hook that uses the breaker does not deadlock", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var seen []string
			var b *Breaker
			b = New(WithConsecutiveFailures(1), WithOpenTimeout(time.Second), WithOnStateChange(func(_ string, from, to State) {
				seen = append(seen, fmt.Sprintf("%v->%v state=%v failures=%d", from, to, b.State(), b.Counts().TotalFailures))
				if to == HalfOpen {
					b.Do(context.Background(), succeed) // closes it, from inside the hook
				}
			}))
			failN(t, b, 1)
			time.Sleep(2 * time.Second)
			wantState(t, b, HalfOpen) // what State saw, before its hook closed it
			wantState(t, b, Closed)
			want := []string{
				"closed->open state=open failures=0",
				"open->half-open state=half-open failures=0",
				"half-open->closed state=closed failures=0",
			}
			if fmt.Sprint(seen) != fmt.Sprint(want) {
				t.Errorf("hook saw %q; want %q", seen, want)
			}
		})
	})
	t.Run("hooks never run concurrently", func(t *testing.T) {
		var active, peak atomic.Int32
		var changes atomic.Int32
		b := New(WithConsecutiveFailures(1), WithOnStateChange(func(string, State, State) {
			peak.Store(max(peak.Load(), active.Add(1)))
			runtime.Gosched()
			changes.Add(1)
			active.Add(-1)
		}))
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for range 100 {
					if i%2 == 0 {
						b.Trip()
					} else {
						b.Reset()
					}
				}
			})
		}
		wg.Wait()
		b.State() // deliver anything left by a goroutine that handed it over
		if got := peak.Load(); got != 1 {
			t.Errorf("peak concurrent hooks = %d; want 1", got)
		}
		if changes.Load() == 0 {
			t.Error("no hook ran")
		}
	})
	t.Run("a panicking hook propagates and loses no later change", func(t *testing.T) {
		var log hookLog
		b := New(WithConsecutiveFailures(1), WithOnStateChange(func(name string, from, to State) {
			log.hook(name, from, to)
			if to == Open {
				panic("hook")
			}
		}))
		func() {
			defer func() {
				if r := recover(); r != "hook" {
					t.Errorf("recover() = %v; want hook", r)
				}
			}()
			b.Do(t.Context(), fail)
		}()
		b.Reset()
		if want := ":closed->open :open->closed"; log.String() != want {
			t.Errorf("hook saw %q; want %q", log.String(), want)
		}
	})
}

func TestManual(t *testing.T) {
	t.Run("Trip opens, then half-opens after the timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var log hookLog
			b := New(WithOpenTimeout(time.Minute), WithOnStateChange(log.hook))
			b.Do(t.Context(), fail)
			b.Trip()
			wantState(t, b, Open)
			if want := ":closed->open"; log.String() != want {
				t.Fatalf("hook saw %q; want %q", log.String(), want)
			}
			if got := b.Counts(); got != (Counts{}) {
				t.Errorf("Counts() after Trip = %+v; want zero", got)
			}
			var re *RejectedError
			if err := b.Do(t.Context(), succeed); !errors.As(err, &re) || re.RetryAfter() != time.Minute+time.Millisecond {
				t.Fatalf("Do() after Trip = %v; want ErrOpen with RetryAfter 1m0.001s", err)
			}
			time.Sleep(time.Minute)
			wantState(t, b, Open)
			time.Sleep(time.Nanosecond)
			wantState(t, b, HalfOpen)
			b.Do(t.Context(), succeed)
			wantState(t, b, Closed)
			if want := ":closed->open :open->half-open :half-open->closed"; log.String() != want {
				t.Errorf("hook saw %q; want %q", log.String(), want)
			}
		})
	})
	t.Run("Trip while open restarts the timeout without a hook", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var log hookLog
			b := New(WithOpenTimeout(time.Minute), WithOnStateChange(log.hook))
			b.Trip()
			time.Sleep(30 * time.Second)
			b.Trip()
			time.Sleep(30*time.Second + 1)
			wantState(t, b, Open)
			time.Sleep(30 * time.Second)
			wantState(t, b, HalfOpen)
			if want := ":closed->open :open->half-open"; log.String() != want {
				t.Errorf("hook saw %q; want %q", log.String(), want)
			}
		})
	})
	t.Run("Trip from half-open with every probe running", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var log hookLog
			b := New(WithConsecutiveFailures(1), WithOpenTimeout(time.Second), WithOnStateChange(log.hook))
			b.Trip()
			time.Sleep(2 * time.Second)
			release := make(chan struct{})
			done := make(chan error)
			go func() { done <- b.Do(t.Context(), func(context.Context) error { <-release; return nil }) }()
			synctest.Wait()
			b.Trip()
			wantState(t, b, Open)
			close(release)
			if err := <-done; err != nil {
				t.Fatalf("probe: Do() = %v; want nil", err)
			}
			wantState(t, b, Open) // the old probe's success is forgotten
			if want := ":closed->open :open->half-open :half-open->open"; log.String() != want {
				t.Errorf("hook saw %q; want %q", log.String(), want)
			}
		})
	})
	t.Run("Trip and Reset after an unnoticed open timeout report the half-open state they leave", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var log hookLog
			b := New(WithOpenTimeout(time.Second), WithOnStateChange(log.hook))
			b.Trip()
			time.Sleep(2 * time.Second) // half-open by now, but nobody looked
			b.Reset()
			b.Trip()
			time.Sleep(2 * time.Second)
			b.Trip()
			want := ":closed->open :open->half-open :half-open->closed :closed->open :open->half-open :half-open->open"
			if log.String() != want {
				t.Errorf("hook saw %q; want %q", log.String(), want)
			}
		})
	})
	t.Run("Reset closes and clears the counts", func(t *testing.T) {
		var log hookLog
		b := New(WithConsecutiveFailures(2), WithOnStateChange(log.hook))
		failN(t, b, 1)
		b.Reset()
		if got := b.Counts(); got != (Counts{}) {
			t.Errorf("Counts() after Reset = %+v; want zero", got)
		}
		if log.String() != "" {
			t.Errorf("Reset of a closed breaker ran the hook: %q", log.String())
		}
		failN(t, b, 1)
		wantState(t, b, Closed)
		failN(t, b, 1)
		wantState(t, b, Open)
		b.Reset()
		wantState(t, b, Closed)
		if err := b.Do(t.Context(), succeed); err != nil {
			t.Fatalf("Do() after Reset = %v; want nil", err)
		}
		if want := ":closed->open :open->closed"; log.String() != want {
			t.Errorf("hook saw %q; want %q", log.String(), want)
		}
	})
	t.Run("a call running across Reset is not counted", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := New(WithConsecutiveFailures(1))
			release := make(chan struct{})
			done := make(chan error)
			go func() { done <- b.Do(t.Context(), func(context.Context) error { <-release; return errBoom }) }()
			synctest.Wait()
			b.Reset()
			close(release)
			<-done
			wantState(t, b, Closed)
		})
	})
}

func TestDoValue(t *testing.T) {
	b := New(WithConsecutiveFailures(1))
	v, err := DoValue(t.Context(), b, func(context.Context) (string, error) { return "ok", nil })
	if v != "ok" || err != nil {
		t.Fatalf("DoValue() = %q, %v; want ok, nil", v, err)
	}
	v, err = DoValue(t.Context(), b, func(context.Context) (string, error) { return "partial", errBoom })
	if v != "partial" || err != errBoom {
		t.Fatalf("DoValue() = %q, %v; want partial, boom", v, err)
	}
	v, err = DoValue(t.Context(), b, func(context.Context) (string, error) { return "ran", nil })
	if v != "" || !errors.Is(err, ErrOpen) {
		t.Fatalf("DoValue() on an open breaker = %q, %v; want \"\", ErrOpen", v, err)
	}
}

func TestBadInput(t *testing.T) {
	cases := []struct {
		opt  Option
		want string
	}{
		{WithConsecutiveFailures(0), "breaker: WithConsecutiveFailures(0)"},
		{WithConsecutiveFailures(-1), "breaker: WithConsecutiveFailures(-1)"},
		{WithFailureRatio(0, 10), "breaker: WithFailureRatio(0, 10): ratio"},
		{WithFailureRatio(1.5, 10), "breaker: WithFailureRatio(1.5, 10): ratio"},
		{WithFailureRatio(-0.5, 10), "breaker: WithFailureRatio(-0.5, 10): ratio"},
		{WithFailureRatio(math.NaN(), 10), "breaker: WithFailureRatio(NaN, 10): ratio"},
		{WithHalfOpenRequests(-2), "breaker: WithHalfOpenRequests(-2)"},
		{WithFailureRatio(0.5, 0), "breaker: WithFailureRatio(0.5, 0): minRequests"},
		{WithWindow(0, time.Second), "breaker: WithWindow(0s, 1s): interval"},
		{WithWindow(time.Second, 0), "breaker: WithWindow(1s, 0s): bucket"},
		{WithWindow(time.Second, 2*time.Second), "breaker: WithWindow(1s, 2s): bucket"},
		{WithOpenTimeout(0), "breaker: WithOpenTimeout(0s)"},
		{WithOpenTimeout(-time.Second), "breaker: WithOpenTimeout(-1s)"},
		{WithHalfOpenRequests(0), "breaker: WithHalfOpenRequests(0)"},
		{WithIsFailure(nil), "breaker: WithIsFailure(nil)"},
		{WithOnStateChange(nil), "breaker: WithOnStateChange(nil)"},
		{nil, "breaker: nil Option passed to New"},
	}
	for _, c := range cases {
		for _, ctor := range []struct {
			name string
			f    func(...Option)
		}{{"New", func(o ...Option) { New(o...) }}, {"NewGroup", func(o ...Option) { NewGroup(o...) }}} {
			func() {
				defer func() {
					msg, _ := recover().(string)
					want := c.want
					if c.opt == nil {
						want = "breaker: nil Option passed to " + ctor.name + " (opts[1])"
					}
					if !strings.HasPrefix(msg, want) {
						t.Errorf("%s panicked with %q; want prefix %q", ctor.name, msg, want)
					}
				}()
				ctor.f(WithName("x"), c.opt)
			}()
		}
	}
	t.Run("a nil ctx or Breaker panics naming the function called and counts nothing", func(t *testing.T) {
		b := New()
		var nilCtx context.Context
		calls := 0
		for _, c := range []struct {
			want string
			call func()
		}{
			{"breaker: nil ctx passed to Do", func() { b.Do(nilCtx, func(context.Context) error { calls++; return nil }) }},
			{"breaker: nil ctx passed to DoValue", func() {
				DoValue(nilCtx, b, func(context.Context) (int, error) { calls++; return 1, nil })
			}},
			{"breaker: nil Breaker passed to DoValue", func() {
				DoValue(t.Context(), nil, func(context.Context) (int, error) { calls++; return 1, nil })
			}},
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
		if got := b.Counts(); calls != 0 || got != (Counts{}) {
			t.Errorf("calls = %d, Counts() = %+v; want 0 and zero", calls, got)
		}
	})
	t.Run("a nil fn is an error naming fn that matches ErrNilFunc, and counts nothing", func(t *testing.T) {
		b := New()
		if err := b.Do(t.Context(), nil); err == nil || err.Error() != "breaker: fn is nil" || !errors.Is(err, ErrNilFunc) {
			t.Errorf("Do(nil) = %v; want %q matching ErrNilFunc", err, "breaker: fn is nil")
		}
		if _, err := DoValue[int](t.Context(), b, nil); !errors.Is(err, ErrNilFunc) {
			t.Errorf("DoValue(nil) = %v; want ErrNilFunc", err)
		}
		if got := b.Counts(); got != (Counts{}) {
			t.Errorf("Counts() = %+v; want zero", got)
		}
	})
}

func TestGroup(t *testing.T) {
	t.Run("each key's breaker is created once under concurrency", func(t *testing.T) {
		g := NewGroup()
		const workers = 16
		got := make([][]*Breaker, workers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range workers {
			wg.Go(func() {
				<-start
				for k := range 50 {
					got[w] = append(got[w], g.Get(fmt.Sprint("host", k)))
				}
			})
		}
		close(start)
		wg.Wait()
		for w := 1; w < workers; w++ {
			for k := range got[w] {
				if got[w][k] != got[0][k] {
					t.Fatalf("worker %d got a different breaker for host%d", w, k)
				}
			}
		}
		for k, b := range got[0] {
			if want := fmt.Sprint("host", k); b.Name() != want {
				t.Errorf("Name() = %q; want %q", b.Name(), want)
			}
		}
	})
	t.Run("keys trip independently and share the hook", func(t *testing.T) {
		var log hookLog
		g := NewGroup(WithName("ignored"), WithConsecutiveFailures(2), WithOnStateChange(log.hook))
		failN(t, g.Get("a.example"), 2)
		wantState(t, g.Get("a.example"), Open)
		wantState(t, g.Get("b.example"), Closed)
		if err := g.Get("b.example").Do(t.Context(), succeed); err != nil {
			t.Errorf("b.example: Do() = %v; want nil", err)
		}
		if want := "a.example:closed->open"; log.String() != want {
			t.Errorf("hook saw %q; want %q", log.String(), want)
		}
	})
}

func TestSuccessDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count")
	}
	b := New()
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { b.Do(ctx, succeed) }); n != 0 {
		t.Errorf("Do allocates %v times per successful call; want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		DoValue(ctx, b, func(context.Context) (int, error) { return 1, nil })
	}); n != 0 {
		t.Errorf("DoValue allocates %v times per successful call; want 0", n)
	}
}
