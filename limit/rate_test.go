package limit_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/limit"
)

// mustPanic runs f and fails unless it panics with a message containing want.
func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		msg, _ := r.(string)
		if r == nil || !strings.Contains(msg, want) || !strings.HasPrefix(msg, "limit: ") {
			t.Errorf("panic = %v; want a message starting \"limit: \" containing %q", r, want)
		}
	}()
	f()
}

func TestNewRateBadInput(t *testing.T) {
	for _, tc := range []struct {
		name      string
		perSecond float64
		burst     int
		opts      []limit.Option
		want      string
	}{
		{"a zero rate", 0, 1, nil, "perSecond"},
		{"a negative rate", -1, 1, nil, "perSecond"},
		{"a NaN rate", math.NaN(), 1, nil, "perSecond"},
		{"a zero burst", 10, 0, nil, "burst"},
		{"an option for bulkheads", 10, 1, []limit.Option{limit.WithMaxWaiting(3)}, "WithMaxWaiting does not apply to a rate limiter"},
		{"a nil option", 10, 1, []limit.Option{nil}, "nil Option"},
	} {
		t.Run(tc.name+" panics naming it", func(t *testing.T) {
			mustPanic(t, tc.want, func() { limit.NewRate(tc.perSecond, tc.burst, tc.opts...) })
		})
	}
	t.Run("a negative max wait panics naming it", func(t *testing.T) {
		mustPanic(t, "WithMaxWait", func() { limit.WithMaxWait(-time.Second) })
	})
	t.Run("an infinite rate admits everything", func(t *testing.T) {
		r := limit.NewRate(math.Inf(1), 1)
		for i := range 1000 {
			if !r.Allow() {
				t.Fatalf("Allow() #%d = false; want true", i)
			}
		}
	})
}

func TestRateAllow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := limit.NewRate(10, 3) // a token every 100ms
		for i := range 3 {
			if !r.Allow() {
				t.Fatalf("Allow() #%d of the burst = false; want true", i)
			}
		}
		if r.Allow() {
			t.Fatal("Allow() past the burst = true; want false")
		}
		time.Sleep(99 * time.Millisecond)
		if r.Allow() {
			t.Fatal("Allow() 99ms later = true; want false")
		}
		time.Sleep(time.Millisecond)
		if !r.Allow() {
			t.Fatal("Allow() 100ms later = false; want true")
		}
		if got := r.Stats().Rejected; got != 0 {
			t.Errorf("Stats().Rejected = %d; want 0 (Allow counts no rejection)", got)
		}
	})
}

