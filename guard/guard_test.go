package guard_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/guard"
	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/retry"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var errDown = errors.New("down")

// fast is a retry policy with 4 attempts and no waits.
var fast = guard.WithRetry(retry.WithMaxAttempts(4), retry.WithBackoff(0, 0))

// logLimiter is a limit.Limiter that logs its acquisitions and releases
// into a shared log, and refuses when refuse is set.
type logLimiter struct {
	name   string
	log    *eventLog
	refuse atomic.Bool
	held   atomic.Int64
}

func (l *logLimiter) Acquire(ctx context.Context) (limit.Permit, error) {
	if l.refuse.Load() {
		l.log.add(l.name + " refuses")
		return limit.Permit{}, limit.NewRejectedError(l.name, "test refusal", 0)
	}
	l.log.add(l.name + " admits")
	l.held.Add(1)
	return limit.Permit{ID: 1}, nil
}

func (l *logLimiter) Release(_ limit.Permit, o limit.Outcome) {
	l.held.Add(-1)
	l.log.add(l.name + " released " + o.String())
}

type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (e *eventLog) add(s string) {
	e.mu.Lock()
	e.events = append(e.events, s)
	e.mu.Unlock()
}

func (e *eventLog) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.events, ", ")
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		msg := fmt.Sprint(recover())
		if !strings.HasPrefix(msg, "guard: ") || !strings.Contains(msg, want) {
			t.Errorf("panic = %q; want one starting with \"guard: \" naming %q", msg, want)
		}
	}()
	f()
}

func TestBadInput(t *testing.T) {
	t.Run("bad options panic naming the option", func(t *testing.T) {
		mustPanic(t, "WithFallback(nil)", func() { guard.WithFallback[int](nil) })
		mustPanic(t, "WithFallbackIf(nil)", func() { guard.WithFallbackIf(nil) })
		mustPanic(t, "WithRetry: retry: bad option WithMaxAttempts(0)", func() { guard.WithRetry(retry.WithMaxAttempts(0)) })
		mustPanic(t, "WithBudget(nil)", func() { guard.WithBudget(nil) })
		mustPanic(t, "WithHedge(-1ms, 2): negative delay", func() { guard.WithHedge(-time.Millisecond, 2) })
		mustPanic(t, "WithHedge(1ms, 1)", func() { guard.WithHedge(time.Millisecond, 1) })
		mustPanic(t, "WithBreaker(nil)", func() { guard.WithBreaker(nil) })
		mustPanic(t, "WithRateLimiter(nil)", func() { guard.WithRateLimiter(nil) })
		mustPanic(t, "WithConcurrencyLimiter(nil)", func() { guard.WithConcurrencyLimiter(nil) })
		mustPanic(t, "opts[1]", func() { guard.New(fast, nil) })
	})
	t.Run("options that need another panic in New without it", func(t *testing.T) {
		mustPanic(t, "WithFallbackIf without WithFallback", func() {
			guard.New(guard.WithFallbackIf(func(error) bool { return true }))
		})
		mustPanic(t, "WithBudget without WithRetry or WithHedge", func() {
			guard.New(guard.WithBudget(retry.NewBudget(0.1, 1, time.Second)))
		})
	})
	t.Run("a budget ratio outside (0, 1] panics in retry.NewBudget", func(t *testing.T) {
		defer func() {
			if msg := fmt.Sprint(recover()); !strings.Contains(msg, "NewBudget(ratio 2)") {
				t.Errorf("panic = %q; want it to name the ratio", msg)
			}
		}()
		retry.NewBudget(2, 1, time.Second)
	})
	t.Run("DoValue with a type other than the fallback's panics naming both", func(t *testing.T) {
		g := guard.New(guard.WithFallback(func(context.Context, error) (string, error) { return "", nil }))
		mustPanic(t, "DoValue[int] on a guard whose fallback returns string", func() {
			guard.DoValue(t.Context(), g, func(context.Context) (int, error) { return 1, nil })
		})
	})
	t.Run("a nil fn returns ErrNilFunc and counts nothing", func(t *testing.T) {
		b := breaker.New()
		g := guard.New(guard.WithBreaker(b), fast)
		if err := g.Do(t.Context(), nil); err != guard.ErrNilFunc {
			t.Errorf("Do(nil) = %v; want ErrNilFunc", err)
		}
		if _, err := guard.DoValue[int](t.Context(), g, nil); err != guard.ErrNilFunc {
			t.Errorf("DoValue(nil) = %v; want ErrNilFunc", err)
		}
		if c := b.Counts(); c.Requests != 0 {
			t.Errorf("Counts() = %+v; want nothing", c)
		}
	})
	t.Run("a nil ctx panics", func(t *testing.T) {
		g := guard.New()
		mustPanic(t, "nil ctx passed to Do", func() {
			//lint:ignore SA1012 the nil ctx is the point
			g.Do(nil, func(context.Context) error { return nil })
		})
		mustPanic(t, "nil ctx passed to DoValue", func() {
			//lint:ignore SA1012 the nil ctx is the point
			guard.DoValue(nil, g, func(context.Context) (int, error) { return 0, nil })
		})
	})
}

