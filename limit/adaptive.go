package limit

import (
	"container/list"
	"context"
	"fmt"
	"math"
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
// compared with an estimate of the queue it causes, q = L·(1 − base/rtt),
// where rtt is the mean latency of the calls of the last window and base the
// latency without queueing; above a few queued calls the limit goes down,
// below it goes up. Vegas over Gradient2, because Vegas's baseline is the
// one thing that tells queueing from a service that is merely slower: the
// latency at no queue. Gradient2 compares short- and long-term averages of
// the latency, so a standing queue becomes the new normal as the long
// average catches up, and until it does a slower service looks like
// queueing.
//
// Plain Vegas has the same flaw the other way round: its baseline is the
// lowest latency ever seen, so when the service becomes four times slower
// every call looks like three calls of queue, and the limit is cut far
// below what the service can sustain. (failsafe-go's adaptive limiter,
// whose baseline is a moving average that lags a slowdown, is cut to 1 in a
// long one; BENCHMARKS.md has the figures.) This limiter checks its
// baseline instead of trusting it. It cuts by at most a fifth a window;
// after a cut, the latency must fall with the calls in flight, since a
// queue of calls waits in proportion to its length. If it does not (they
// went down and the latency stayed), the latency is the service's own: it
// becomes the new baseline, and the limit goes back to the knee that
// Little's law gives from the throughput before the cut and the new
// baseline (calls in flight = throughput × latency). The limit therefore
// dips below the concurrency the service sustains only in the probe that
// measures it, typically one window. A faster service is seen at once: a
// window whose latency is below the baseline lowers it.
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
// what is left of a quarter of the baseline once the queue already seen
// downstream (rtt − base) is counted ([WithMaxWait] sets a fixed bound): the
// queueing a caller sees, here and downstream, stays well under half the
// service's own latency. Before the first latency is measured, there is no
// waiting. Rejection is gradual by priority: a caller of priority p may join the
// queue only while it holds fewer than (p−Lowest+1)/5 of its bound, so as
// the queue fills [Lowest] is turned away first and [Highest] last; a
// caller that finds the queue full takes the place of the newest waiter of
// lower priority, which is rejected. Waiters are admitted highest priority
// first, first come first served within a priority. A rejection's
// RetryAfter is the latency of the last window (the time the calls in
// flight take to turn over).
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
	lastChange time.Time                       // of inFlight, for the time integral

	// onAdmit, when set (tests), is called under mu at every admission
	// with the permits held after it and the limit.
	onAdmit func(inFlight, limit int)
}

// window accumulates one measurement window (under Adaptive.mu).
type window struct {
	start     time.Time
	n         int           // latency samples
	sum       time.Duration // of the samples
	area      float64       // ∫ inFlight dt, in permit-seconds
	saturated bool          // a caller found the limit full
}

// windowResult is what a closed window measured.
type windowResult struct {
	limit     float64       // the limit in force
	inFlight  float64       // time average
	rtt       time.Duration // mean latency
	saturated bool
}

const (
	minWindowSamples = 10
	maxCut           = 0.2 // the largest share of the limit one window may cut
)

// waiter is a caller in the queue.
type waiter struct {
	ctx   context.Context
	ready chan struct{} // closed when the state leaves waiting
	state waiterState   // under Adaptive.mu
	elem  *list.Element
	prio  Priority
}

type waiterState uint8

const (
	waiting  waiterState = iota
	admitted             // holds a slot
	evicted              // displaced by a caller of higher priority
)

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
//     of higher priority takes its place, or when it has waited as long as
//     allowed: a [*RejectedError] whose RetryAfter is the latency of the
//     last window.
//
// A refused Acquire holds nothing.
func (a *Adaptive) Acquire(ctx context.Context) (Permit, error) {
	if ctx == nil {
		panic("limit: nil ctx passed to Acquire")
	}
	start, err := a.acquire(ctx)
	if err != nil {
		return Permit{}, err
	}
	return Permit{ID: a.ledger.take(), Start: start}, nil
}

