package queue

import (
	"context"
	"runtime"
	"sync/atomic"
)

// This file is how a call waits: the record of a blocked Put or Get, the
// FIFO lists they wait in, how a waiter is served, skipped or closed, and
// the spin-then-yield tuning of waiting for a turn (lock.go has the same
// for the lock).

// waiter is one blocked Put or Get. It is reused through Queue.pool.
type waiter[T any] struct {
	next, prev *waiter[T]      // list links, under Queue.mu
	v          T               // the item: to put (putter) or handed over (getter)
	done       <-chan struct{} // the caller's ctx.Done(); nil if its ctx never ends
	state      atomic.Uint32   // see the constants below
	ready      chan struct{}   // 1-buffered; one send if served while parked
}

// The states of a waiter. It starts waiting; its owner may move it to
// parked just before blocking on ready. Whoever serves or closes it (under
// Queue.mu) moves it to served or closed and signals ready only if it was
// parked; a waiter not yet parked sees the new state by itself. Once the
// state has left waiting or parked, the server does not touch the waiter
// again (other than to signal it), since its owner may reuse it at once.
//
// A waiter whose ctx has ended is never served: whoever comes to serve or
// close it moves it to cancelled instead, and sends no signal, since its
// owner wakes on its closed done channel by itself (see Queue.await).
const (
	stateWaiting = iota
	stateParked
	stateServed    // the item was moved: put into the queue, or handed to the getter
	stateClosed    // woken by Close or CloseNow; nothing moved
	stateCancelled // its ctx had ended when its turn came; nothing moved
)

// serve sets w's final state and reports whether its owner is parked and
// must be signalled. Called under Queue.mu, after the last write to w.
func (w *waiter[T]) serve(state uint32) (parked bool) {
	return w.state.Swap(state) == stateParked
}

// skip moves w to cancelled if its ctx has ended, and reports whether it
// did; the caller has taken w off its list. An ended ctx always wins over
// a server that comes later: only a ctx that ends after this check, at the
// very instant w is served, loses. A receive from a closed channel is a
// load; skip allocates nothing.
func (w *waiter[T]) skip() bool {
	if w.done == nil {
		return false
	}
	select {
	case <-w.done:
		w.state.Store(stateCancelled)
		return true
	default:
		return false
	}
}

// waitList is a FIFO list of waiters, linked through their next and prev.
type waitList[T any] struct {
	head, tail *waiter[T]
}

func (l *waitList[T]) pushBack(w *waiter[T]) {
	w.next = nil
	w.prev = l.tail
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
}

func (l *waitList[T]) remove(w *waiter[T]) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.next, w.prev = nil, nil
}

// putWait blocks a Put on a full queue. Called with q.mu held; returns
// with it released.
func (q *Queue[T]) putWait(ctx context.Context, v T) error {
	done := ctx.Done()
	if done != nil {
		select {
		case <-done:
			q.mu.Unlock()
			return context.Cause(ctx)
		default:
		}
	}
	w := q.pool.Get().(*waiter[T])
	w.v = v
	w.done = done
	q.putters.pushBack(w)
	q.mu.Unlock()
	if q.await(w, &q.putters, done) {
		q.release(w)
		return context.Cause(ctx)
	}
	var err error
	if w.state.Load() == stateClosed {
		err = ErrClosed
	}
	q.release(w)
	return err
}

// getWait blocks a Get on an empty queue. Called with q.mu held; returns
// with it released.
func (q *Queue[T]) getWait(ctx context.Context) (T, error) {
	var zero T
	if q.closed {
		q.mu.Unlock()
		return zero, ErrClosed
	}
	done := ctx.Done()
	if done != nil {
		select {
		case <-done:
			q.mu.Unlock()
			return zero, context.Cause(ctx)
		default:
		}
	}
	w := q.pool.Get().(*waiter[T])
	w.done = done
	q.getters.pushBack(w)
	q.mu.Unlock()
	if q.await(w, &q.getters, done) {
		q.release(w)
		return zero, context.Cause(ctx)
	}
	if w.state.Load() == stateClosed {
		q.release(w)
		return zero, ErrClosed
	}
	v := w.v
	q.release(w)
	return v, nil
}

