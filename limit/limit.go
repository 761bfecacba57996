package limit

import (
	"context"
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
