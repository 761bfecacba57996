package limit

import (
	"math"
	"time"
)

// window accumulates one measurement window (under Adaptive.mu).
type window struct {
	start     time.Time
	n         int           // latency samples
	sum       time.Duration // of the samples
	min       time.Duration // the fastest sample
	area      float64       // ∫ inFlight dt, in permit-seconds
	saturated bool          // a caller found the limit full
	expired   bool          // a waiter left the queue unserved for lack of time
}

// windowResult is what a closed window measured.
type windowResult struct {
	limit     float64       // the limit in force
	inFlight  float64       // time average
	rtt       time.Duration // mean latency
	min       time.Duration // the fastest call
	saturated bool
}

const (
	minWindowSamples = 10
	maxCut           = 0.2  // the largest share of the limit one window may cut
	maxHold          = 16   // the most windows between two raises of the limit
	probeCut         = 0.05 // the share of the limit a cut takes when only the baseline sees a queue
)

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
	a.lifo = w.expired
	dur := now.Sub(w.start).Seconds()
	if dur <= 0 || w.n == 0 {
		return
	}
	cur := windowResult{
		limit:     a.limit,
		inFlight:  w.area / dur,
		rtt:       max(w.sum/time.Duration(w.n), 1),
		min:       max(w.min, 1),
		saturated: w.saturated,
	}
	prev := a.prev
	a.prev = cur
	a.rtt = cur.rtt
	a.fastest = cur.min
	if a.base == 0 || cur.rtt < a.base {
		a.rebase(cur.rtt)
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

// noteCandidate keeps lat, the latency of a call that was admitted at once
// and left room under the limit, as a candidate for the latency without
// queueing when the service slowed down (the call is slower than the
// baseline by more than a quarter). A queue the limit lets build holds the
// limit full: the calls admitted with room are the ones least likely to
// have waited downstream, and the fastest of them is kept. nextLimit checks
// the candidate and uses it. Called with mu held.
func (a *Adaptive) noteCandidate(lat time.Duration) {
	if a.base > 0 && float64(lat) > 1.25*float64(a.base) && (a.candidate == 0 || lat < a.candidate) {
		a.candidate = lat
	}
}

// rebase makes base the latency without queueing. A change of more than a
// quarter is a new service: the limit may be raised again at once.
func (a *Adaptive) rebase(base time.Duration) {
	if float64(base) > 1.25*float64(a.base) || float64(base) < 0.8*float64(a.base) {
		a.hold, a.holdLeft, a.knee = 0, 0, 0
	}
	a.base = base
	a.candidate = 0
}

// queueOver estimates the calls queued downstream in the window w if the
// latency without queueing is noQueue (Little's law: the calls in flight
// wait in proportion to the latency above noQueue).
func queueOver(w windowResult, noQueue time.Duration) float64 {
	return max(0, w.inFlight*(1-float64(noQueue)/float64(w.rtt)))
}

// nextLimit is the algorithm of the type doc: the limit after the window
// cur, which followed prev.
func (a *Adaptive) nextLimit(prev, cur windowResult) float64 {
	L := cur.limit
	if prev.saturated && cur.limit < prev.limit && prev.inFlight-cur.inFlight >= 0.25*(prev.limit-cur.limit) {
		// The limit was cut. Had the latency been queueing, it would have
		// fallen in proportion; if it fell by less than a quarter of
		// that, it is the service's own latency: rebase, and go back to the knee.
		// A latency that rose says nothing: the queue may still be
		// building, or the service slowing down further.
		proportional := float64(prev.rtt) * cur.inFlight / prev.inFlight
		fell := float64(prev.rtt - cur.rtt)
		// So must the fastest call of the window: a queue it still saw
		// (the calls of a burst draining downstream) says nothing yet.
		if fell >= -0.02*float64(prev.rtt) && fell < 0.25*(float64(prev.rtt)-proportional) &&
			queueOver(cur, cur.min) <= queueHigh(L) {
			a.rebase(cur.rtt)
			// Little's law: the calls in flight before the cut over their
			// latency is the throughput the service sustained; times the
			// latency now, the calls it holds without a queue.
			knee := math.Round(math.Floor(prev.limit) * float64(cur.rtt) / float64(prev.rtt))
			a.knee = knee
			return math.Max(L, knee)
		}
	}
	// Two estimates of the queue. The baseline's is too high after a
	// slowdown. The fastest call of the window never took less than the
	// latency without queueing, so its estimate is never too high: it is
	// a floor on the queue (zero when every call queues alike). The limit
	// grows only when the baseline sees no queue, and a cut is never
	// larger than the floor's whole calls: the limit does not fall below
	// the calls the service holds without a queue.
	q := queueOver(cur, a.base)
	floorQ := queueOver(cur, max(a.base, cur.min))
	if q <= queueHigh(L) {
		a.over = 0
		a.cutLast = false
	}
	switch lo, hi := queueLow(L), queueHigh(L); {
	case q > hi:
		if a.cutLast && a.candidate > 0 && floorQ <= hi && queueOver(cur, a.candidate) <= hi {
			// At the end of a descent: after the service slowed down, a
			// call admitted with room under the limit took this
			// latency, and every call of the window takes it alike: the
			// latency is the service's own, not a queue, and needs no
			// probe (see the type doc).
			a.rebase(cur.rtt)
			a.knee = L
			a.candidate = 0
			a.over, a.cutLast, a.grew = 0, false, false
			return L
		}
		a.over++
		cutLast := a.cutLast
		a.cutLast = false
		if a.over < 2 && !a.grew && (L <= a.knee || floorQ < 2 && !cutLast) {
			// At the knee the last probe measured, or less than two
			// calls of queue outside a descent, and no raise to blame:
			// one window is not enough, since a stall of the machine
			// looks like that much queue.
			return L
		}
		a.over = 0
		a.cutLast = true
		a.holdLeft = 0
		floorLim := 0.0
		if a.grew {
			// The last raise made a queue: undo it, no further (the
			// limit before it made none), and wait longer before the
			// next.
			a.hold = min(2*a.hold+1, maxHold)
			a.holdLeft = a.hold
			floorLim = a.raisedFrom
		}
		a.grew = false
		if floorQ > hi {
			// A queue even the fastest call saw: cut that much of it.
			return math.Max(floorLim, L-math.Max(1, math.Min(math.Floor(floorQ), math.Floor(maxCut*L))))
		}
		// Only the baseline sees a queue: every call queues alike, or
		// the service slowed down. A cut tells which (see the type doc).
		return L - math.Max(1, math.Floor(probeCut*L))
	case q < lo:
		if a.holdLeft > 0 {
			a.holdLeft--
			return L
		}
		if a.grew {
			a.hold = 0 // the last raise made no queue: the service has room
		}
		a.grew = true
		a.raisedFrom = L
		return L + math.Max(1, 0.05*L)
	}
	return L
}

// queueLow and queueHigh bound the queue the limit lets build downstream,
// in calls: below queueLow the limit grows, above queueHigh it shrinks.
// queueHigh is under one call, so that one call of standing queue is cut.
func queueLow(limit float64) float64  { return math.Max(0.5, 0.02*limit) }
func queueHigh(limit float64) float64 { return math.Max(0.6, 0.03*limit) }
