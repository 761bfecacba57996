package breaker

import (
	"errors"
	"fmt"
	"time"

	"github.com/async-patterns/async/internal/safe"
)

var (
	// ErrOpen matches the error of a call rejected because the breaker is
	// open. The error is a *[RejectedError] that says when to come back.
	ErrOpen = errors.New("breaker: circuit open")
	// ErrTooManyRequests matches the error of a call rejected because the
	// half-open breaker is already running all the probes it admits. The
	// error is a *[RejectedError].
	ErrTooManyRequests = errors.New("breaker: too many requests while half-open")
)

// RejectedError is the error of a call the breaker did not run. It matches
// [ErrOpen] or [ErrTooManyRequests] (by State) through errors.Is.
type RejectedError struct {
	Name  string // the breaker's name
	State State  // Open or HalfOpen

	retryAfter time.Duration
}

// Error describes the rejection.
func (e *RejectedError) Error() string {
	prefix := "breaker: "
	if e.Name != "" {
		prefix += e.Name + ": "
	}
	if e.State == Open {
		return fmt.Sprintf("%scircuit open; retry after %v", prefix, e.retryAfter)
	}
	return prefix + "too many requests while half-open"
}

// Unwrap returns [ErrOpen] or [ErrTooManyRequests].
func (e *RejectedError) Unwrap() error {
	if e.State == Open {
		return ErrOpen
	}
	return ErrTooManyRequests
}

// RetryAfter returns how long to wait before calling again. For an open
// breaker it is the time left in the open state, rounded up to the next
// whole millisecond, strictly past the moment the breaker half-opens, so a
// call made after waiting that long finds it half-open (unless someone else
// used up the probes, or called [Breaker.Trip]); it saturates at the largest
// Duration under an open timeout that long. It is 0 for
// [ErrTooManyRequests], whose end nobody can know: the retry policy's own
// backoff then applies. retry.Do honours it.
func (e *RejectedError) RetryAfter() time.Duration { return e.retryAfter }

// PanicError is the error [Breaker.Do] returns when the function panics.
// It is the module's one panic type, shared with every other package, so
// errors.As matches it under any package's name. A panic always counts as a
// failure.
type PanicError = safe.PanicError

// Exclude marks err, returned by a function run through [Breaker.Do], as
// saying nothing about the dependency: Do returns err itself (the mark
// removed) and counts the call as neither a success nor a failure, as it
// does the caller's own cancellation; a half-open probe so ended frees its
// slot. It is for work refused before it reached the dependency, such as a
// limiter's refusal inside the breaker (the guard package's order).
// Exclude(nil) is nil; the mark must be the function's error itself, not
// wrapped further.
func Exclude(err error) error {
	if err == nil {
		return nil
	}
	return &excludedError{err: err}
}

// excludedError is the mark Exclude puts on an error.
type excludedError struct{ err error }

func (e *excludedError) Error() string { return e.err.Error() }
func (e *excludedError) Unwrap() error { return e.err }

// ErrNilFunc is matched (with errors.Is) by the error of a call given a nil
// function; the error itself names the argument: "breaker: fn is nil".
var ErrNilFunc = errors.New("breaker: nil function")

// nilFuncError is the error of a call given a nil fn.
type nilFuncError struct{}

func (nilFuncError) Error() string { return "breaker: fn is nil" }

func (nilFuncError) Is(target error) bool { return target == ErrNilFunc }

var (
	errNilFn error = nilFuncError{}
	// errFailure and errExcluded are what gobreaker sees as the outcome of
	// a call: the verdict, not the user's error (which Do returns).
	errFailure  = errors.New("breaker: counted failure")
	errExcluded = errors.New("breaker: excluded outcome")
	// errGoexit marks a Goexit crossing gobreaker's Execute; see Do.
	errGoexit = errors.New("breaker: Goexit in fn")
)

// retryAfter rounds the time left d in the open state up to the next whole
// millisecond, strictly past the moment the breaker half-opens.
func retryAfter(d time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d > maxDuration-time.Millisecond:
		return maxDuration // rounding up would wrap negative
	}
	return d.Truncate(time.Millisecond) + time.Millisecond
}

const maxDuration = time.Duration(1<<63 - 1)
