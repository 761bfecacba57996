package limit

import (
	"container/list"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Adaptive is a concurrency limit that follows the latency it measures: it
// admits as many calls at once as the service behind it can answer without
// queueing, finds that number itself, and keeps finding it as the service
// gets faster or slower. Calls past the limit wait in a short queue,
// highest [Priority] first, or are rejected with a [*RejectedError]; the
// lowest priority is shed first.
//
// # The algorithm: Vegas, with a baseline that is checked, not assumed
//
// It is Vegas-style (TCP Vegas, Netflix's VegasLimit): the limit L is
// compared with an estimate of the queue it causes downstream, in calls,
// q = n·(1 − base/rtt) (Little's law), where n is the mean number of calls
// in flight in the last window, rtt their mean latency and base the latency
// without queueing. Vegas over Gradient2, because Vegas's baseline is the
// one thing that tells queueing from a service that is merely slower: the
// latency at no queue. Gradient2 compares short- and long-term averages of
// the latency, so a standing queue becomes the new normal as the long
// average catches up, and until it does a slower service looks like
// queueing.
//
// The limit grows (by 1, or 5% for large limits) while q is under half a
// call (2% of the limit for large limits), and shrinks while q is over 0.6
// of a call (3% of the limit for large limits): a limit one call above the service's concurrency keeps a call
// always waiting downstream, q ≈ 1, and is cut back, so the limit settles
// at the concurrency itself, not one above. A raise that made a queue the
// fastest call saw is undone, no further, and the next raise waits longer (1, 3, 7, 15, then
// 16 windows): probing upward costs a window at one call of queue, rarely.
// A cut of less than two calls needs two windows in a row, unless a raise
// is to blame or the limit is coming down already: a stall of the machine
// can look like a call of queue.
//
// Plain Vegas has a flaw: its baseline is the lowest latency ever seen, so
// when the service becomes four times slower every call looks like three
// calls of queue, and the limit is cut far below what the service can
// sustain. (failsafe-go's adaptive limiter, whose baseline is a moving
// average that lags a slowdown, is cut to 1 in a long one; BENCHMARKS.md
// has the figures.) This limiter has two estimates of the queue. The
// baseline's decides whether to cut, and is too high after a slowdown. The other
// takes the fastest call of the window as the latency without queueing:
// no call is faster than that, so this estimate is never too high, a floor
// on the queue. A cut takes the floor's whole calls (at least one, at
// most a fifth of the limit): calls that even the fastest call waited behind. The limit
// therefore comes down to the service's concurrency and not past it,
// however stale the baseline.
//
// Where the floor sees nothing and the baseline a queue, either every call
// waits alike (a standing queue in lockstep) or the service slowed down.
// The limit is then cut by one call (5% for large limits), and checked:
// after a cut, the latency must fall with the calls in flight, since a
// queue waits in proportion to its length. If it does not (fewer calls,
// the same latency, and the fastest call sees no queue either), the
// latency is the service's own: it becomes the new baseline, and the limit
// goes back to the knee that Little's law gives from the throughput before
// the cut and the new baseline (calls in flight = throughput × latency).
// So after a slowdown the limit is one call below the service's
// concurrency for one window at most, and at a knee so measured a single
// window's queue never cuts it. A faster service is seen at once: a window
// whose latency is below the baseline lowers it.
//
// Often that probe is not needed, since the slowdown was seen before any
// queue: the calls admitted while the limit held no call back (at once,
// leaving room under it, in a window that, like the one before, found it
// never full) are the ones least likely to have waited downstream, since a
// queue the limit lets build keeps it full. The fastest of them that is
// slower than the baseline by more than a quarter is kept as a candidate
// latency without queueing. When a descent (the last window cut the limit)
// reaches a window where only the baseline sees a queue and the calls take
// the candidate's latency alike (under 0.6 of a call of queue over it, 3%
// of the limit for large limits), the candidate is the service's own
// latency: the window's latency becomes the baseline and the limit stays,
// with no cut. Not before a cut: the first window after a slowdown may
// hold only the calls that met no queue. A limit one call above the
// service's concurrency still shows a call of queue over the candidate and
// is cut; a candidate that is itself late (a queue that every call
// admitted with room waited in) is the one case the probe would have
// caught, and costs at most that queue.
//
// Windows last at least twice the latency and ten calls; only calls
// admitted since the last change of the limit (after a cut, since the
// calls in flight fell below it) are sampled, so each window measures one
// limit. The limit moves only in windows where it bound (a caller waited
// or was rejected): with fewer callers than the limit, latency says
// nothing about the limit, which then holds. A cold start under overload
// never sees the latency without a queue, so its baseline may include up
// to one service time of queue until the service is seen idle once.
//
// # Queue, priorities and rejection
//
// A caller that finds the limit full waits in a queue of at most half the
// limit ([WithMaxWaiting] sets a fixed bound; 0 means no queue), for at most
// what is left of a quarter of the latency without queueing (the larger of
// the baseline and the last window's fastest call) once the queue already
// seen downstream is counted ([WithMaxWait] sets a fixed bound): the
// queueing a caller sees, here and downstream, stays well under half the
// service's own latency. Before the first latency is measured, there is no
// waiting. Rejection is gradual by priority: a caller of priority p may join the
// queue only while it holds fewer than (p−Lowest+1)/5 of its bound, so as
// the queue fills [Lowest] is turned away first and [Highest] last; a
// caller that finds the queue full takes the place of the newest waiter of
// lower priority, which is rejected. Waiters are admitted highest priority
// first, first come first served within a priority, until the queue
// stands: once a waiter has run out of time in it (and until a window
// passes with none), the newest waiter of a priority is admitted first, and
// a caller that finds its priority's share full takes the place of the
// oldest waiter of its own priority (adaptive LIFO, as Facebook's services
// do under overload). The oldest waiter is the one least likely to be
// served in time; served first, it would make every admitted call wait
// the whole bound. A rejection's RetryAfter is the latency of the last
// window (the time the calls in flight take to turn over).
//
// A waiter whose ctx ends is never admitted afterwards. The outcome given to
// [Adaptive.Release] matters: [Success] and [Failure] are latency samples;
// [Dropped] (a deadline passed, a downstream rejection) is a sample of at
// least the last window's latency, since the call was cut short; [Ignored]
// is not sampled.
//
// Create one with [NewAdaptive]; the zero value is not usable. It is safe
// for concurrent use, starts no goroutine and needs no closing. An
// admission and a release each take two short critical sections (the
// limiter's and the permit ledger's) and read the clock once; neither
// allocates when the call is admitted at once. A caller that waits
// allocates its place in the queue and a timer; a rejection allocates its
// error.
type Adaptive struct {
	label      string
	minLim     float64
	maxLim     float64
	maxWaiting int           // -1: half the limit
	maxWait    time.Duration // -1: adaptive (see the type doc)
	rejected   atomic.Uint64
	ledger     ledger // permits granted
	ob         observed

	mu         sync.Mutex
	limit      float64                         // the limit; admission uses its floor
	inFlight   int                             // permits held
	queued     int                             // waiters in queues
	queues     [Highest - Lowest + 1]list.List // of *waiter, per priority (index p-Lowest), oldest first
	epoch      time.Time                       // the last change of the limit: older permits are not sampled
	draining   bool                            // the limit was cut and more than it are still in flight
	win        window                          // the window being measured
	prev       windowResult                    // the last window that closed
	base       time.Duration                   // latency without queueing; 0 until measured
	rtt        time.Duration                   // the last window's mean latency
	fastest    time.Duration                   // the last window's fastest call
	lastChange time.Time                       // of inFlight, for the time integral
	lifo       bool                            // the queue stands: newest waiter first
	grew       bool                            // the last change of the limit raised it
	hold       int                             // windows to wait before raising the limit after a cut
	knee       float64                         // the calls in flight the service held without a queue, at the last probe; 0: unknown
	over       int                             // consecutive windows that saw a queue
	cutLast    bool                            // the last window cut the limit: a descent
	raisedFrom float64                         // the limit before the last raise
	holdLeft   int                             // of hold, still to wait
	candidate  time.Duration                   // the fastest call admitted with room under the limit since the service slowed down; 0: none

	// onAdmit, when set (tests), is called under mu at every admission
	// with the permits held after it and the limit.
	onAdmit func(inFlight, limit int)
}

// NewAdaptive returns an adaptive concurrency limiter. By default its limit
// starts at 20 and stays within [1, 1000] ([WithLimits]); the queue and the
// wait in it are bounded as the type doc says unless [WithMaxWaiting] or
// [WithMaxWait] fix them. It panics, with a message naming the option,
// when given one that does not apply (only [WithName], [WithLimits],
// [WithMaxWaiting] and [WithMaxWait] do).
func NewAdaptive(opts ...Option) *Adaptive {
	c := newConfig("adaptive limiter", []string{"WithLimits", "WithMaxWaiting", "WithMaxWait"}, opts)
	ac := c.adaptive
	if !ac.set {
		ac = adaptiveConfig{minLim: 1, initial: 20, maxLim: 1000}
	}
	now := time.Now()
	a := &Adaptive{
		label:      c.label("adaptive"),
		minLim:     float64(ac.minLim),
		maxLim:     float64(ac.maxLim),
		maxWaiting: c.maxWaiting,
		maxWait:    c.maxWait,
		limit:      float64(ac.initial),
		epoch:      now,
		lastChange: now,
	}
	a.win.start = now
	register(a, &a.ob, c, "limit.adaptive", (*Adaptive).Stats)
	return a
}

// Acquire admits the caller when fewer than the limit hold a permit and
// nobody of the same or a higher priority ([PriorityFrom] ctx) waits;
// otherwise it waits in the queue (see the type doc) until a slot is handed
// to it. It returns a permit to give back to [Adaptive.Release] exactly
// once. It refuses (nil ctx panics):
//
//   - when ctx is already done, or ends while waiting: an error derived
//     from context.Cause(ctx), and the caller is never admitted afterwards;
//   - when the queue has no room for the caller's priority, when a caller
//     of higher priority (or, while the queue stands, a newer caller of the
//     same priority) takes its place, or when it has waited as long as
//     allowed: a [*RejectedError] whose RetryAfter is the latency of the
//     last window.
//
// A refused Acquire holds nothing.
func (a *Adaptive) Acquire(ctx context.Context) (Permit, error) {
	if ctx == nil {
		panic("limit: nil ctx passed to Acquire")
	}
	start, roomy, err := a.acquire(ctx)
	if err != nil {
		return Permit{}, err
	}
	return Permit{ID: a.ledger.takeTagged(roomy), Start: start}, nil
}

// Release ends the permit p with the outcome o of the work (see the type
// doc for what each outcome teaches the limiter), and hands the slot to the
// first waiter of the highest priority if the limit allows. Releasing a
// permit twice, or one that this limiter did not grant, panics.
func (a *Adaptive) Release(p Permit, o Outcome) {
	roomy := a.ledger.give(p.ID, "adaptive limiter")
	now := time.Now()
	a.mu.Lock()
	a.account(now)
	a.inFlight--
	if a.draining && a.inFlight < int(a.limit) {
		// The calls admitted under the higher limit have drained: from
		// now on a call queues downstream behind fewer than the new limit.
		a.draining = false
		a.epoch = now
		a.win = window{start: now}
	}
	if roomy && (o == Success || o == Failure) {
		a.noteCandidate(now.Sub(p.Start))
	}
	if o != Ignored && !p.Start.Before(a.epoch) {
		lat := now.Sub(p.Start)
		if o == Dropped {
			lat = max(lat, a.rtt)
		}
		if a.win.n == 0 || lat < a.win.min {
			a.win.min = lat
		}
		a.win.n++
		a.win.sum += lat
		if a.win.n >= minWindowSamples && now.Sub(a.win.start) >= 2*a.rtt {
			a.closeWindow(now)
		}
	}
	a.dispatch()
	a.mu.Unlock()
}

// Do runs fn under a permit: it acquires one as [Adaptive.Acquire] does
// (returning the error, and running nothing, when refused), calls fn with
// ctx, and releases the permit with [OutcomeOf] fn's error when fn returns
// (with [Failure] when it panics). A panic in fn comes back as a
// [*PanicError]; a nil fn returns [ErrNilFunc] and acquires nothing.
func (a *Adaptive) Do(ctx context.Context, fn func(context.Context) error) error {
	if ctx == nil {
		panic("limit: nil ctx passed to Do")
	}
	return Do(ctx, a, fn)
}

// Stats returns the limit now, the permits held, the callers waiting and the
// rejections so far.
func (a *Adaptive) Stats() Stats {
	a.mu.Lock()
	s := Stats{Limit: int(a.limit), InFlight: a.inFlight, Queued: a.queued}
	a.mu.Unlock()
	s.Rejected = a.rejected.Load()
	return s
}
