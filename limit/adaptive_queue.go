package limit

import (
	"container/list"
	"context"
	"fmt"
	"time"
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
	waiting    waiterState = iota
	admitted               // holds a slot
	evicted                // displaced by a caller of higher priority
	superseded             // displaced by a newer caller while the queue stands
)

// acquire takes a slot for Acquire, waiting in the queue if need be, and
// returns when it was admitted and whether it was admitted with room: at
// once, leaving room under the limit, with a baseline measured, and in a
// window where, as in the one before, the limit held no call back.
func (a *Adaptive) acquire(ctx context.Context) (time.Time, bool, error) {
	if ctx.Err() != nil { // Err, not Done: asking for Done can cost the caller an allocation
		return time.Time{}, false, context.Cause(ctx)
	}
	prio := PriorityFrom(ctx)
	a.mu.Lock()
	if a.inFlight < int(a.limit) && !a.waitingAtOrAbove(prio) {
		now := time.Now()
		a.admit(now)
		// The limit held no call back in this window or the last: a
		// candidate for the latency without queueing (noteCandidate).
		roomy := a.base > 0 && a.inFlight < int(a.limit) && !a.win.saturated && !a.prev.saturated
		a.mu.Unlock()
		return now, roomy, nil
	}
	a.win.saturated = true
	wait := a.waitBound()
	if wait == 0 || !a.makeRoom(prio) {
		return time.Time{}, false, a.reject("limit full and no room in the queue") // unlocks
	}
	w := &waiter{ctx: ctx, ready: make(chan struct{}), prio: prio}
	w.elem = a.queues[prio-Lowest].PushBack(w)
	a.queued++
	a.mu.Unlock()

	done := ctx.Done()
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
			return time.Now(), false, nil
		}
		// The ctx ended as the slot was handed over: give it back.
		a.account(time.Now())
		a.inFlight--
		a.dispatch()
	case evicted:
		if ctx.Err() == nil {
			return time.Time{}, false, a.reject("displaced from the queue by a caller of higher priority") // unlocks
		}
	case superseded:
		if ctx.Err() == nil {
			return time.Time{}, false, a.reject("displaced from a standing queue by a newer caller") // unlocks
		}
	}
	if err := ctx.Err(); err != nil {
		a.mu.Unlock()
		return time.Time{}, false, context.Cause(ctx)
	}
	if timedOut {
		// The queue holds callers longer than they may wait: it stands.
		a.lifo = true
		a.win.expired = true
		return time.Time{}, false, a.reject(fmt.Sprintf("no slot within the wait allowed (%v)", wait)) // unlocks
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
	noQueue := max(a.base, a.fastest)
	return max(noQueue/4-max(a.rtt-noQueue, 0), 0)
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
	if a.lifo {
		// A standing queue: the oldest waiter of p is the one least
		// likely to be served in time; the newer caller takes its place.
		if e := a.queues[p-Lowest].Front(); e != nil {
			w := e.Value.(*waiter)
			a.queues[p-Lowest].Remove(e)
			a.queued--
			a.win.expired = true
			w.state = superseded
			close(w.ready)
			return true
		}
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
			e := a.queues[q-Lowest].Front()
			if a.lifo {
				e = a.queues[q-Lowest].Back()
			}
			if e != nil {
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