func TestOrder(t *testing.T) {
	t.Run("each attempt passes breaker, rate limiter, concurrency limiter, in that order", func(t *testing.T) {
		var log eventLog
		rate := &logLimiter{name: "rate", log: &log}
		conc := &logLimiter{name: "conc", log: &log}
		b := breaker.New(breaker.WithConsecutiveFailures(100))
		g := guard.New(fast, guard.WithBreaker(b), guard.WithRateLimiter(rate), guard.WithConcurrencyLimiter(conc))
		calls := 0
		_, err := guard.DoValue(t.Context(), g, func(context.Context) (int, error) {
			calls++
			log.add(fmt.Sprintf("fn (rate held %d, conc held %d)", rate.held.Load(), conc.held.Load()))
			if calls < 2 {
				return 0, errDown
			}
			return 1, nil
		})
		if err != nil {
			t.Fatalf("DoValue = %v; want nil", err)
		}
		want := "rate admits, conc admits, fn (rate held 1, conc held 1), conc released failure, rate released failure, " +
			"rate admits, conc admits, fn (rate held 1, conc held 1), conc released success, rate released success"
		if got := log.String(); got != want {
			t.Errorf("events:\n%s\nwant:\n%s", got, want)
		}
		// The breaker sits inside the retry: it saw both attempts.
		if c := b.Counts(); c.Requests != 2 || c.TotalFailures != 1 || c.TotalSuccesses != 1 {
			t.Errorf("breaker Counts() = %+v; want 2 requests, 1 failure, 1 success", c)
		}
	})
	t.Run("an open breaker refuses before the limiters are asked", func(t *testing.T) {
		var log eventLog
		rate := &logLimiter{name: "rate", log: &log}
		b := breaker.New()
		b.Trip()
		g := guard.New(guard.WithBreaker(b), guard.WithRateLimiter(rate))
		err := g.Do(t.Context(), func(context.Context) error { t.Error("fn ran behind an open breaker"); return nil })
		if !errors.Is(err, breaker.ErrOpen) {
			t.Errorf("Do = %v; want ErrOpen", err)
		}
		if got := log.String(); got != "" {
			t.Errorf("limiter events %q; want none", got)
		}
	})
	t.Run("a limiter's refusals never count against the breaker", func(t *testing.T) {
		var log eventLog
		conc := &logLimiter{name: "conc", log: &log}
		conc.refuse.Store(true)
		b := breaker.New(breaker.WithConsecutiveFailures(1))
		g := guard.New(fast, guard.WithBreaker(b), guard.WithConcurrencyLimiter(conc))
		for range 3 {
			err := g.Do(t.Context(), func(context.Context) error { t.Error("fn ran though refused"); return nil })
			if !errors.Is(err, limit.ErrRejected) {
				t.Fatalf("Do = %v; want it to match limit.ErrRejected", err)
			}
			var re *retry.Error
			if !errors.As(err, &re) || re.Attempts != 4 {
				t.Fatalf("Do = %v; want a *retry.Error after 4 attempts (a refusal is retried)", err)
			}
		}
		if s := b.State(); s != breaker.Closed {
			t.Errorf("breaker %v after 12 refusals; want closed", s)
		}
		if c := b.Counts(); c.TotalFailures != 0 || c.TotalExclusions != 12 {
			t.Errorf("breaker Counts() = %+v; want 12 exclusions, no failure", c)
		}
	})
	t.Run("the breaker counts every attempt and opens inside the retry", func(t *testing.T) {
		b := breaker.New(breaker.WithConsecutiveFailures(3), breaker.WithOpenTimeout(time.Hour))
		g := guard.New(fast, guard.WithBreaker(b))
		calls := 0
		err := g.Do(t.Context(), func(context.Context) error { calls++; return errDown })
		// Attempts 1-3 fail and open the breaker; the 4th is rejected
		// (its RetryAfter of an hour would pass no deadline: the attempt
		// limit ends it).
		if calls != 3 || !errors.Is(err, breaker.ErrOpen) {
			t.Errorf("Do = %v after %d calls; want 3 calls, then the breaker's rejection", err, calls)
		}
	})
	t.Run("the fallback sees the retries' final error", func(t *testing.T) {
		var got error
		g := guard.New(fast, guard.WithFallback(func(_ context.Context, err error) (int, error) { got = err; return -1, nil }))
		v, err := guard.DoValue(t.Context(), g, func(context.Context) (int, error) { return 0, errDown })
		var re *retry.Error
		if v != -1 || err != nil || !errors.As(got, &re) || re.Attempts != 4 || !errors.Is(got, errDown) {
			t.Errorf("DoValue = %d, %v; fallback got %v; want -1, nil, and the fallback to get the *retry.Error of 4 attempts", v, err, got)
		}
	})
}

