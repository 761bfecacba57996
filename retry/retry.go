package retry

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/observe"
)

// ErrNilFunc is matched (with errors.Is) by the error of a call given a nil
// function; the error itself names the argument: "retry: fn is nil".
var ErrNilFunc = errors.New("retry: nil function")

// errNilFn is the error of a call given a nil fn.
var errNilFn error = nilFuncError{}

type nilFuncError struct{}

func (nilFuncError) Error() string { return "retry: fn is nil" }

func (nilFuncError) Is(target error) bool { return target == ErrNilFunc }

// Do calls fn until it returns nil, then returns nil. Between attempts it
// waits with exponential backoff (see the package doc for the defaults and
// [Option] for the knobs). fn receives ctx itself, or with
// [WithAttemptTimeout] a child of it with the attempt's deadline.
//
// Do stops and returns an [*Error] when fn returns a [Permanent] error or one
// that [WithRetryIf] rejects, when fn panics, when the attempt limit is
// reached, or when the next wait would end past ctx's deadline or the
// [WithMaxElapsed] budget (these three match [ErrExhausted]). It blocks only
// inside fn and during waits; when ctx ends during a wait it returns at once
// with an error matching both context.Cause(ctx) and fn's last error. With ctx
// already done it makes no attempt. Do starts no goroutine and keeps no state
// between calls: when it returns, for whatever reason, its wait timer is
// stopped and any per-attempt context is cancelled. A nil fn (matching
// [ErrNilFunc]) or a bad option returns an error naming it, and fn is not
// called. A nil ctx or a nil Option makes Do panic.
//
// A first-try success reads no clock, starts no timer and allocates
// nothing: the options are applied to a pooled record of the call's
// settings, and the backoff state is built only after a failure. (A
// [WithRetryIf] or [WithOnRetry] function that captures variables, written
// inline in the call, is a closure the compiler puts on the heap, since the
// settings keep it; build such options once and share them.)
// [WithMaxElapsed] adds one clock read and [WithAttemptTimeout] one context
// per attempt. Do is safe to call from many goroutines at once, with the
// same options.
func Do(ctx context.Context, fn func(ctx context.Context) error, opts ...Option) error {
	if ctx == nil {
		panic("retry: nil ctx passed to Do")
	}
	c := &defaults
	if len(opts) > 0 {
		c = newConfig(opts, "Do")
	}
	return do(ctx, fn, c)
}

