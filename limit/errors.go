package limit

import (
	"errors"
	"time"

	"github.com/async-patterns/async/internal/safe"
)

var (
	// ErrRejected is matched (through errors.Is) by every rejection of
	// every limiter of this package: a [*RejectedError].
	ErrRejected = errors.New("limit: rejected")
	// ErrNilFunc is returned by Do when the function is nil; nothing is
	// acquired.
	ErrNilFunc = errors.New("limit: nil function")
)

// PanicError reports a panic recovered from the function given to Do; it is
// the type every package of this module uses, so errors.As(err,
// new(*PanicError)) matches it whichever package's name is used.
type PanicError = safe.PanicError

// RejectedError is the error of work a limiter refused. It matches
// [ErrRejected] through errors.Is, and says when trying again is worth it
// ([RejectedError.RetryAfter]), which retry.Do honours as it honours a
// breaker's rejections: it waits that long (or its own backoff, whichever is
// longer) before the next attempt, or gives up at once when the wait would
// pass ctx's deadline.
type RejectedError struct {
	// Limiter names what refused: the limiter's name ([WithName]) or, when it
	// has none, its kind ("rate", "bulkhead", "adaptive").
	Limiter string
	// Reason says why, in a few words ("no token before the deadline",
	// "too many waiting", "waited too long").
	Reason string

	retryAfter time.Duration
}

// NewRejectedError returns a rejection by the limiter named limiter for the
// given reason, with the wait hint retryAfter (negative counts as 0). It is
// for limiters implemented outside this package, so that their rejections
// are the same type as ours.
func NewRejectedError(limiter, reason string, retryAfter time.Duration) *RejectedError {
	return &RejectedError{Limiter: limiter, Reason: reason, retryAfter: max(retryAfter, 0)}
}

// Error describes the rejection: "limit: rate: no token before the
// deadline; retry after 250ms".
func (e *RejectedError) Error() string {
	s := "limit: " + e.Limiter + ": " + e.Reason
	if e.retryAfter > 0 {
		s += "; retry after " + e.retryAfter.String()
	}
	return s
}

// Unwrap returns [ErrRejected].
func (e *RejectedError) Unwrap() error { return ErrRejected }

// RetryAfter returns how long to wait before trying again: for a rate
// limiter, the wait the call would have needed for its token; 0 when nobody
// can know (a full bulkhead, whose slots free up when running work ends),
// in which case retry's own backoff applies.
func (e *RejectedError) RetryAfter() time.Duration { return e.retryAfter }