func TestFallback(t *testing.T) {
	fb := guard.WithFallback(func(_ context.Context, err error) (string, error) {
		return "fallback for " + strings.SplitN(err.Error(), "\n", 2)[0], nil
	})
	t.Run("a success does not call it", func(t *testing.T) {
		g := guard.New(fb)
		v, err := guard.DoValue(t.Context(), g, func(context.Context) (string, error) { return "ok", nil })
		if v != "ok" || err != nil {
			t.Errorf("DoValue = %q, %v; want ok", v, err)
		}
	})
	t.Run("a rejection reaches it", func(t *testing.T) {
		b := breaker.New(breaker.WithName("db"))
		b.Trip()
		g := guard.New(fb, guard.WithBreaker(b))
		v, err := guard.DoValue(t.Context(), g, func(context.Context) (string, error) { return "ok", nil })
		if !strings.HasPrefix(v, "fallback for breaker: db: circuit open") || err != nil {
			t.Errorf("DoValue = %q, %v; want the fallback's value for the rejection", v, err)
		}
	})
	t.Run("a panic reaches it as a *PanicError, not retried", func(t *testing.T) {
		var got error
		g := guard.New(fast, guard.WithFallback(func(_ context.Context, err error) (string, error) { got = err; return "", err }))
		calls := 0
		_, err := guard.DoValue(t.Context(), g, func(context.Context) (string, error) { calls++; panic("boom") })
		var pe *guard.PanicError
		if !errors.As(got, &pe) || pe.Value != "boom" || !errors.As(err, &pe) || calls != 1 {
			t.Errorf("fallback got %v, DoValue = %v after %d calls; want a *PanicError once", got, err, calls)
		}
	})
	t.Run("it may return a new error", func(t *testing.T) {
		errNew := errors.New("new")
		g := guard.New(guard.WithFallback(func(context.Context, error) (int, error) { return 0, errNew }))
		if err := g.Do(t.Context(), func(context.Context) error { return errDown }); err != errNew {
			t.Errorf("Do = %v; want the fallback's error", err)
		}
	})
	t.Run("Do drops the fallback's value and returns its nil error", func(t *testing.T) {
		g := guard.New(fb)
		if err := g.Do(t.Context(), func(context.Context) error { return errDown }); err != nil {
			t.Errorf("Do = %v; want nil", err)
		}
	})
	t.Run("the caller's own cancellation never reaches it", func(t *testing.T) {
		called := false
		g := guard.New(guard.WithFallback(func(context.Context, error) (int, error) { called = true; return 1, nil }),
			guard.WithFallbackIf(func(error) bool { return true }))
		ctx, cancel := context.WithCancel(t.Context())
		_, err := guard.DoValue(ctx, g, func(ctx context.Context) (int, error) { cancel(); return 0, ctx.Err() })
		if called || !errors.Is(err, context.Canceled) {
			t.Errorf("DoValue = %v, fallback called: %v; want context.Canceled, no fallback", err, called)
		}
	})
	t.Run("a deadline reaches it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := guard.New(guard.WithFallback(func(_ context.Context, err error) (int, error) { return 7, nil }))
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			v, err := guard.DoValue(ctx, g, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() })
			if v != 7 || err != nil {
				t.Errorf("DoValue = %d, %v; want the fallback's 7", v, err)
			}
		})
	})
	t.Run("WithFallbackIf chooses the errors", func(t *testing.T) {
		g := guard.New(fb, guard.WithFallbackIf(func(err error) bool { return errors.Is(err, breaker.ErrOpen) }))
		_, err := guard.DoValue(t.Context(), g, func(context.Context) (string, error) { return "", errDown })
		if err != errDown {
			t.Errorf("DoValue = %v; want errDown, not handed to the fallback", err)
		}
	})
	t.Run("a panic in the fallback comes back as a *PanicError", func(t *testing.T) {
		g := guard.New(guard.WithFallback(func(context.Context, error) (int, error) { panic("fallback bug") }))
		_, err := guard.DoValue(t.Context(), g, func(context.Context) (int, error) { return 0, errDown })
		var pe *guard.PanicError
		if !errors.As(err, &pe) || pe.Value != "fallback bug" {
			t.Errorf("DoValue = %v; want the fallback's panic", err)
		}
		if err := g.Do(t.Context(), func(context.Context) error { return errDown }); !errors.As(err, &pe) {
			t.Errorf("Do = %v; want the fallback's panic", err)
		}
	})
}

