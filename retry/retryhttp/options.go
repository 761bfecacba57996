package retryhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/retry"
)

// DefaultMaxRetryAfter is the longest server hint a [Transport] waits for
// unless [WithMaxRetryAfter] says otherwise.
const DefaultMaxRetryAfter = time.Minute

// Option configures a [Transport] made by [New] or [NewClient].
type Option func(*config)

// config holds a Transport's settings; New copies it into the Transport.
type config struct {
	base          http.RoundTripper
	policy        []retry.Option
	retryIf       func(*http.Response, error) bool
	allMethods    bool
	breakers      *breaker.Group
	hedge         time.Duration
	maxRetryAfter time.Duration
	limiters      *hostLimiters // limiter.go
	budget        *retry.Budget
	obs           observe.Observer // observe.go
}

// WithBase sets the transport that sends each attempt (default
// http.DefaultTransport). A nil base panics.
func WithBase(base http.RoundTripper) Option {
	return func(c *config) {
		if base == nil {
			panic("retryhttp: WithBase(nil): base must not be nil")
		}
		c.base = base
	}
}

// WithRetry sets the retry policy: the options are passed, in order, to
// retry.Do for every request (without it, retry's defaults apply: at most
// five attempts with exponential backoff from 100ms). A bad option makes
// [New] panic with retry's description of it.
//
// retry.WithAttemptTimeout bounds each attempt, from sending the request to
// the end of reading the response body: a response returned to the caller
// must be read within it. retry.WithRetryIf sees the error of each attempt
// that [WithRetryIf] of this package let through (a transport error, or a
// [*StatusError] for a response); it can only narrow what is retried.
// retry.WithOnRetry sees the same errors, with the wait before the next
// attempt.
func WithRetry(opts ...retry.Option) Option {
	opts = append([]retry.Option(nil), opts...)
	return func(c *config) {
		// retry.Do reports a bad option without calling its function: a
		// dry run checks opts without knowing what an option is made of.
		// Its ctx is done, so that a good set returns at once having
		// touched nothing (a retry.WithBudget among opts deposits nothing,
		// no observer hears of it). observe.Discard, last, keeps the run
		// silent whatever retry.Do does with a done ctx.
		done, cancel := context.WithCancel(context.Background())
		cancel()
		check := append(opts[:len(opts):len(opts)], retry.WithObserver(observe.Discard))
		if err := retry.Do(done, func(context.Context) error { return nil }, check...); !errors.Is(err, context.Canceled) {
			panic("retryhttp: WithRetry: " + err.Error())
		}
		c.policy = opts
	}
}

// WithRetryIf sets which outcomes of an attempt are retried (default
// [Retryable]). It is called with the response and a nil error when the
// base transport returned one, or with a nil response and the error when it
// failed; it must not read or close the body, and it must be safe for
// concurrent use. A panic in it ends the request: RoundTrip returns it as a
// *[PanicError], after closing the response and ending any hedged copy. A
// nil function panics.
//
// Whatever it says, a non-idempotent request is sent once (see [Transport])
// and a panic in the base transport is never retried.
func WithRetryIf(retryable func(resp *http.Response, err error) bool) Option {
	return func(c *config) {
		if retryable == nil {
			panic("retryhttp: WithRetryIf(nil): retryable must not be nil")
		}
		c.retryIf = retryable
	}
}

// WithAllMethods retries (and hedges) requests of every method, POST and
// PATCH included, as long as their body can be rewound. Use it only when the
// server makes every request safe to repeat; otherwise mark such requests
// one by one with an Idempotency-Key header.
func WithAllMethods() Option {
	return func(c *config) { c.allMethods = true }
}

// WithBreakers guards each attempt with the breaker of its host (the
// request URL's Host, port included) from g. A rejected attempt is not sent;
// its error matches breaker.ErrOpen or breaker.ErrTooManyRequests and
// carries the breaker's RetryAfter, which the retry loop waits for (up to
// [WithMaxRetryAfter]). Only transport errors and 5xx responses count as
// failures of the host (as g's WithIsFailure, if any, decides: a 5xx is
// reported to it as a [*StatusError]); any other response is a success, a
// 4xx being the caller's problem, not the host's. An attempt cancelled by
// the caller, or a hedge's loser cancelled by the Transport, counts as
// nothing. A nil g panics.
func WithBreakers(g *breaker.Group) Option {
	return func(c *config) {
		if g == nil {
			panic("retryhttp: WithBreakers(nil): the group must not be nil")
		}
		c.breakers = g
	}
}

// WithHedge makes every attempt of a retryable request a hedged one: if no
// answer has come d after the request was sent, a second copy is sent, and
// the first outcome that would not be retried wins; the other request is
// cancelled, awaited, and its body closed. A retryable failure of one copy
// waits for the other; when both fail, the attempt fails with the later
// outcome, and the retry policy decides what comes next. If the first copy
// fails before d, no copy is sent and the attempt fails at once. A hedged
// attempt counts as one attempt of the retry policy.
//
// A request that is not retryable (see [Transport]) cannot be hedged:
// RoundTrip returns an error for it without sending it. d == 0 turns
// hedging off (the default); a negative d panics.
//
// Each hedged attempt starts a goroutine per copy, a timer and a context per
// copy; all of them end before RoundTrip returns, except the winner's
// context, which ends when its body is closed.
func WithHedge(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			panic(fmt.Sprintf("retryhttp: WithHedge(%v): negative delay", d))
		}
		c.hedge = d
	}
}

// WithBudget draws the Transport's retries and hedged copies from b, a
// retry budget shared with other Transports and calls (retry.NewBudget):
// every request deposits once, every retry and every hedged copy spends
// one. A retry it refuses ends the request as the attempt limit would: the
// last response is returned (with a nil error), or, when the last attempt
// got no response, a *retry.Error matching retry.ErrBudgetExhausted. A
// hedged copy it refuses is not sent, and the first copy goes on alone.
// Give the budget here rather than as a retry.WithBudget in [WithRetry],
// which would leave hedged copies out (and, given both, each request would
// deposit twice). A nil b panics.
func WithBudget(b *retry.Budget) Option {
	return func(c *config) {
		if b == nil {
			panic("retryhttp: WithBudget(nil): the budget must not be nil")
		}
		c.budget = b
	}
}

// WithMaxRetryAfter sets the longest wait a hint may ask for (default
// [DefaultMaxRetryAfter]): a Retry-After header, or a breaker's RetryAfter,
// asking for more ends the retries at once, with that response or error.
// With d == 0 any positive hint ends them. A negative d panics.
//
// Whatever d is, a hint that would end past the request ctx's deadline ends
// the retries too (the retry package is deadline-aware). Either way the
// error, or [StopOf] of the response returned, holds a [*HintError] that
// says which limit the hint passed.
func WithMaxRetryAfter(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			panic(fmt.Sprintf("retryhttp: WithMaxRetryAfter(%v): negative duration", d))
		}
		c.maxRetryAfter = d
	}
}

// newConfig applies opts over the defaults; it panics on a nil option.
func newConfig(fn string, opts []Option) config {
	c := config{
		base:          http.DefaultTransport,
		retryIf:       Retryable,
		maxRetryAfter: DefaultMaxRetryAfter,
	}
	for _, o := range opts {
		if o == nil {
			panic("retryhttp: nil Option passed to " + fn)
		}
		o(&c)
	}
	return c
}
