package retryhttp_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/retry/retryhttp"
)

// statusThenOK is a base that answers code with header (name, value pairs)
// n times, then 200; calls counts its calls.
func statusThenOK(calls *int, n, code int, header ...string) http.RoundTripper {
	return baseFunc(func(r *http.Request) (*http.Response, error) {
		*calls++
		if *calls <= n {
			return (*bodies)(nil).respond(r, code, "busy", header...), nil
		}
		return (*bodies)(nil).respond(r, http.StatusOK, "ok"), nil
	})
}

// getStop sends a GET of url through tr, which must return a response,
// reads and closes it, and returns it with StopOf's error.
func getStop(t *testing.T, tr *retryhttp.Transport, ctx context.Context, url string) (*http.Response, error) {
	t.Helper()
	resp, err := tr.RoundTrip(mustRequest(t, "GET", url, nil).WithContext(ctx))
	if err != nil {
		t.Fatalf("RoundTrip() = %v; want nil", err)
	}
	readAll(t, resp)
	return resp, retryhttp.StopOf(resp)
}

func TestHugeRetryAfter(t *testing.T) {
	t.Run("a Retry-After too large to parse ends the retries like any very long one", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			tr := retryhttp.New(retryhttp.WithRetry(retry.WithBackoff(time.Millisecond, time.Millisecond)),
				retryhttp.WithBase(statusThenOK(&calls, 1, http.StatusServiceUnavailable, "Retry-After", "99999999999999999999999")))
			start := time.Now()
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want nil", err)
			}
			readAll(t, resp)
			if resp.StatusCode != 503 || calls != 1 || time.Since(start) != 0 {
				t.Errorf("RoundTrip() = %d after %d calls and %v; want 503 after 1 call, at once", resp.StatusCode, calls, time.Since(start))
			}
			var h *retryhttp.HintError
			if !errors.As(retryhttp.StopOf(resp), &h) || h.Wait != math.MaxInt64 {
				t.Errorf("StopOf() = %v; want a *HintError with the largest wait", retryhttp.StopOf(resp))
			}
		})
	})
}

func TestStopOf(t *testing.T) {
	policy := retryhttp.WithRetry(retry.WithBackoff(time.Millisecond, time.Millisecond), retry.WithJitter(0))

	t.Run("a hint past WithMaxRetryAfter is a *HintError with the limit", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			tr := retryhttp.New(policy, retryhttp.WithMaxRetryAfter(2*time.Second),
				retryhttp.WithBase(statusThenOK(&calls, 1, http.StatusTooManyRequests, "Retry-After", "3")))
			resp, stop := getStop(t, tr, context.Background(), "http://a.test/")
			var h *retryhttp.HintError
			if !errors.As(stop, &h) || h.Wait != 3*time.Second || h.Limit != 2*time.Second || h.PastDeadline {
				t.Fatalf("StopOf() = %v; want a *HintError{Wait: 3s, Limit: 2s}", stop)
			}
			var se *retryhttp.StatusError
			if !errors.As(stop, &se) || se.StatusCode != 429 {
				t.Errorf("StopOf() = %v; want it to hold the 429's *StatusError", stop)
			}
			if errors.Is(stop, retry.ErrExhausted) {
				t.Errorf("StopOf() = %v matches retry.ErrExhausted; want not (no bound of the policy ended it)", stop)
			}
			if got := retryhttp.AttemptsOf(resp); got != 1 {
				t.Errorf("AttemptsOf() = %d; want 1", got)
			}
		})
	})

	t.Run("a hint past the ctx deadline is a *HintError with the time left", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			tr := retryhttp.New(policy,
				retryhttp.WithBase(statusThenOK(&calls, 1, http.StatusServiceUnavailable, "Retry-After", "10")))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, stop := getStop(t, tr, ctx, "http://a.test/")
			var h *retryhttp.HintError
			if !errors.As(stop, &h) || h.Wait != 10*time.Second || h.Limit != 5*time.Second || !h.PastDeadline {
				t.Fatalf("StopOf() = %v; want a *HintError{Wait: 10s, Limit: 5s, PastDeadline}", stop)
			}
			if !errors.Is(stop, retry.ErrExhausted) {
				t.Errorf("StopOf() = %v; want it to match retry.ErrExhausted (the deadline is a bound)", stop)
			}
		})
	})

	t.Run("the attempt limit is retry.ErrExhausted without a *HintError", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			tr := retryhttp.New(retryhttp.WithRetry(retry.WithMaxAttempts(3), retry.WithBackoff(time.Millisecond, time.Millisecond)),
				retryhttp.WithBase(statusThenOK(&calls, 5, http.StatusBadGateway)))
			resp, stop := getStop(t, tr, context.Background(), "http://a.test/")
			var h *retryhttp.HintError
			if !errors.Is(stop, retry.ErrExhausted) || errors.As(stop, &h) || retryhttp.AttemptsOf(resp) != 3 {
				t.Errorf("StopOf() = %v after %d attempts; want retry.ErrExhausted, no *HintError, after 3", stop, retryhttp.AttemptsOf(resp))
			}
		})
	})

	t.Run("a response that was not to be retried has none", func(t *testing.T) {
		for _, code := range []int{200, 404} {
			calls := 0
			tr := retryhttp.New(policy, retryhttp.WithBase(statusThenOK(&calls, 1, code)))
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want nil", err)
			}
			readAll(t, resp)
			if stop := retryhttp.StopOf(resp); stop != nil {
				t.Errorf("StopOf(a %d) = %v; want nil", code, stop)
			}
		}
		if stop := retryhttp.StopOf(nil); stop != nil {
			t.Errorf("StopOf(nil) = %v; want nil", stop)
		}
	})

	t.Run("a breaker rejection past WithMaxRetryAfter is a *HintError matching breaker.ErrOpen", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := breaker.NewGroup(breaker.WithConsecutiveFailures(1), breaker.WithOpenTimeout(time.Minute))
			g.Get("down.test").Trip()
			calls := 0
			tr := retryhttp.New(policy, retryhttp.WithBreakers(g), retryhttp.WithMaxRetryAfter(time.Second),
				retryhttp.WithBase(statusThenOK(&calls, 0, 200)))
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://down.test/", nil))
			var h *retryhttp.HintError
			if resp != nil || !errors.Is(err, breaker.ErrOpen) || !errors.As(err, &h) || h.Wait < time.Minute || h.Limit != time.Second {
				t.Errorf("RoundTrip() = %v, %v; want nil and a *HintError{Wait: about 1m, Limit: 1s} matching breaker.ErrOpen", resp, err)
			}
			if calls != 0 {
				t.Errorf("the base was called %d times; want 0", calls)
			}
		})
	})
}