// DoValue is [Do] for a function that returns a value: it returns the value
// of the first successful attempt. On failure the value is T's zero value and
// the error is what Do would return.
func DoValue[T any](ctx context.Context, fn func(ctx context.Context) (T, error), opts ...Option) (T, error) {
	if ctx == nil {
		panic("retry: nil ctx passed to DoValue")
	}
	c := &defaults
	if len(opts) > 0 {
		c = newConfig(opts, "DoValue")
	}
	var v T
	if fn == nil {
		c.release()
		return v, errNilFn
	}
	err := do(ctx, func(ctx context.Context) error {
		var err error
		v, err = fn(ctx)
		return err
	}, c)
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// do is Do once the options are applied; it releases c.
func do(ctx context.Context, fn func(ctx context.Context) error, c *config) (err error) {
	// The first attempt without a timeout is made here rather than through
	// call, to save a call level on the path that matters most; the deferred
	// recover below covers that attempt only.
	calling := false
	defer func() {
		if calling {
			err = failure(1, safe.Recovered(recover()), stopPanic)
		}
		c.release()
	}()
	switch {
	case fn == nil:
		return errNilFn
	case c.err != nil:
		return c.err
	case ctx.Err() != nil:
		return stopped(ctx, 0, nil)
	}
	if c.budget != nil {
		c.budget.Deposit()
	}
	if o := observe.Pick(c.obs); o != nil {
		return observed(ctx, fn, c, o)
	}
	var start time.Time
	if c.maxElapsed > 0 {
		start = time.Now()
	}
	timedOut := false
	if c.attemptTimeout > 0 {
		timedOut, err = attemptWithTimeout(ctx, c.attemptTimeout, fn)
	} else {
		calling = true
		err = fn(ctx)
		calling = false
	}
	if err == nil {
		return nil
	}
	return retryLoop(ctx, c, fn, start, timedOut, err)
}

// retryLoop takes over after the first attempt failed with err: only here is
// the backoff state built, the clock read and a timer made.
func retryLoop(ctx context.Context, c *config, fn func(context.Context) error,
	start time.Time, timedOut bool, err error) error {
	// ExponentialBackOff is not safe for concurrent use: this one belongs to
	// this call alone. Its own MaxElapsedTime (15 minutes by default) is
	// switched off, since the budget is ours to keep, and its clock is a stub,
	// since it would only read it for that budget.
	b := backoff.ExponentialBackOff{
		InitialInterval:     c.initial,
		RandomizationFactor: c.jitter,
		Multiplier:          c.multiplier,
		MaxInterval:         c.maxInterval,
		MaxElapsedTime:      0,
		Stop:                backoff.Stop,
		Clock:               zeroClock{},
	}
	b.Reset()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for n := 1; ; n++ {
		// Attempt n failed with err: retry it or not?
		switch {
		case isPanic(err):
			return failure(n, err, stopPanic)
		case ctx.Err() != nil:
			return stopped(ctx, n, err)
		case isPermanent(err):
			return failure(n, err, stopPermanent)
		case timedOut:
			// Ended by its own WithAttemptTimeout while ctx lives: retried.
		case c.retryIf != nil && !c.retryIf(err):
			return failure(n, err, stopNotRetried)
		}
		if n >= c.maxAttempts {
			return failure(n, err, stopAttempts)
		}
		wait := b.NextBackOff()
		if wait < 0 {
			// backoff/v4 converts a jittered float64 past the largest
			// Duration (possible when max is near it) without a check,
			// which wraps negative on amd64: saturate instead.
			wait = math.MaxInt64
		}
		if h, ok := hint(err); ok && h > wait {
			wait = h
		}
		deadline, hasDeadline := ctx.Deadline()
		if c.maxElapsed > 0 || hasDeadline {
			now := time.Now()
			// Written to stay correct for any wait a hint may ask for, up to
			// the largest Duration (Sub saturates, the additions would not).
			if c.maxElapsed > 0 && wait > c.maxElapsed-now.Sub(start) {
				return failure(n, err, stopBudget)
			}
			if hasDeadline && wait >= deadline.Sub(now) {
				return failure(n, err, stopDeadline)
			}
		}
		if c.budget != nil && !c.budget.TrySpend() {
			return failure(n, err, stopRefused)
		}
		if c.onRetry != nil {
			c.onRetry(n, err, wait)
		}
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			return stopped(ctx, n, err)
		}
		timedOut, err = attempt(ctx, c.attemptTimeout, fn)
		if err == nil {
			return nil
		}
	}
}

// attempt makes one call of fn, under its own deadline when timeout > 0, and
// reports whether it ended by that deadline while ctx lives.
func attempt(ctx context.Context, timeout time.Duration, fn func(context.Context) error) (timedOut bool, err error) {
	if timeout > 0 {
		return attemptWithTimeout(ctx, timeout, fn)
	}
	return false, call(ctx, fn)
}

// attemptWithTimeout is attempt with a timeout.
func attemptWithTimeout(ctx context.Context, timeout time.Duration, fn func(context.Context) error) (timedOut bool, err error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel() // runs on a panic and on runtime.Goexit too
	err = call(actx, fn)
	return err != nil && actx.Err() != nil && ctx.Err() == nil, err
}

// call calls fn, turning a panic into a *PanicError.
func call(ctx context.Context, fn func(context.Context) error) (err error) {
	returned := false
	defer func() {
		if !returned {
			err = safe.Recovered(recover())
		}
	}()
	err = fn(ctx)
	returned = true
	return err
}

// zeroClock is the ExponentialBackOff clock: a fixed time, never read from
// the system, since the elapsed budget is kept by retryLoop.
type zeroClock struct{}

func (zeroClock) Now() time.Time { return time.Time{} }