// Release ends the permit p with the outcome o of the work (see the type
// doc for what each outcome teaches the limiter), and hands the slot to the
// first waiter of the highest priority if the limit allows. Releasing a
// permit twice, or one that this limiter did not grant, panics.
func (a *Adaptive) Release(p Permit, o Outcome) {
	a.ledger.give(p.ID, "adaptive limiter")
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
	if o != Ignored && !p.Start.Before(a.epoch) {
		lat := now.Sub(p.Start)
		if o == Dropped {
			lat = max(lat, a.rtt)
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

// acquire takes a slot for Acquire, waiting in the queue if need be, and
// returns when it was admitted.
func (a *Adaptive) acquire(ctx context.Context) (time.Time, error) {
	done := ctx.Done()
	if done != nil {
		select {
		case <-done:
			return time.Time{}, context.Cause(ctx)
		default:
		}
	}
	prio := PriorityFrom(ctx)
	a.mu.Lock()
	if a.inFlight < int(a.limit) && !a.waitingAtOrAbove(prio) {
		now := time.Now()
		a.admit(now)
		a.mu.Unlock()
		return now, nil
	}
	a.win.saturated = true
	wait := a.waitBound()
	if wait == 0 || !a.makeRoom(prio) {
		return time.Time{}, a.reject("limit full and no room in the queue") // unlocks
	}
	w := &waiter{ctx: ctx, ready: make(chan struct{}), prio: prio}
	w.elem = a.queues[prio-Lowest].PushBack(w)
	a.queued++
	a.mu.Unlock()

	var timeout <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	timedOut := false
	select {
	case <-w.ready:
	case <-done:
	case <-timeout:
		timedOut = true
	}

	a.mu.Lock()
	switch w.state {
	case waiting:
		a.queues[prio-Lowest].Remove(w.elem)
		a.queued--
	case admitted:
		if ctx.Err() == nil {
			a.mu.Unlock()
			return time.Now(), nil
		}
		// The ctx ended as the slot was handed over: give it back.
		a.account(time.Now())
		a.inFlight--
		a.dispatch()
	case evicted:
		if ctx.Err() == nil {
			return time.Time{}, a.reject("displaced from the queue by a caller of higher priority") // unlocks
		}
	}
	if err := ctx.Err(); err != nil {
		a.mu.Unlock()
		return time.Time{}, context.Cause(ctx)
	}
	if timedOut {
		return time.Time{}, a.reject(fmt.Sprintf("no slot within the wait allowed (%v)", wait)) // unlocks
	}
	a.mu.Unlock()
	panic("limit: adaptive waiter woken with nothing to do") // unreachable
}

// reject counts a rejection and returns its error. Called with mu held; it
// unlocks.
func (a *Adaptive) reject(reason string) error {
	after := a.rtt
	a.mu.Unlock()
	a.rejected.Add(1)
	return a.ob.rejected(context.Background(), NewRejectedError(a.label, reason, after))
}

// waitingAtOrAbove reports whether a caller of priority p or higher waits.
func (a *Adaptive) waitingAtOrAbove(p Priority) bool {
	if a.queued == 0 {
		return false
	}
	for q := p; q <= Highest; q++ {
		if a.queues[q-Lowest].Len() > 0 {
			return true
		}
	}
	return false
}

// waitBound is how long a caller may wait now: 0 for not at all, -1 for no
// bound but ctx's.
func (a *Adaptive) waitBound() time.Duration {
	if a.maxWait >= 0 {
		return a.maxWait
	}
	if a.base == 0 {
		return 0
	}
	return max(a.base/4-max(a.rtt-a.base, 0), 0)
}

// makeRoom reports whether a caller of priority p may join the queue,
// evicting the newest waiter of the lowest priority below p if the queue is
// full.
func (a *Adaptive) makeRoom(p Priority) bool {
	bound := a.maxWaiting
	if bound < 0 {
		bound = max(int(a.limit)/2, 1)
	}
	if bound == 0 {
		return false
	}
	// Gradual rejection: priority p may fill (p-Lowest+1)/5 of the queue.
	levels := int(Highest - Lowest + 1)
	share := max((bound*int(p-Lowest+1)+levels-1)/levels, 1)
	if a.queued < share {
		return true
	}
	if a.queued < bound {
		return false // room, but not for this priority
	}
	for q := Lowest; q < p; q++ {
		if e := a.queues[q-Lowest].Back(); e != nil {
			w := e.Value.(*waiter)
			a.queues[q-Lowest].Remove(e)
			a.queued--
			w.state = evicted
			close(w.ready)
			return true
		}
	}
	return false
}

// admit takes a slot. Called with mu held.
func (a *Adaptive) admit(now time.Time) {
	a.account(now)
	a.inFlight++
	if a.inFlight >= int(a.limit) {
		a.win.saturated = true
	}
	if a.onAdmit != nil {
		a.onAdmit(a.inFlight, int(a.limit))
	}
}

// dispatch hands free slots to waiters, highest priority first, skipping
// (and dropping) those whose ctx has ended. Called with mu held.
func (a *Adaptive) dispatch() {
	for a.queued > 0 && a.inFlight < int(a.limit) {
		var w *waiter
		for q := Highest; q >= Lowest && w == nil; q-- {
			if e := a.queues[q-Lowest].Front(); e != nil {
				w = e.Value.(*waiter)
				a.queues[q-Lowest].Remove(e)
			}
		}
		a.queued--
		if w.ctx.Err() != nil {
			// An earlier cancellation wins: left waiting, it removes itself.
			w.state = evicted
			close(w.ready)
			continue
		}
		a.admit(time.Now())
		w.state = admitted
		close(w.ready)
	}
}

// account adds the permits held since the last change to the window's
// time integral. Called with mu held.
func (a *Adaptive) account(now time.Time) {
	a.win.area += float64(a.inFlight) * now.Sub(a.lastChange).Seconds()
	a.lastChange = now
}

// closeWindow ends the window at now, updates the limit from it and
// starts the next one. Called with mu held.
func (a *Adaptive) closeWindow(now time.Time) {
	w := a.win
	a.win = window{start: now}
	dur := now.Sub(w.start).Seconds()
	if dur <= 0 || w.n == 0 {
		return
	}
	cur := windowResult{
		limit:     a.limit,
		inFlight:  w.area / dur,
		rtt:       w.sum / time.Duration(w.n),
		saturated: w.saturated,
	}
	if cur.rtt <= 0 {
		cur.rtt = 1
	}
	prev := a.prev
	a.prev = cur
	a.rtt = cur.rtt
	if a.base == 0 || cur.rtt < a.base {
		a.base = cur.rtt
	}
	if !cur.saturated {
		return // the limit bound nothing: the latency says nothing about it
	}
	old := a.limit
	next := a.nextLimit(prev, cur)
	next = min(max(next, a.minLim), a.maxLim)
	if next != old {
		a.limit = next
		a.epoch = now
		a.draining = next < old && a.inFlight >= int(next)
		if next > old {
			a.dispatch()
		}
	}
}

// nextLimit is the algorithm of the type doc: the limit after the window
// cur, which followed prev.
func (a *Adaptive) nextLimit(prev, cur windowResult) float64 {
	L := cur.limit
	if prev.saturated && cur.limit < prev.limit && cur.inFlight <= 0.95*prev.inFlight {
		// The limit was cut. Had the latency been queueing, it would have
		// fallen in proportion; if it fell by less than half that, it is
		// the service's own latency: rebase, and go back to the knee.
		// A latency that rose says nothing: the queue may still be
		// building, or the service slowing down further.
		proportional := float64(prev.rtt) * cur.inFlight / prev.inFlight
		fell := float64(prev.rtt - cur.rtt)
		if fell >= -0.02*float64(prev.rtt) && fell < 0.5*(float64(prev.rtt)-proportional) {
			a.base = cur.rtt
			// Little's law: the calls in flight before the cut over their
			// latency is the throughput the service sustained; times the
			// latency now, the calls it holds without a queue.
			knee := math.Round(math.Floor(prev.limit) * float64(cur.rtt) / float64(prev.rtt))
			return math.Max(L, knee+queueLow(knee))
		}
	}
	q := cur.inFlight * (1 - float64(a.base)/float64(cur.rtt))
	switch lo, hi := queueLow(L), queueHigh(L); {
	case q > hi:
		return L - math.Max(1, math.Min(q-lo, maxCut*L))
	case q < lo:
		return L + math.Max(1, 0.05*L)
	}
	return L
}

// queueLow and queueHigh bound the queue the limit lets build downstream:
// below queueLow the limit grows, above queueHigh it shrinks.
func queueLow(limit float64) float64  { return math.Max(0.5, 0.03*limit) }
func queueHigh(limit float64) float64 { return math.Max(1, 0.06*limit) }
