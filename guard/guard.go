package guard

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/retry"
)

// PanicError reports a panic recovered from the guarded function or the
// fallback; it is the type every package of this module uses, so
// errors.As(err, new(*PanicError)) matches it whichever package's name is
// used. A panic is never retried and counts as the breaker's failure.
type PanicError = safe.PanicError

// ErrNilFunc is returned by [Guard.Do] and [DoValue] given a nil function;
// no policy is applied and nothing is counted.
var ErrNilFunc = errors.New("guard: nil function")

// Guard is one composition of policies around calls to a dependency, in
// the fixed order the package doc explains: fallback, retry (with its
// budget) and hedge, breaker, rate limiter, concurrency limiter, then the
// function. Each policy is optional; a Guard with none just calls the
// function (and recovers its panic).
//
// Create one with [New] and use it from any number of goroutines; the zero
// value is not usable. A Guard holds no state of its own (the breaker, the
// limiters and the budget it was given hold theirs, and may be shared
// with other guards), starts no goroutine but a hedge's copies, which end
// before the call that started them returns, and needs no closing.
type Guard struct {
	cfg config
}

// New returns a guard with the policies opts give. It panics, with a
// message starting "guard: " that names the option, on a nil option, on
// [WithFallbackIf] without [WithFallback], and on [WithBudget] without
// [WithRetry] or [WithHedge]; each option panics on its own bad arguments
// when it is made.
func New(opts ...Option) *Guard {
	var c config
	for i, o := range opts {
		if o == nil {
			panic(fmt.Sprintf("guard: nil Option passed to New (opts[%d])", i))
		}
		o(&c)
	}
	if c.set["WithFallbackIf"] && c.fallback == nil {
		panic("guard: WithFallbackIf without WithFallback: there is no fallback to choose errors for")
	}
	if c.set["WithBudget"] && c.retry == nil && c.hedgeN == 0 {
		panic("guard: WithBudget without WithRetry or WithHedge: nothing would spend it")
	}
	if c.budget != nil && c.retry != nil {
		c.retry = append(c.retry[:len(c.retry):len(c.retry)], retry.WithBudget(c.budget))
	}
	c.breakerOnly = c.breaker != nil && c.hedgeN == 0 && c.rate == nil && c.limiter == nil
	c.set = nil
	return &Guard{cfg: c}
}

// Do runs fn through the guard's policies and returns its error, or the
// fallback's error when the final error reached the fallback (the
// fallback's value is dropped: use [DoValue] for a value). See [DoValue]
// for the rest.
func (g *Guard) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	if ctx == nil {
		panic("guard: nil ctx passed to Do")
	}
	if fn == nil {
		return ErrNilFunc
	}
	_, err := run(ctx, g, task[struct{}]{efn: fn})
	if err != nil && g.cfg.fallbackErr != nil && g.falls(ctx, err) {
		err = g.cfg.fallbackErr(ctx, err)
	}
	return err
}

// DoValue runs fn through g's policies and returns its value: the
// retries (with the budget) call, for each attempt, the hedge, which runs
// one or more copies, each through the breaker, the rate limiter and the
// concurrency limiter, and then fn. fn receives a ctx derived from ctx
// (with the attempt's deadline, or the copy's cancellation when hedged).
//
// It returns the first success's value. Otherwise the final error (a
// *retry.Error when retries were made or given up, a rejection by the
// breaker or a limiter, a *[PanicError]) goes to the fallback, if any and
// if [WithFallbackIf] lets it, and DoValue returns what the fallback
// returns; else it returns T's zero value and that error, in which
// errors.Is finds fn's own error. It blocks while fn runs, during retry
// waits, and, for a concurrency limiter or a rate limiter that waits,
// until admitted. When ctx ends, the retries stop with an error matching
// context.Cause(ctx) and fn's last error (without retries, DoValue returns
// what fn returned), always after fn, and every hedged copy, has returned.
// A nil fn
// returns [ErrNilFunc]; a nil ctx panics; so does a T other than the
// fallback's (see [WithFallback]).
//
// A first-try success through retry and breaker allocates nothing and
// adds a few nanoseconds to calling the two by hand (see the package doc's
// Costs).
func DoValue[T any](ctx context.Context, g *Guard, fn func(ctx context.Context) (T, error)) (T, error) {
	if ctx == nil {
		panic("guard: nil ctx passed to DoValue")
	}
	var fb func(context.Context, error) (T, error)
	if g.cfg.fallback != nil {
		var ok bool
		if fb, ok = g.cfg.fallback.(func(context.Context, error) (T, error)); !ok {
			panic(fmt.Sprintf("guard: DoValue[%v] on a guard whose fallback returns %v", reflect.TypeFor[T](), g.cfg.fallbackType))
		}
	}
	if fn == nil {
		var zero T
		return zero, ErrNilFunc
	}
	v, err := run(ctx, g, task[T]{fn: fn})
	if err != nil && fb != nil && g.falls(ctx, err) {
		return callFallback(ctx, fb, err)
	}
	return v, err
}

