package guard

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/retry"
)

// Option configures a [Guard] made by [New]. Each adds one policy; the
// order in which options are given does not matter, since the guard
// applies its policies in the one order the package doc explains. Giving
// the same option twice keeps the last.
type Option func(*config)

// config is what the options set; New copies it into the Guard.
type config struct {
	fallback     any                                // func(context.Context, error) (T, error)
	fallbackErr  func(context.Context, error) error // fallback, its value dropped (for Do)
	fallbackType reflect.Type                       // T
	fallbackIf   func(error) bool                   // nil: every error but the caller's cancellation
	retry        []retry.Option                     // nil: no retry
	budget       *retry.Budget                      // nil: no budget
	hedgeDelay   time.Duration                      // when hedgeN > 1
	hedgeN       int                                // copies at most, the first included; 0: no hedge
	breaker      *breaker.Breaker                   // nil: no breaker
	rate         limit.Limiter                      // nil: no rate limiter
	limiter      limit.Limiter                      // nil: no concurrency limiter
	breakerOnly  bool                               // breaker, no hedge, no limiter: run's short path
	set          map[string]bool                    // options given, for the checks New makes
}

// WithFallback sets the function that turns the guard's final error into
// a value or a new error: a give-up of the retries (a *retry.Error), a
// rejection (breaker's, a limiter's, the budget's), or a panic of the
// function (a *[PanicError]). It gets the caller's ctx and that error; what
// it returns is what [DoValue] returns ([Guard.Do] keeps only its error).
// [WithFallbackIf] chooses which errors reach it; by default every error
// does but the caller's own cancellation (ctx cancelled, and the error is
// that cancellation), since nobody is left to use a value.
//
// T must be the type of the functions given to [DoValue] with this guard:
// a DoValue with another type panics, naming both, on its first call. A
// panic in fb is recovered and returned as a *[PanicError]. A nil fb
// panics.
func WithFallback[T any](fb func(ctx context.Context, err error) (T, error)) Option {
	if fb == nil {
		panic("guard: WithFallback(nil): the fallback must not be nil")
	}
	return func(c *config) {
		c.fallback = fb
		c.fallbackType = reflect.TypeFor[T]()
		c.fallbackErr = func(ctx context.Context, err error) error {
			_, err = callFallback(ctx, fb, err)
			return err
		}
	}
}

// WithFallbackIf sets which final errors reach the fallback: those for
// which fallbackIf returns true. The caller's own cancellation never does,
// whatever it says. It is called on the caller's goroutine and must be
// safe for concurrent use; a panic in it is not recovered. Without
// [WithFallback] it panics in [New]. A nil fallbackIf panics.
func WithFallbackIf(fallbackIf func(err error) bool) Option {
	if fallbackIf == nil {
		panic("guard: WithFallbackIf(nil): the function must not be nil")
	}
	return func(c *config) { c.fallbackIf = fallbackIf; c.note("WithFallbackIf") }
}

// WithRetry retries the hedged, guarded function with the retry package's
// policy opts (retry's defaults when opts is empty: at most five attempts
// with exponential backoff from 100ms). A rejection by the breaker or a
// limiter is retried like any error, after the wait it asks for
// (RetryAfter), unless a retry.WithRetryIf says otherwise; a panic never
// is. To bound retries across calls, give the budget with [WithBudget],
// not as a retry.WithBudget in opts (which would leave hedged copies out).
// A bad option panics here, with retry's description of it.
func WithRetry(opts ...retry.Option) Option {
	opts = append([]retry.Option{}, opts...)
	// retry.Do reports a bad option without calling its function; a done
	// ctx makes a good set return at once, having touched nothing.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := retry.Do(done, func(context.Context) error { return nil }, opts...); !errors.Is(err, context.Canceled) {
		panic("guard: WithRetry: " + err.Error())
	}
	return func(c *config) { c.retry = opts }
}

// WithBudget draws the guard's retries and hedged copies from b, a budget
// shared with other guards and calls: each call deposits once (its first
// attempt), each retry and each hedged copy beyond the first spends one.
// A retry it refuses ends the retries with an error matching
// retry.ErrBudgetExhausted (which the fallback sees); a copy it refuses is
// not sent. Without [WithRetry] or [WithHedge] there is nothing to spend
// it on, and New panics. A nil b panics.
func WithBudget(b *retry.Budget) Option {
	if b == nil {
		panic("guard: WithBudget(nil): the budget must not be nil")
	}
	return func(c *config) { c.budget = b; c.note("WithBudget") }
}

// WithHedge runs up to n copies of the function (the first included) when
// it is slow: if the first has not succeeded after delay, a second starts,
// then a third after another delay, and so on up to n. The first success
// wins; the other copies are cancelled and awaited before the call
// returns. A copy's failure waits for the copies still running; when none
// is left, the latest failure is the attempt's (the retry policy, if any,
// decides what comes next); a panic ends the attempt at once. Each copy
// goes through the breaker and the limiters, and each beyond the first
// spends from the budget ([WithBudget]): a refused copy is not sent, and
// no more are tried in that attempt.
//
// Use it only for idempotent functions: two copies may both run to the
// end. delay 0 starts the n copies at once. A negative delay, or n below
// 2, panics.
func WithHedge(delay time.Duration, n int) Option {
	if delay < 0 {
		panic(fmt.Sprintf("guard: WithHedge(%v, %d): negative delay", delay, n))
	}
	if n < 2 {
		panic(fmt.Sprintf("guard: WithHedge(%v, %d): a hedge needs n >= 2 copies", delay, n))
	}
	return func(c *config) { c.hedgeDelay, c.hedgeN = delay, n }
}

// WithBreaker guards each attempt (each hedged copy) with b. A rejection
// comes back at once as a *breaker.RejectedError with the breaker's
// RetryAfter, which the retry policy waits for. A refusal by a limiter
// inside it never counts as the dependency's failure (breaker.Exclude).
// b may be shared with other guards; a breaker with a Store keeps working
// on its own when the store fails or is closed. A nil b panics.
func WithBreaker(b *breaker.Breaker) Option {
	if b == nil {
		panic("guard: WithBreaker(nil): the breaker must not be nil")
	}
	return func(c *config) { c.breaker = b }
}

// WithRateLimiter admits each attempt (each hedged copy) through l, a rate
// limiter (limit.NewRate, or one shared across replicas), after the breaker
// and before the concurrency limiter. A refusal (limit.ErrRejected, with
// the wait the next token needs as RetryAfter) is the attempt's error and
// nothing runs. A nil l panics.
func WithRateLimiter(l limit.Limiter) Option {
	if l == nil {
		panic("guard: WithRateLimiter(nil): the limiter must not be nil")
	}
	return func(c *config) { c.rate = l }
}

// WithConcurrencyLimiter admits each attempt (each hedged copy) through l,
// a bulkhead (limit.NewBulkhead) or an adaptive limiter, innermost, just
// before the function; the permit is held while the function runs and
// released with the outcome of its error (limit.OutcomeOf). A refusal is
// the attempt's error and nothing runs. A nil l panics.
func WithConcurrencyLimiter(l limit.Limiter) Option {
	if l == nil {
		panic("guard: WithConcurrencyLimiter(nil): the limiter must not be nil")
	}
	return func(c *config) { c.limiter = l }
}

// note records that option was given, for New's checks.
func (c *config) note(option string) {
	if c.set == nil {
		c.set = make(map[string]bool)
	}
	c.set[option] = true
}