func TestPanics(t *testing.T) {
	t.Run("a panic releases the permits, counts as the breaker's failure, and is not retried", func(t *testing.T) {
		bh := limit.NewBulkhead(1)
		b := breaker.New(breaker.WithConsecutiveFailures(100))
		g := guard.New(fast, guard.WithBreaker(b), guard.WithConcurrencyLimiter(bh))
		calls := 0
		err := g.Do(t.Context(), func(context.Context) error { calls++; panic(errDown) })
		var pe *guard.PanicError
		if !errors.As(err, &pe) || !errors.Is(err, errDown) || calls != 1 {
			t.Errorf("Do = %v after %d calls; want a *PanicError wrapping errDown, one call", err, calls)
		}
		if s := bh.Stats(); s.InFlight != 0 {
			t.Errorf("bulkhead Stats() = %+v; want the permit released", s)
		}
		if c := b.Counts(); c.TotalFailures != 1 {
			t.Errorf("breaker Counts() = %+v; want 1 failure", c)
		}
	})
	t.Run("a guard with no policy still recovers a panic", func(t *testing.T) {
		err := guard.New().Do(t.Context(), func(context.Context) error { panic("bare") })
		var pe *guard.PanicError
		if !errors.As(err, &pe) || pe.Value != "bare" {
			t.Errorf("Do = %v; want a *PanicError", err)
		}
	})
}

func TestBudget(t *testing.T) {
	t.Run("in an outage the budget refuses retries, and the fallback sees it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			budget := retry.NewBudget(0.15, 1, 10*time.Second)
			var refused atomic.Int64
			g := guard.New(fast, guard.WithBudget(budget),
				guard.WithFallback(func(_ context.Context, err error) (int, error) {
					if errors.Is(err, retry.ErrBudgetExhausted) {
						refused.Add(1)
					}
					return 0, err
				}))
			attempts := 0
			const requests = 3000 // 100 a second for 30s
			for range requests {
				_, err := guard.DoValue(t.Context(), g, func(context.Context) (int, error) { attempts++; return 0, errDown })
				if !errors.Is(err, errDown) {
					t.Fatalf("DoValue = %v; want errDown inside", err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if per := float64(attempts) / requests; per > 1.2 {
				t.Errorf("%.3f attempts per request; want <= 1.2", per)
			}
			if refused.Load() < requests*8/10 {
				t.Errorf("the fallback saw ErrBudgetExhausted %d times in %d requests; want most", refused.Load(), requests)
			}
			if s := budget.Stats(); s.Refused == 0 || s.Spent == 0 {
				t.Errorf("budget Stats() = %+v; want some spent, some refused", s)
			}
		})
	})
}