// falls reports whether err, the final error of a call with ctx, goes to
// the fallback.
func (g *Guard) falls(ctx context.Context, err error) bool {
	if ctx.Err() == context.Canceled &&
		(errors.Is(err, context.Canceled) || errors.Is(err, context.Cause(ctx))) {
		return false // the caller's own cancellation
	}
	return g.cfg.fallbackIf == nil || g.cfg.fallbackIf(err)
}

// task is the guarded function: fn, or, for Do, efn. (Do's function is
// carried as it is, rather than wrapped in a closure, since the hedge may
// hand it to other goroutines: a wrapper would then be allocated on every
// call.)
type task[T any] struct {
	fn  func(context.Context) (T, error)
	efn func(context.Context) error // when not nil, fn is nil
}

// call calls the task's function.
func (t task[T]) call(ctx context.Context) (T, error) {
	if t.efn != nil {
		var zero T
		return zero, t.efn(ctx)
	}
	return t.fn(ctx)
}

// viaBreaker calls the task's function through b.
func (t task[T]) viaBreaker(ctx context.Context, b *breaker.Breaker) (T, error) {
	if t.efn != nil {
		var zero T
		return zero, b.Do(ctx, t.efn)
	}
	return breaker.DoValue(ctx, b, t.fn)
}

// run applies the retry policy (and the budget) around attempt.
func run[T any](ctx context.Context, g *Guard, t task[T]) (T, error) {
	c := &g.cfg
	switch {
	case c.retry == nil:
		if c.budget != nil {
			c.budget.Deposit() // the hedge spends from it
		}
		return attempt(ctx, g, t)
	case c.breakerOnly:
		// The common case, retry around a breaker, without the layers
		// that are not there: as short as writing it by hand.
		return retry.DoValue(ctx, func(ctx context.Context) (T, error) {
			return t.viaBreaker(ctx, c.breaker)
		}, c.retry...)
	}
	return retry.DoValue(ctx, func(ctx context.Context) (T, error) {
		return attempt(ctx, g, t)
	}, c.retry...)
}

// attempt is one attempt of the retry policy: hedged, or one copy.
func attempt[T any](ctx context.Context, g *Guard, t task[T]) (T, error) {
	if g.cfg.hedgeN > 1 {
		return hedge(ctx, g, t)
	}
	return guarded(ctx, g, t)
}

// guarded is one copy of an attempt: the breaker around limited. (The
// breaker recovers the function's panic; without limiters there is
// nothing else to release.)
func guarded[T any](ctx context.Context, g *Guard, t task[T]) (T, error) {
	c := &g.cfg
	switch {
	case c.breaker == nil:
		return limited(ctx, g, t)
	case c.rate == nil && c.limiter == nil:
		return t.viaBreaker(ctx, c.breaker)
	}
	return breaker.DoValue(ctx, c.breaker, func(ctx context.Context) (T, error) {
		return limited(ctx, g, t)
	})
}

// limited admits the function through the rate limiter and then the
// concurrency limiter, calls it, and releases both permits with its
// outcome, whether it returned or panicked (a panic comes back as a
// *PanicError). A refusal or a ctx that ended while waiting for admission
// is marked for the breaker as saying nothing about the dependency.
func limited[T any](ctx context.Context, g *Guard, t task[T]) (v T, err error) {
	var rp, lp limit.Permit
	if g.cfg.rate != nil {
		if rp, err = g.cfg.rate.Acquire(ctx); err != nil {
			return v, g.refused(err)
		}
	}
	if g.cfg.limiter != nil {
		if lp, err = g.cfg.limiter.Acquire(ctx); err != nil {
			if g.cfg.rate != nil {
				g.cfg.rate.Release(rp, limit.Ignored)
			}
			return v, g.refused(err)
		}
	}
	returned := false
	defer func() {
		o := limit.Failure
		if returned {
			o = limit.OutcomeOf(ctx, err)
		} else {
			var zero T
			v, err = zero, safe.Recovered(recover())
		}
		if g.cfg.limiter != nil {
			g.cfg.limiter.Release(lp, o)
		}
		if g.cfg.rate != nil {
			g.cfg.rate.Release(rp, o)
		}
	}()
	v, err = t.call(ctx)
	returned = true
	return v, err
}

// refused returns err, an admission's failure, marked for the breaker if
// there is one.
func (g *Guard) refused(err error) error {
	if g.cfg.breaker != nil {
		return breaker.Exclude(err)
	}
	return err
}

// callFallback calls fb, turning a panic into a *PanicError.
func callFallback[T any](ctx context.Context, fb func(context.Context, error) (T, error), err error) (v T, ferr error) {
	returned := false
	defer func() {
		if !returned {
			var zero T
			v, ferr = zero, safe.Recovered(recover())
		}
	}()
	v, ferr = fb(ctx, err)
	returned = true
	return v, ferr
}
