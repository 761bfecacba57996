package limit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/async-patterns/async/internal/safe"
)

// Limiter is the one interface every limiter of this package implements and
// every package that admits work through a limiter accepts
// (executor.WithLimiter, taskgroup.WithLimiter, retryhttp's per-host
// limiter, [Handler]). It is small on purpose, so that a limiter from
// another module (a Redis-backed one, say) plugs in the same way.
//
// An admission is a [Permit]: [Limiter.Acquire] grants it, and exactly one
// [Limiter.Release] ends it with the [Outcome] of the work done under it.
// Latency is measured by the limiter, not by the caller: a limiter that
// learns from latency (the adaptive limiter) records when it granted the
// permit in [Permit.Start] and reads the clock again at Release; a limiter
// that does not need latency reads no clock for it. Callers therefore never
// time anything; they only say how the work ended.
//
// # Implementing Limiter
//
//   - Acquire must be safe for concurrent use, block only until admission,
//     rejection, or the end of ctx, and return at once (with no permit) when
//     ctx is already done.
//   - On rejection it returns an error that matches [ErrRejected]
//     (a [*RejectedError] does), with a RetryAfter hint when one is known;
//     when ctx ends first it returns an error derived from
//     context.Cause(ctx). Either way nothing is held: the caller must not
//     call Release.
//   - Release must be safe for concurrent use and must not block on other
//     callers' work. A second Release of the same permit must panic with a
//     message that names the misuse (the caller's bug, like unlocking an
//     unlocked mutex); so should the Release of a permit it did not grant,
//     as far as it can tell.
//   - Neither method may allocate on the path that admits at once, so
//     that a limiter costs nothing a profile would show.
type Limiter interface {
	// Acquire waits for admission. On success it returns a permit that the
	// caller must give back to Release exactly once, when the work is done.
	// On failure it returns an error matching ErrRejected (refused) or
	// derived from context.Cause(ctx) (ctx ended), and holds nothing.
	Acquire(ctx context.Context) (Permit, error)
	// Release ends the admission p with the outcome o of the work done
	// under it. A second release of p panics.
	Release(p Permit, o Outcome)
}

// Permit is one admission granted by a [Limiter]. It is a small value,
// copied freely and never allocated; what it means belongs to the limiter
// that granted it, which is the only one it may be released to.
//
// The zero Permit is granted by nobody: releasing it to any limiter of this
// package panics.
type Permit struct {
	// ID is the limiter's own name for the admission. The limiters of this
	// package use it to recognise a permit released twice; another
	// implementation may use it for anything (an index into its table of
	// leases, say).
	ID uint64
	// Start is when the admission was granted, for limiters that measure
	// latency (on the monotonic clock, so time.Since(p.Start) is the time
	// the work held the permit); limiters that do not need it leave it zero
	// and read no clock.
	Start time.Time
}

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

// Priority is the importance of a piece of work, carried in its ctx
// ([WithPriority]) so that it crosses package boundaries: a limiter that
// sheds load (the adaptive limiter) turns away the lowest priority first.
// The zero Priority is [Normal], what a ctx without one carries.
type Priority int8

// The priorities, lowest first.
const (
	Lowest  Priority = -2 // shed first: prefetches, batch work
	Low     Priority = -1 // background work a user is not waiting for
	Normal  Priority = 0  // the default
	High    Priority = 1  // interactive requests
	Highest Priority = 2  // shed last: health checks, control traffic
)

// String returns "lowest", "low", "normal", "high" or "highest".
func (p Priority) String() string {
	switch p {
	case Lowest:
		return "lowest"
	case Low:
		return "low"
	case Normal:
		return "normal"
	case High:
		return "high"
	case Highest:
		return "highest"
	}
	return fmt.Sprintf("Priority(%d)", int8(p))
}

type priorityKey struct{}

// WithPriority returns a ctx derived from ctx that carries priority p,
// clamped to [Lowest, Highest]. It allocates one context.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, min(max(p, Lowest), Highest))
}

// PriorityFrom returns the priority ctx carries ([WithPriority]), or
// [Normal] when it carries none.
func PriorityFrom(ctx context.Context) Priority {
	if p, ok := ctx.Value(priorityKey{}).(Priority); ok {
		return p
	}
	return Normal
}

// Stats is a snapshot of a limiter's state. A field a limiter has no use for
// is 0.
type Stats struct {
	Limit    int    // how many may hold a permit at once (now, for the adaptive limiter)
	InFlight int    // permits held
	Queued   int    // callers waiting in Acquire
	Rejected uint64 // acquisitions refused since the limiter was made
}

// Do runs fn under a permit of l: it acquires one with ctx (returning the
// error, and running nothing, when refused or when ctx ends), calls fn with
// ctx, and releases the permit with [OutcomeOf] fn's error, whether fn
// returned or panicked. A panic comes back as a [*PanicError] (a
// runtime.Goexit cannot be stopped, but the permit is still released). A
// nil fn returns [ErrNilFunc] and acquires nothing; a nil l panics.
func Do(ctx context.Context, l Limiter, fn func(context.Context) error) (err error) {
	if l == nil {
		panic("limit: Do: nil Limiter")
	}
	if fn == nil {
		return ErrNilFunc
	}
	p, err := l.Acquire(ctx)
	if err != nil {
		return err
	}
	returned := false
	defer func() {
		o := Failure
		if returned {
			o = OutcomeOf(ctx, err)
		} else {
			err = safe.Recovered(recover())
		}
		l.Release(p, o)
	}()
	err = fn(ctx)
	returned = true
	return err
}

// DoValue is [Do] for a function that returns a value: it runs fn under a
// permit of l and returns fn's value and error (the zero value when fn did
// not run or panicked). A nil l panics.
func DoValue[T any](ctx context.Context, l Limiter, fn func(context.Context) (T, error)) (v T, err error) {
	if l == nil {
		panic("limit: DoValue: nil Limiter")
	}
	if fn == nil {
		return v, ErrNilFunc
	}
	p, err := l.Acquire(ctx)
	if err != nil {
		return v, err
	}
	returned := false
	defer func() {
		o := Failure
		if returned {
			o = OutcomeOf(ctx, err)
		} else {
			err = safe.Recovered(recover())
		}
		l.Release(p, o)
	}()
	v, err = fn(ctx)
	returned = true
	return v, err
}
