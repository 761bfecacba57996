package retryhttp

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/limit"
)

// WithLimiters admits each attempt through a limiter of its host (the
// request URL's Host), so that a client never sends a host more than it
// agreed to: a rate (limit.NewRate), a number in flight
// (limit.NewBulkhead), or the adaptive limiter, which learns the host's
// capacity from latency. perHost is called once per host, on the host's
// first request, and its limiter kept for the Transport's life; it may
// return one limiter shared by every host. It must not return nil. It runs
// outside the Transport's locks, so it may send requests to other hosts
// through the same Transport; if it panics, that request fails with the
// panic (a *PanicError) and the host's next request calls it again.
//
//   - Each attempt (each copy of a hedged one) acquires a permit with the
//     attempt's ctx before the breaker ([WithBreakers]) and the base
//     transport see it, and releases it when the base transport returns
//     (the limiter measures the time to the response's headers) with the
//     attempt's outcome: limit.Dropped for a 503, 429 or 504 or a deadline,
//     limit.Failure for a transport error or another 5xx, limit.Ignored
//     for a breaker rejection (nothing was sent) or the caller's own
//     cancellation, limit.Success otherwise.
//   - A refusal is the attempt's error, and nothing is sent: it matches
//     limit.ErrRejected, is retried by the default [Retryable] after the
//     wait it asks for (its RetryAfter, as a breaker's rejection is), and
//     never counts against the host's breaker.
//
// A nil perHost panics.
func WithLimiters(perHost func(host string) limit.Limiter) Option {
	if perHost == nil {
		panic("retryhttp: WithLimiters(nil): perHost must not be nil")
	}
	return func(c *config) { c.limiters = &hostLimiters{make: perHost} }
}

// hostLimiters holds one limiter per host, made on first use.
type hostLimiters struct {
	make func(host string) limit.Limiter
	m    sync.Map // host -> *hostLimiter
}

// hostLimiter is one host's limiter, made once. make runs under once and
// no lock of the Transport's, so that it may send requests (to other
// hosts) through the same Transport, and one slow make holds up only the
// first requests of its own host.
type hostLimiter struct {
	once sync.Once
	l    limit.Limiter // set by once; nil if make panicked
}

// get returns host's limiter, making it on first use. If make panics, the
// panic goes on up to this request, and the host's next request calls make
// again.
func (h *hostLimiters) get(host string) limit.Limiter {
	for {
		v, ok := h.m.Load(host)
		if !ok {
			v, _ = h.m.LoadOrStore(host, &hostLimiter{})
		}
		e := v.(*hostLimiter)
		e.once.Do(func() {
			defer func() {
				if e.l == nil { // make panicked: forget e, so that the next request tries again
					h.m.CompareAndDelete(host, e)
				}
			}()
			l := h.make(host)
			if l == nil {
				panic("retryhttp: the WithLimiters function returned a nil limit.Limiter for host " + host)
			}
			e.l = l
		})
		if e.l != nil {
			return e.l
		}
		// make panicked on another goroutine: try again with a new entry.
	}
}

// limitedRoundTrip sends r under a permit of its host's limiter.
func (t *Transport) limitedRoundTrip(ctx context.Context, r *http.Request) (resp *http.Response, err error) {
	l := t.limiters.get(r.URL.Host)
	p, err := l.Acquire(ctx)
	if err != nil {
		closeBody(r) // refused: the base never had it
		return nil, err
	}
	o := limit.Failure // unless guardedRoundTrip returns
	defer func() { l.Release(p, o) }()
	resp, err = t.guardedRoundTrip(ctx, r)
	o = attemptOutcome(ctx, resp, err)
	return resp, err
}

// attemptOutcome is what a limiter learns from one attempt.
func attemptOutcome(ctx context.Context, resp *http.Response, err error) limit.Outcome {
	if err != nil {
		var rejected *breaker.RejectedError
		if errors.As(err, &rejected) {
			return limit.Ignored // not sent
		}
		return limit.OutcomeOf(ctx, err)
	}
	switch code := resp.StatusCode; {
	case code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests || code == http.StatusGatewayTimeout:
		return limit.Dropped
	case code >= 500:
		return limit.Failure
	}
	return limit.Success
}
