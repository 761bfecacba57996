package redislimit_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/limit/redislimit"
)

// Compile-time checks: both limiters plug in wherever a limit.Limiter does.
var (
	_ limit.Limiter = (*redislimit.Rate)(nil)
	_ limit.Limiter = (*redislimit.Semaphore)(nil)
)

func newRate(t testing.TB, s *server, name string, perSecond float64, burst int, opts ...redislimit.Option) *redislimit.Rate {
	opts = append([]redislimit.Option{redislimit.WithTimeout(time.Second)}, opts...)
	r := redislimit.NewRate(s.client(t), name, perSecond, burst, opts...)
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRateAccuracy(t *testing.T) {
	// 8 replicas (each its own client and Rate) hammer a limit of 100/s for
	// 10s: the shared limit admits 1000 +- 1%. The burst (50) is drained
	// before the clock starts, so it adds nothing to the count; it is there
	// so that a stall of the hammering clients (this machine is shared and
	// busy, and a slot no request arrives for is lost to a token bucket)
	// of up to half a second costs no token: the test measures the limiter,
	// not the scheduler.
	s := startRedis(t)
	const replicas, perSecond, burst, d = 8, 100, 50, 10 * time.Second
	var admitted, refused atomic.Int64
	rs := make([]*redislimit.Rate, replicas)
	for i := range rs {
		rs[i] = newRate(t, s, "accuracy", perSecond, burst)
	}
	for rs[0].Allow(t.Context()) {
	}
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() {
			for time.Now().Before(end) {
				if r.Allow(t.Context()) {
					admitted.Add(1)
				} else {
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	got, want := admitted.Load(), int64(perSecond*d/time.Second)
	t.Logf("admitted %d, refused %d in %v by %d replicas", got, refused.Load(), d, replicas)
	if tol := int64(perSecond * d / time.Second / 100); got < want-tol || got > want+tol {
		t.Errorf("admitted %d; want %d +- %d", got, want, tol)
	}
	for i, r := range rs {
		if !r.Shared() {
			t.Errorf("replica %d: Shared() = false; want true", i)
		}
	}
}

func TestRateWait(t *testing.T) {
	s := startRedis(t)

	t.Run("a wait that would pass the deadline is refused at once with the wait it needed", func(t *testing.T) {
		// A token every 2s and a deadline of 1s: wide margins, so that a
		// busy machine (CI under -race), slow between the two Waits or in
		// the round trip, cannot turn the refusal into a wait.
		r := newRate(t, s, "deadline", 0.5, 1)
		if err := r.Wait(t.Context()); err != nil {
			t.Fatalf("first Wait() = %v; want nil", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		err := r.Wait(ctx)
		var re *limit.RejectedError
		if !errors.As(err, &re) || !errors.Is(err, limit.ErrRejected) {
			t.Fatalf("Wait() = %v; want a *limit.RejectedError", err)
		}
		if ra := re.RetryAfter(); ra < time.Second || ra > 2*time.Second {
			t.Errorf("RetryAfter() = %v; want the rest of 2s", ra)
		}
		if el := time.Since(start); el > 500*time.Millisecond {
			t.Errorf("the refusal took %v; want at once (one round trip), not a wait toward the 1s deadline", el)
		}
		if re.Limiter != "deadline" || !strings.Contains(re.Reason, "deadline") {
			t.Errorf("RejectedError = %+v; want the limit's name and a reason naming the deadline", re)
		}
		if got := r.Stats().Rejected; got != 1 {
			t.Errorf("Stats().Rejected = %d; want 1", got)
		}
	})

	t.Run("waiters get successive slots, one round trip each", func(t *testing.T) {
		r := newRate(t, s, "slots", 50, 1) // a slot every 20ms
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				if err := r.Wait(ctx); err != nil {
					t.Errorf("Wait() = %v; want nil", err)
				}
			})
		}
		wg.Wait()
		// 6 tokens at 50/s, burst 1: the last one 100ms after the first.
		if el := time.Since(start); el < 95*time.Millisecond {
			t.Errorf("6 Waits took %v; want at least 100ms", el)
		}
	})

	t.Run("WithMaxWait refuses a longer wait", func(t *testing.T) {
		r := newRate(t, s, "maxwait", 1, 1, redislimit.WithMaxWait(10*time.Millisecond)) // the next token in 1s
		if !r.Allow(t.Context()) {
			t.Fatal("Allow() = false on a new limit; want true")
		}
		err := r.Do(t.Context(), func(context.Context) error { t.Error("fn ran"); return nil })
		if !errors.Is(err, limit.ErrRejected) || !strings.Contains(err.Error(), "max wait") {
			t.Errorf("Do() = %v; want a rejection naming the max wait", err)
		}
	})

	t.Run("a done ctx takes nothing", func(t *testing.T) {
		r := newRate(t, s, "done", 1, 1)
		ctx, cancel := context.WithCancelCause(t.Context())
		boom := errors.New("boom")
		cancel(boom)
		if err := r.Wait(ctx); err != boom {
			t.Errorf("Wait(done ctx) = %v; want its cause", err)
		}
		if r.Allow(ctx) {
			t.Error("Allow(done ctx) = true; want false")
		}
		if !r.Allow(t.Context()) {
			t.Error("Allow() = false after the refused calls; want true (they took nothing)")
		}
	})

	t.Run("Do recovers a panic and Release panics on a second release", func(t *testing.T) {
		r := newRate(t, s, "misuse", 1000, 10)
		err := r.Do(t.Context(), func(context.Context) error { panic("oops") })
		var pe *limit.PanicError
		if !errors.As(err, &pe) {
			t.Errorf("Do(panicking fn) = %v; want a *limit.PanicError", err)
		}
		if err := r.Do(t.Context(), nil); err != limit.ErrNilFunc {
			t.Errorf("Do(nil) = %v; want ErrNilFunc", err)
		}
		p, err := r.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		r.Release(p, limit.Success)
		defer func() {
			if v := recover(); v == nil || !strings.Contains(v.(string), "released twice") {
				t.Errorf("second Release panicked with %v; want a message naming the misuse", v)
			}
		}()
		r.Release(p, limit.Success)
	})
}

func TestBadInput(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, tc := range []struct {
		name, want string
		fn         func()
	}{
		{"nil client", "client is nil", func() { redislimit.NewRate(nil, "x", 1, 1) }},
		{"empty name", "name is empty", func() { redislimit.NewSemaphore(c, "", 1) }},
		{"zero rate", "perSecond", func() { redislimit.NewRate(c, "x", 0, 1) }},
		{"zero burst", "burst", func() { redislimit.NewRate(c, "x", 1, 0) }},
		{"zero permits", "n must be", func() { redislimit.NewSemaphore(c, "x", 0) }},
		{"a lease for a rate", "WithLease does not apply", func() { redislimit.NewRate(c, "x", 1, 1, redislimit.WithLease(time.Second)) }},
		{"a bad prefix", "WithPrefix", func() { redislimit.WithPrefix("a{b") }},
		{"a zero timeout", "WithTimeout", func() { redislimit.WithTimeout(0) }},
	} {
		t.Run(tc.name+" panics naming the argument", func(t *testing.T) {
			defer func() {
				v, _ := recover().(string)
				if !strings.HasPrefix(v, "redislimit: ") || !strings.Contains(v, tc.want) {
					t.Errorf("panic %q; want one starting with redislimit: and naming %q", v, tc.want)
				}
			}()
			tc.fn()
		})
	}
}
