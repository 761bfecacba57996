package limit

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/async-patterns/async/internal/safe"
)

// Rate is a rate limiter: a token bucket of golang.org/x/time/rate that
// refills at a steady rate up to a burst. It adds to x/time/rate a context
// whose deadline it respects before waiting (a wait that would end past
// ctx's deadline, or past [WithMaxWait], is refused at once with a
// [*RejectedError] carrying the wait it would have needed), a Do method, and
// the [Limiter] interface.
//
// Create one with [NewRate]; the zero value is not usable. It is safe for
// concurrent use, starts no goroutine and needs no closing. [Rate.Allow] costs
// what x/time/rate's Allow costs and allocates nothing.
type Rate struct {
	lim      *rate.Limiter
	label    string        // name or "rate", for rejections
	maxWait  time.Duration // -1: no bound but ctx's
	rejected atomic.Uint64
	ledger   ledger // permits granted by Acquire
	ob       observed
}

// NewRate returns a rate limiter that admits perSecond calls a second on
// average, and up to burst at once after a quiet spell; it starts full
// (burst tokens). perSecond may be +Inf (no limit). It panics, with a
// message naming the argument, when perSecond is <= 0 or NaN, when burst
// is < 1, or when given an option that does not apply (only [WithName] and
// [WithMaxWait] do).
func NewRate(perSecond float64, burst int, opts ...Option) *Rate {
	if math.IsNaN(perSecond) || perSecond <= 0 {
		panic(fmt.Sprintf("limit: NewRate: perSecond must be > 0, got %v", perSecond))
	}
	if burst < 1 {
		panic(fmt.Sprintf("limit: NewRate: burst must be >= 1, got %d", burst))
	}
	c := newConfig("rate limiter", []string{"WithMaxWait"}, opts)
	r := &Rate{
		lim:     rate.NewLimiter(rate.Limit(perSecond), burst),
		label:   c.label("rate"),
		maxWait: c.maxWait,
	}
	register(r, &r.ob, c, "limit.rate", (*Rate).Stats)
	return r
}

// Allow reports whether a token is available now, and takes it if so. It
// never waits and counts no rejection.
func (r *Rate) Allow() bool { return r.lim.Allow() }

// Wait takes a token, waiting for it if needed, and returns nil. It refuses
// at once (nil ctx panics):
//
//   - when ctx is already done: an error derived from context.Cause(ctx);
//   - when the token would come after ctx's deadline or after the
//     [WithMaxWait] bound: a [*RejectedError] whose RetryAfter is the wait
//     it would have needed.
//
// When ctx ends during the wait it returns context.Cause(ctx) at once, and
// the token it had reserved goes back to the bucket. A refused or
// cancelled Wait takes nothing.
func (r *Rate) Wait(ctx context.Context) error {
	if ctx == nil {
		panic("limit: nil ctx passed to Wait")
	}
	return r.wait(ctx)
}

// Do takes a token as [Rate.Wait] does, then calls fn with ctx and returns
// its error; when Wait fails, fn is not called and Do returns Wait's error.
// A panic in fn comes back as a [*PanicError]; a nil fn returns
// [ErrNilFunc] and takes no token.
func (r *Rate) Do(ctx context.Context, fn func(context.Context) error) (err error) {
	if ctx == nil {
		panic("limit: nil ctx passed to Do")
	}
	if fn == nil {
		return ErrNilFunc
	}
	if err := r.wait(ctx); err != nil {
		return err
	}
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

// Acquire takes a token as [Rate.Wait] does and returns a permit for it.
// A rate limiter bounds how often work starts, not how much runs at once,
// so [Rate.Release] gives nothing back to the bucket; it only checks that
// the permit is released once.
func (r *Rate) Acquire(ctx context.Context) (Permit, error) {
	if ctx == nil {
		panic("limit: nil ctx passed to Acquire")
	}
	if err := r.wait(ctx); err != nil {
		return Permit{}, err
	}
	return Permit{ID: r.ledger.take()}, nil
}

// Release ends the permit p. The outcome is not used (a rate does not
// adapt). Releasing a permit twice, or one that this limiter did not grant,
// panics.
func (r *Rate) Release(p Permit, _ Outcome) { r.ledger.give(p.ID, "rate limiter") }

// Stats returns the rejections so far and the permits held (granted by
// Acquire and not yet released); Limit is the burst.
func (r *Rate) Stats() Stats {
	return Stats{Limit: r.lim.Burst(), InFlight: r.ledger.inFlight(), Rejected: r.rejected.Load()}
}

// wait is Wait without the nil check: the fast path is x/time/rate's Allow
// (no allocation); the slow path reserves a token and sleeps until it is
// due, unless it would be due too late.
func (r *Rate) wait(ctx context.Context) error {
	if ctx.Err() != nil { // Err, not Done: asking for Done can cost the caller an allocation
		return context.Cause(ctx)
	}
	if r.lim.Allow() {
		return nil
	}
	now := time.Now()
	res := r.lim.ReserveN(now, 1)
	if !res.OK() { // only when burst is 0, which NewRate forbids
		r.rejected.Add(1)
		return r.ob.rejected(ctx, NewRejectedError(r.label, "no token can be had", 0))
	}
	delay := res.DelayFrom(now)
	if delay == 0 {
		return nil
	}
	if dl, ok := ctx.Deadline(); ok && now.Add(delay).After(dl) {
		res.CancelAt(now)
		r.rejected.Add(1)
		return r.ob.rejected(ctx, NewRejectedError(r.label, "no token before the deadline", delay))
	}
	if r.maxWait >= 0 && delay > r.maxWait {
		res.CancelAt(now)
		r.rejected.Add(1)
		return r.ob.rejected(ctx, NewRejectedError(r.label, "no token within the max wait", delay))
	}
	done := ctx.Done()
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		select { // an earlier cancellation wins over a token due at the same instant
		case <-done:
		default:
			return nil
		}
	case <-done:
	}
	res.Cancel()
	return context.Cause(ctx)
}