func TestRateWait(t *testing.T) {
	t.Run("waits for the next token", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := limit.NewRate(10, 1)
			start := time.Now()
			for range 3 {
				if err := r.Wait(t.Context()); err != nil {
					t.Fatalf("Wait() = %v; want nil", err)
				}
			}
			if got := time.Since(start); got != 200*time.Millisecond {
				t.Errorf("3 Waits took %v; want 200ms", got)
			}
		})
	})
	t.Run("a wait past the deadline is refused at once with the wait it needed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := limit.NewRate(1, 1)
			r.Allow()
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := r.Wait(ctx)
			var re *limit.RejectedError
			if !errors.As(err, &re) || !errors.Is(err, limit.ErrRejected) {
				t.Fatalf("Wait() = %v; want a *RejectedError matching ErrRejected", err)
			}
			if re.RetryAfter() != time.Second {
				t.Errorf("RetryAfter() = %v; want 1s", re.RetryAfter())
			}
			if time.Since(start) != 0 {
				t.Errorf("Wait() took %v; want no time at all", time.Since(start))
			}
			if !strings.Contains(err.Error(), "deadline") {
				t.Errorf("Error() = %q; want it to name the deadline", err)
			}
			if got := r.Stats().Rejected; got != 1 {
				t.Errorf("Stats().Rejected = %d; want 1", got)
			}
			// The refused wait took no token: one second on, one is there.
			time.Sleep(time.Second)
			if !r.Allow() {
				t.Error("Allow() a second after a refused Wait = false; want true (the refusal took a token)")
			}
		})
	})
	t.Run("a rate so low that its wait is ages is refused before the deadline", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := limit.NewRate(1e-300, 1)
			r.Allow()
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			var re *limit.RejectedError
			if err := r.Wait(ctx); !errors.As(err, &re) || re.RetryAfter() < 100*365*24*time.Hour {
				t.Fatalf("Wait() = %v; want a rejection with a RetryAfter of ages", err)
			}
		})
	})
	t.Run("a wait that ends before the deadline goes ahead", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := limit.NewRate(1, 1)
			r.Allow()
			ctx, cancel := context.WithTimeout(t.Context(), time.Second+time.Millisecond)
			defer cancel()
			if err := r.Wait(ctx); err != nil {
				t.Fatalf("Wait() = %v; want nil", err)
			}
		})
	})
	t.Run("WithMaxWait refuses a longer wait at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := limit.NewRate(2, 1, limit.WithMaxWait(100*time.Millisecond), limit.WithName("api"))
			r.Allow()
			err := r.Wait(t.Context())
			var re *limit.RejectedError
			if !errors.As(err, &re) || re.RetryAfter() != 500*time.Millisecond || re.Limiter != "api" {
				t.Fatalf("Wait() = %#v; want a rejection by \"api\" with RetryAfter 500ms", err)
			}
			time.Sleep(400 * time.Millisecond)
			if err := r.Wait(t.Context()); err != nil {
				t.Fatalf("Wait() 100ms before the token = %v; want nil", err)
			}
		})
	})
	t.Run("WithMaxWait(0) never waits", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := limit.NewRate(1000, 1, limit.WithMaxWait(0))
			r.Allow()
			if err := r.Wait(t.Context()); !errors.Is(err, limit.ErrRejected) {
				t.Fatalf("Wait() = %v; want ErrRejected", err)
			}
		})
	})
	t.Run("a done ctx takes no token", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := limit.NewRate(1, 1)
			cause := errors.New("gone")
			ctx, cancel := context.WithCancelCause(t.Context())
			cancel(cause)
			if err := r.Wait(ctx); err != cause {
				t.Fatalf("Wait(done ctx) = %v; want the cause", err)
			}
			if !r.Allow() {
				t.Error("Allow() after a Wait on a done ctx = false; want true")
			}
		})
	})
	t.Run("a ctx ending during the wait returns its cause and gives the token back", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := limit.NewRate(1, 1)
			r.Allow()
			cause := errors.New("caller left")
			ctx, cancel := context.WithCancelCause(t.Context())
			go func() {
				time.Sleep(100 * time.Millisecond)
				cancel(cause)
			}()
			if err := r.Wait(ctx); err != cause {
				t.Fatalf("Wait() = %v; want the cause", err)
			}
			if got := r.Stats().Rejected; got != 0 {
				t.Errorf("Stats().Rejected = %d; want 0 (a cancellation is not a rejection)", got)
			}
			// Its reservation was returned: the next token is due 1s after
			// the first was taken, not 2s.
			start := time.Now()
			if err := r.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := time.Since(start); got != 900*time.Millisecond {
				t.Errorf("the next Wait took %v; want 900ms", got)
			}
		})
	})
	t.Run("a nil ctx panics naming Wait", func(t *testing.T) {
		//lint:ignore SA1012 the nil ctx is the point
		mustPanic(t, "nil ctx passed to Wait", func() { _ = limit.NewRate(1, 1).Wait(nil) }) //nolint:staticcheck
	})
}

func TestRateDo(t *testing.T) {
	r := limit.NewRate(1000, 10)
	if err := r.Do(t.Context(), nil); err != limit.ErrNilFunc {
		t.Errorf("Do(nil) = %v; want ErrNilFunc", err)
	}
	errX := errors.New("x")
	if err := r.Do(t.Context(), func(context.Context) error { return errX }); err != errX {
		t.Errorf("Do() = %v; want fn's error", err)
	}
	err := r.Do(t.Context(), func(context.Context) error { panic("boom") })
	var pe *limit.PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" {
		t.Errorf("Do(panicking fn) = %v; want *PanicError with value boom", err)
	}
	synctest.Test(t, func(t *testing.T) {
		r := limit.NewRate(1, 1)
		r.Allow()
		ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
		defer cancel()
		called := false
		err := r.Do(ctx, func(context.Context) error { called = true; return nil })
		if !errors.Is(err, limit.ErrRejected) || called {
			t.Errorf("Do() past the deadline = %v, called %v; want ErrRejected, not called", err, called)
		}
	})
}

func TestRateAcquireRelease(t *testing.T) {
	r := limit.NewRate(1000, 2)
	p, err := r.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Stats().InFlight; got != 1 {
		t.Errorf("Stats().InFlight = %d; want 1", got)
	}
	r.Release(p, limit.Success)
	if got := r.Stats().InFlight; got != 0 {
		t.Errorf("Stats().InFlight after Release = %d; want 0", got)
	}
	mustPanic(t, "released twice", func() { r.Release(p, limit.Success) })
	mustPanic(t, "released twice", func() { r.Release(limit.Permit{}, limit.Success) })
}