// How long await tries before it parks: spins looks at the waiter's state,
// then yields the processor yields times, looking again after each.
const (
	spins  = 32
	yields = 2
)

// await blocks the caller of w, which has just joined list l and released
// the lock, until w is served or closed, or done is closed. It reports
// whether ctx ended with w still waiting, in which case w has been taken
// off l and nothing moved.
//
// It first looks at w's state a few dozen times, then yields the processor
// twice: a caller on another P often serves w within that time, which costs
// far less than parking and being woken. (Yielding alone, without the
// first look, made 4 producers and 4 consumers at capacity 128 about twice
// as slow: a Gosched that could have been a few loads, often.) Only a parked waiter is sent a signal on ready (see waiter.serve).
func (q *Queue[T]) await(w *waiter[T], l *waitList[T], done <-chan struct{}) (cancelled bool) {
	for range spins {
		if st := w.state.Load(); st != stateWaiting {
			return st == stateCancelled
		}
	}
	for range yields {
		runtime.Gosched()
		if st := w.state.Load(); st != stateWaiting {
			return st == stateCancelled
		}
	}
	if !w.state.CompareAndSwap(stateWaiting, stateParked) {
		// Served, closed or skipped as we were about to park: no signal comes.
		return w.state.Load() == stateCancelled
	}
	if done == nil {
		<-w.ready
		return false
	}
	select {
	case <-w.ready:
		return false
	case <-done:
	}
	q.lock()
	switch w.state.Load() {
	case stateParked:
		l.remove(w)
		q.mu.Unlock()
		return true
	case stateCancelled:
		// A server found ctx ended and skipped us; it sent no signal.
		q.mu.Unlock()
		return true
	}
	// Served (a Put handed us its item, or a Get moved ours in) or closed:
	// ctx ended only after the server looked at it. The outcome stands, so
	// that nothing is lost, and its signal is on the way.
	q.mu.Unlock()
	<-w.ready
	return false
}

// nextLocked takes the first waiter off l whose ctx has not ended, and
// returns it, or nil. The waiters before it, whose ctx has ended, are taken
// off too and marked cancelled: they were cancelled before their turn came,
// so the turn passes to the next one (see waiter.skip).
func (q *Queue[T]) nextLocked(l *waitList[T]) *waiter[T] {
	for {
		w := l.head
		if w == nil {
			return nil
		}
		l.remove(w)
		if !w.skip() {
			return w
		}
	}
}

// detachWaitersLocked marks every blocked getter and putter closed and
// returns the parked ones chained through next, to be signalled after
// unlocking.
func (q *Queue[T]) detachWaitersLocked() *waiter[T] {
	var wake *waiter[T]
	for _, l := range [...]*waitList[T]{&q.getters, &q.putters} {
		for w := l.head; w != nil; {
			next := w.next
			w.next, w.prev = nil, nil
			if !w.skip() && w.serve(stateClosed) {
				w.next = wake
				wake = w
			}
			w = next
		}
		*l = waitList[T]{}
	}
	return wake
}

// release clears w and returns it to the pool. w must be off every list
// and its signal, if any was sent, consumed.
func (q *Queue[T]) release(w *waiter[T]) {
	var zero T
	w.v = zero
	w.done = nil
	w.state.Store(stateWaiting)
	w.next, w.prev = nil, nil
	q.pool.Put(w)
}

// signal wakes each parked waiter of a chain built under the lock. next is
// read before the signal, since a woken waiter may be reused at once.
func signal[T any](w *waiter[T]) {
	for w != nil {
		next := w.next
		w.ready <- struct{}{}
		w = next
	}
}
