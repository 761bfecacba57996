package retry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/async-patterns/async/internal/safe"
)

// ErrExhausted is matched (through errors.Is) by the [*Error] of a call that
// gave up on a bound: the attempt limit, the [WithMaxElapsed] budget, ctx's
// deadline that the next wait would have passed, or a [Budget] that refused
// the next retry (which matches [ErrBudgetExhausted] too).
var ErrExhausted = errors.New("retry: gave up")

// ErrBudgetExhausted is matched (through errors.Is) by the [*Error] of a
// call whose next retry its [Budget] refused ([WithBudget]). Since a budget
// is one of the bounds a call gives up on, it matches [ErrExhausted] too.
var ErrBudgetExhausted error = budgetExhausted{}

type budgetExhausted struct{}

func (budgetExhausted) Error() string        { return "retry: retry budget exhausted" }
func (budgetExhausted) Is(target error) bool { return target == ErrExhausted }

// PanicError reports a panic recovered from the retried function; it is the
// type every package of this module uses, so errors.As(err, new(*PanicError))
// matches it whichever package's name is used. A panic is never retried.
type PanicError = safe.PanicError

// Error is the error of every call of [Do] and [DoValue] that made attempts
// and failed (or was stopped before its first attempt by a done ctx).
//
// Through errors.Is and errors.As it matches Last (the last attempt's error,
// [Permanent]'s wrapper removed) and the reason the call stopped:
// [ErrExhausted] when a bound was reached (and [ErrBudgetExhausted] too
// when that bound was a [Budget]), context.Cause(ctx) (and ctx.Err())
// when ctx ended. An error that was not retried (permanent, rejected by
// [WithRetryIf], or a panic) matches Last only.
type Error struct {
	Attempts int   // calls made, the first one included
	Last     error // the last attempt's error; nil when no attempt was made

	stop   stopKind
	cause  error // ErrExhausted, context.Cause(ctx), or nil
	ctxErr error // ctx.Err() when it differs from cause
}

type stopKind uint8

const (
	stopAttempts   stopKind = iota // attempt limit reached
	stopBudget                     // the next wait would pass the elapsed budget
	stopDeadline                   // the next wait would pass ctx's deadline
	stopRefused                    // the budget refused the retry
	stopContext                    // ctx ended
	stopPermanent                  // Permanent error
	stopNotRetried                 // WithRetryIf said no
	stopPanic                      // the function panicked
)

// Error describes why the call stopped, after how many attempts, and the last
// attempt's error.
func (e *Error) Error() string {
	switch e.stop {
	case stopAttempts:
		return fmt.Sprintf("retry: gave up after %s (attempt limit): %v", attempts(e.Attempts), e.Last)
	case stopBudget:
		return fmt.Sprintf("retry: gave up after %s (the next wait would pass the time budget): %v", attempts(e.Attempts), e.Last)
	case stopDeadline:
		return fmt.Sprintf("retry: gave up after %s (the next wait would pass the context deadline): %v", attempts(e.Attempts), e.Last)
	case stopRefused:
		return fmt.Sprintf("retry: gave up after %s (the retry budget is spent): %v", attempts(e.Attempts), e.Last)
	case stopContext:
		if e.Attempts == 0 {
			return fmt.Sprintf("retry: no attempt made: %v", e.cause)
		}
		return fmt.Sprintf("retry: stopped after %s: %v; last error: %v", attempts(e.Attempts), e.cause, e.Last)
	case stopPermanent:
		return fmt.Sprintf("retry: attempt %d failed permanently: %v", e.Attempts, e.Last)
	case stopNotRetried:
		return fmt.Sprintf("retry: attempt %d failed with an error not retried: %v", e.Attempts, e.Last)
	default: // stopPanic
		return fmt.Sprintf("retry: attempt %d: %v", e.Attempts, e.Last)
	}
}

// Unwrap returns the reason the call stopped (when it is an error) and Last,
// for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 3)
	for _, err := range [...]error{e.cause, e.ctxErr, e.Last} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Permanent marks err as not worth retrying: the call stops after the attempt
// that returned it, and its [*Error] still matches err through errors.Is.
// It may be wrapped further (fmt.Errorf with %w). Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// After is a server's hint: wait at least d before the next attempt (like an
// HTTP Retry-After header). The wait becomes max(d, backoff); a wait that
// would end past ctx's deadline or the time budget makes the call give up
// instead. The result matches err through errors.Is and has a
// RetryAfter() time.Duration method, which is what the retry loop looks for,
// so any error type of yours with that method works the same. After(d, nil)
// is nil; a negative d counts as 0.
func After(d time.Duration, err error) error {
	if err == nil {
		return nil
	}
	return &afterError{wait: max(d, 0), err: err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

type afterError struct {
	wait time.Duration
	err  error
}

func (e *afterError) Error() string             { return e.err.Error() }
func (e *afterError) Unwrap() error             { return e.err }
func (e *afterError) RetryAfter() time.Duration { return e.wait }

// retryAfter is what an error with a wait hint implements.
type retryAfter interface{ RetryAfter() time.Duration }

// hint returns the first wait hint in err's chain and whether there is one.
func hint(err error) (time.Duration, bool) {
	var h retryAfter
	if !errors.As(err, &h) {
		return 0, false
	}
	return h.RetryAfter(), true
}

func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

func isPanic(err error) bool {
	var p *PanicError
	return errors.As(err, &p)
}

// failure builds the *Error of a call that made n attempts, the last failing
// with err, and stopped for reason stop.
func failure(n int, err error, stop stopKind) *Error {
	if p, ok := err.(*permanentError); ok {
		err = p.err
	}
	e := &Error{Attempts: n, Last: err, stop: stop}
	switch {
	case stop == stopRefused:
		e.cause = ErrBudgetExhausted
	case stop <= stopDeadline:
		e.cause = ErrExhausted
	}
	return e
}

// stopped builds the *Error of a call whose ctx ended after n attempts.
func stopped(ctx context.Context, n int, err error) *Error {
	e := failure(n, err, stopContext)
	e.cause = context.Cause(ctx)
	if ctxErr := ctx.Err(); ctxErr != e.cause {
		e.ctxErr = ctxErr
	}
	return e
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}
