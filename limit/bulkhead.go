package limit

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/async-patterns/async/internal/safe"
)

// Bulkhead bounds how much work runs at once: at most n calls hold a
// permit; further callers wait in line (first come, first served), at most
// [WithMaxWaiting] of them, each at most [WithMaxWait]; the rest are
// rejected at once. It is asyncio.Semaphore with a bounded queue, built on
// golang.org/x/sync/semaphore.
//
// A waiter whose ctx ends is never admitted afterwards (an earlier
// cancellation wins; see the package doc).
//
// Create one with [NewBulkhead]; the zero value is not usable. It is safe
// for concurrent use, starts no goroutine and needs no closing. A call
// admitted at once allocates nothing.
type Bulkhead struct {
	sem        *semaphore.Weighted
	n          int
	label      string        // name or "bulkhead", for rejections
	maxWaiting int64         // -1: no bound
	maxWait    time.Duration // -1: no bound but ctx's
	waiting    atomic.Int64  // callers inside the semaphore's Acquire
	running    atomic.Int64  // slots held, by Do and by Acquire
	rejected   atomic.Uint64
	ledger     ledger // permits granted by Acquire
	ob         observed
}

// NewBulkhead returns a bulkhead that lets at most n calls run at once. By
// default any number may wait, each as long as its ctx allows;
// [WithMaxWaiting] and [WithMaxWait] bound that. It panics, with a message
// naming the argument, when n < 1 or when given an option that does not
// apply (only [WithName], [WithMaxWaiting] and [WithMaxWait] do).
func NewBulkhead(n int, opts ...Option) *Bulkhead {
	if n < 1 {
		panic(fmt.Sprintf("limit: NewBulkhead: n must be >= 1, got %d", n))
	}
	c := newConfig("bulkhead", []string{"WithMaxWaiting", "WithMaxWait"}, opts)
	b := &Bulkhead{
		sem:        semaphore.NewWeighted(int64(n)),
		n:          n,
		label:      c.label("bulkhead"),
		maxWaiting: int64(c.maxWaiting),
		maxWait:    c.maxWait,
	}
	register(b, &b.ob, c, "limit.bulkhead", (*Bulkhead).Stats)
	return b
}

// TryAcquire takes a slot if one is free and nobody is waiting, and
// reports whether it did; it never waits and counts no rejection. When ok,
// the permit goes back with [Bulkhead.Release]; when not, nothing is held.
func (b *Bulkhead) TryAcquire() (Permit, bool) {
	if !b.sem.TryAcquire(1) {
		return Permit{}, false
	}
	b.running.Add(1)
	return Permit{ID: b.ledger.take()}, true
}

// Acquire takes a slot, waiting in line for one if all n are held, and
// returns a permit for it that the caller must give back to
// [Bulkhead.Release] exactly once. It refuses (nil ctx panics):
//
//   - when ctx is already done, or ends while waiting: an error derived
//     from context.Cause(ctx);
//   - when [WithMaxWaiting] callers already wait, or when it has waited
//     [WithMaxWait]: a [*RejectedError] (RetryAfter 0: when a slot frees
//     up is not known).
//
// A refused Acquire holds nothing.
func (b *Bulkhead) Acquire(ctx context.Context) (Permit, error) {
	if ctx == nil {
		panic("limit: nil ctx passed to Acquire")
	}
	if err := b.acquire(ctx); err != nil {
		return Permit{}, err
	}
	return Permit{ID: b.ledger.take()}, nil
}

// Release ends the permit p and frees its slot for the next in line. The
// outcome is not used (a bulkhead does not adapt). Releasing a permit
// twice, or one that this bulkhead did not grant, panics.
func (b *Bulkhead) Release(p Permit, _ Outcome) {
	b.ledger.give(p.ID, "bulkhead")
	b.release()
}

// Do takes a slot as [Bulkhead.Acquire] does, calls fn with ctx, frees the
// slot when fn returns or panics, and returns fn's error; when no slot is
// had, fn is not called and Do returns Acquire's error. A panic in fn comes
// back as a [*PanicError]; a nil fn returns [ErrNilFunc] and takes no slot.
func (b *Bulkhead) Do(ctx context.Context, fn func(context.Context) error) (err error) {
	if ctx == nil {
		panic("limit: nil ctx passed to Do")
	}
	if fn == nil {
		return ErrNilFunc
	}
	if err := b.acquire(ctx); err != nil {
		return err
	}
	returned := false
	defer func() {
		if !returned {
			err = safe.Recovered(recover())
		}
		b.release()
	}()
	err = fn(ctx)
	returned = true
	return err
}

// Stats returns n as Limit, the slots held, the callers waiting, and the
// rejections so far.
func (b *Bulkhead) Stats() Stats {
	return Stats{
		Limit:    b.n,
		InFlight: int(b.running.Load()),
		Queued:   int(b.waiting.Load()),
		Rejected: b.rejected.Load(),
	}
}

// acquire takes a slot for Do and Acquire.
func (b *Bulkhead) acquire(ctx context.Context) error {
	if ctx.Err() != nil { // Err, not Done: asking for Done can cost the caller an allocation
		return context.Cause(ctx)
	}
	if b.sem.TryAcquire(1) {
		b.running.Add(1)
		return nil
	}
	if w := b.waiting.Add(1); b.maxWaiting >= 0 && w > b.maxWaiting {
		b.waiting.Add(-1)
		b.rejected.Add(1)
		return b.ob.rejected(ctx, NewRejectedError(b.label, "too many waiting", 0))
	}
	err := b.queue(ctx)
	b.waiting.Add(-1)
	if err != nil {
		return err
	}
	b.running.Add(1)
	return nil
}

// queue waits in the semaphore's line, bounded by ctx and the max wait.
// The semaphore gives an earlier cancellation precedence: a waiter whose
// ctx ended is never left holding a slot.
func (b *Bulkhead) queue(ctx context.Context) error {
	if b.maxWait < 0 {
		if err := b.sem.Acquire(ctx, 1); err != nil {
			return context.Cause(ctx)
		}
		return nil
	}
	if b.maxWait == 0 {
		b.rejected.Add(1)
		return b.ob.rejected(ctx, NewRejectedError(b.label, "no slot free and no waiting allowed", 0))
	}
	wctx, cancel := context.WithTimeoutCause(ctx, b.maxWait, errWaitedTooLong)
	defer cancel()
	if err := b.sem.Acquire(wctx, 1); err != nil {
		if ctx.Err() != nil { // the caller's ctx ended: its cause, not ours
			return context.Cause(ctx)
		}
		b.rejected.Add(1)
		return b.ob.rejected(ctx, NewRejectedError(b.label, fmt.Sprintf("no slot within the max wait of %v", b.maxWait), 0))
	}
	return nil
}

var errWaitedTooLong = errors.New("limit: waited too long")

func (b *Bulkhead) release() {
	b.running.Add(-1)
	b.sem.Release(1)
}
