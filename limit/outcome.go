package limit

import (
	"context"
	"errors"
	"fmt"
)

// Outcome says how the work done under a [Permit] ended: what a limiter
// learns from when it is released.
type Outcome uint8

// The outcomes of admitted work. [OutcomeOf] picks one from an error.
const (
	// Success: the work was done. Its latency is a sample of the service
	// time.
	Success Outcome = iota
	// Failure: the work failed for a reason of its own (a bad request, a
	// missing row); it says nothing about load. A limiter may count its
	// latency or not.
	Failure
	// Dropped: the work timed out or was shed downstream (a deadline
	// passed, a 503, a rejection by another limiter): a sign of overload,
	// which an adaptive limiter answers by lowering its limit.
	Dropped
	// Ignored: the caller gave up (its own cancellation); the work's
	// latency says nothing about the service and is not sampled.
	Ignored
)

// String returns "success", "failure", "dropped" or "ignored".
func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Dropped:
		return "dropped"
	case Ignored:
		return "ignored"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// OutcomeOf classifies the error err returned by work that ran with ctx:
//
//   - nil: [Success];
//   - ctx cancelled (not by a deadline) and err is that cancellation: [Ignored];
//   - err matches context.DeadlineExceeded (a deadline passed, ctx's own or
//     one set downstream), or ctx's deadline passed and err is its cause
//     (a custom one of context.WithTimeoutCause or WithDeadlineCause), or
//     err matches [ErrRejected] (shed downstream): [Dropped];
//   - anything else, including a panic: [Failure].
//
// It is what [Do], [Handler] and the integrations in other packages use.
func OutcomeOf(ctx context.Context, err error) Outcome {
	if err == nil {
		return Success
	}
	if cerr := ctx.Err(); cerr == context.Canceled &&
		(errors.Is(err, context.Canceled) || errors.Is(err, context.Cause(ctx))) {
		return Ignored
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrRejected) {
		return Dropped
	}
	if ctx.Err() == context.DeadlineExceeded && errors.Is(err, context.Cause(ctx)) {
		return Dropped // ctx's deadline, with a cause of its own
	}
	return Failure
}