func TestConcurrentUse(t *testing.T) {
	t.Run("many goroutines share one guard; the bulkhead's bound holds", func(t *testing.T) {
		bh := limit.NewBulkhead(2)
		b := breaker.New(breaker.WithConsecutiveFailures(1000))
		g := guard.New(guard.WithRetry(retry.WithMaxAttempts(50), retry.WithBackoff(0, 0)),
			guard.WithBreaker(b), guard.WithConcurrencyLimiter(bh),
			guard.WithFallback(func(context.Context, error) (int, error) { return -1, nil }))
		var active, peak atomic.Int64
		var wg sync.WaitGroup
		var ok atomic.Int64
		for i := range 16 {
			wg.Go(func() {
				for j := range 50 {
					v, err := guard.DoValue(t.Context(), g, func(context.Context) (int, error) {
						n := active.Add(1)
						defer active.Add(-1)
						for {
							p := peak.Load()
							if n <= p || peak.CompareAndSwap(p, n) {
								break
							}
						}
						runtime.Gosched()
						return i*100 + j, nil
					})
					if err == nil && v == i*100+j {
						ok.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if peak.Load() > 2 {
			t.Errorf("peak concurrency %d; want <= 2", peak.Load())
		}
		if ok.Load() != 800 {
			t.Errorf("%d of 800 calls got their own value; want all (a refusal is retried)", ok.Load())
		}
	})
}

// closableStore is a breaker.Store that fails every operation once closed,
// as a store whose connection is gone does.
type closableStore struct {
	mu     sync.Mutex
	closed bool
}

var errStoreClosed = errors.New("store closed")

func (s *closableStore) op() (breaker.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return breaker.Snapshot{}, errStoreClosed
	}
	return breaker.Snapshot{State: breaker.Closed, Generation: 1}, nil
}

func (s *closableStore) Admit(context.Context, string, *breaker.Policy) (breaker.Ticket, breaker.Snapshot, error) {
	snap, err := s.op()
	return breaker.Ticket{Admitted: err == nil, Generation: 1}, snap, err
}
func (s *closableStore) Record(context.Context, string, *breaker.Policy, breaker.Ticket, breaker.Outcome) (breaker.Snapshot, error) {
	return s.op()
}
func (s *closableStore) Load(context.Context, string, *breaker.Policy) (breaker.Snapshot, error) {
	return s.op()
}
func (s *closableStore) Force(context.Context, string, *breaker.Policy, breaker.State) (breaker.Snapshot, error) {
	return s.op()
}
func (s *closableStore) Watch(string, func(breaker.Snapshot)) {}
func (s *closableStore) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

func TestStoreClosed(t *testing.T) {
	t.Run("a guard keeps working after its breaker's store is closed", func(t *testing.T) {
		store := &closableStore{}
		b := breaker.New(breaker.WithName("svc"), breaker.WithStore(store), breaker.WithConsecutiveFailures(2))
		g := guard.New(guard.WithRetry(retry.WithMaxAttempts(2), retry.WithBackoff(0, 0)), guard.WithBreaker(b))
		if v, err := guard.DoValue(t.Context(), g, func(context.Context) (int, error) { return 1, nil }); v != 1 || err != nil {
			t.Fatalf("before Close: DoValue = %d, %v; want 1", v, err)
		}
		store.Close()
		for i := range 3 {
			if v, err := guard.DoValue(t.Context(), g, func(context.Context) (int, error) { return 2, nil }); v != 2 || err != nil {
				t.Fatalf("after Close, call %d: DoValue = %d, %v; want 2", i, v, err)
			}
		}
		// The breaker goes on with its own state: two failures open it.
		err := g.Do(t.Context(), func(context.Context) error { return errDown })
		if !errors.Is(err, errDown) {
			t.Fatalf("Do = %v; want errDown", err)
		}
		if s := b.State(); s != breaker.Open {
			t.Errorf("breaker %v; want the local breaker open", s)
		}
	})
}

func TestFirstTrySuccessDoesNotAllocate(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	ctx := context.Background()
	g := guard.New(guard.WithRetry(), guard.WithBreaker(breaker.New()),
		guard.WithBudget(retry.NewBudget(0.1, 1, time.Second)))
	fn := func(context.Context) (int, error) { return 1, nil }
	efn := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(100, func() { guard.DoValue(ctx, g, fn) }); n != 0 {
		t.Errorf("DoValue allocates %v times per call; want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { g.Do(ctx, efn) }); n != 0 {
		t.Errorf("Do allocates %v times per call; want 0", n)
	}
}
