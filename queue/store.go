package queue

import "sync/atomic"

// This file holds the queue's storage: the ring buffer (FIFO and LIFO), the
// stable binary heap (priority) and the intrusive lists of blocked callers.
// Everything here runs with Queue.mu held.

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

// entry is a priority queue item with its insertion number, which breaks
// ties so that equal priorities leave in FIFO order.
type entry[T any] struct {
	v   T
	seq uint64
}

// pushLocked stores v; the caller has checked there is room.
func (q *Queue[T]) pushLocked(v T) {
	if q.kind == kindPriority {
		q.n++ // first, so that a panic in less leaves n matching the heap
		q.heapPush(v)
		return
	}
	if q.n == len(q.ring) {
		q.growRing()
	}
	i := q.head + q.n
	if i >= len(q.ring) {
		i -= len(q.ring)
	}
	q.ring[i] = v
	q.n++
}

// popLocked removes the item Get returns next; the queue is not empty.
func (q *Queue[T]) popLocked() T {
	var zero T
	switch q.kind {
	case kindFIFO:
		v := q.ring[q.head]
		q.ring[q.head] = zero
		q.head++
		if q.head == len(q.ring) {
			q.head = 0
		}
		q.n--
		return v
	case kindLIFO:
		i := q.head + q.n - 1
		if i >= len(q.ring) {
			i -= len(q.ring)
		}
		v := q.ring[i]
		q.ring[i] = zero
		q.n--
		return v
	}
	v := q.heapRemove(0)
	q.n--
	return v
}

// popOldestLocked removes the item put earliest; the queue is not empty.
func (q *Queue[T]) popOldestLocked() T {
	if q.kind != kindPriority {
		var zero T
		v := q.ring[q.head]
		q.ring[q.head] = zero
		q.head++
		if q.head == len(q.ring) {
			q.head = 0
		}
		q.n--
		return v
	}
	oldest := 0
	for i := range q.heap {
		if q.heap[i].seq < q.heap[oldest].seq {
			oldest = i
		}
	}
	v := q.heapRemove(oldest)
	q.n--
	return v
}

// growRing doubles the ring, up to the capacity, keeping the items in order.
func (q *Queue[T]) growRing() {
	size := min(max(2*len(q.ring), 16), q.capacity)
	ring := make([]T, size)
	k := copy(ring, q.ring[q.head:])
	copy(ring[k:], q.ring[:q.head])
	q.ring = ring
	q.head = 0
}

// heapLess orders entries by less, then by insertion.
func (q *Queue[T]) heapLess(i, j int) bool {
	a, b := &q.heap[i], &q.heap[j]
	if q.less(a.v, b.v) {
		return true
	}
	return !q.less(b.v, a.v) && a.seq < b.seq
}

// heapPush adds v. If less panics, the lock is released and v stays in the
// heap, whose order is then unspecified.
func (q *Queue[T]) heapPush(v T) {
	q.heap = append(q.heap, entry[T]{v: v, seq: q.seq})
	q.seq++
	ok := false
	defer q.unlockUnless(&ok)
	q.heapUp(len(q.heap) - 1)
	ok = true
}

// heapRemove removes and returns the entry at i. The entry stays in the
// slice until the heap is restored, so a panic in less loses nothing.
func (q *Queue[T]) heapRemove(i int) T {
	h := q.heap
	ok := false
	defer func() {
		if !ok {
			q.heap = h // the whole heap, removed entry included
			q.mu.Unlock()
		}
	}()
	last := len(h) - 1
	if i != last {
		h[i], h[last] = h[last], h[i]
		q.heap = h[:last]
		q.heapUp(q.heapDownToLeaf(i))
		q.heap = h
	}
	v := h[last].v
	h[last] = entry[T]{}
	q.heap = h[:last]
	ok = true
	return v
}

func (q *Queue[T]) heapUp(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !q.heapLess(j, i) {
			break
		}
		q.heap[i], q.heap[j] = q.heap[j], q.heap[i]
		j = i
	}
}

// heapDownToLeaf moves the entry at i down to a leaf, along the path of
// smaller children, and returns where it ended; heapUp then moves it back
// up to its place. Since the entry came from the bottom of the heap, that
// place is usually near a leaf, so this takes about half the comparisons
// of a plain sift down (Floyd's method). Entries are swapped, never
// overwritten, so a panic in less loses none.
func (q *Queue[T]) heapDownToLeaf(i int) int {
	n := len(q.heap)
	for {
		j := 2*i + 1
		if j >= n {
			return i
		}
		if r := j + 1; r < n && q.heapLess(r, j) {
			j = r
		}
		q.heap[i], q.heap[j] = q.heap[j], q.heap[i]
		i = j
	}
}

// unlockUnless releases the lock while a panic in less unwinds, so the
// queue is not left locked forever.
func (q *Queue[T]) unlockUnless(ok *bool) {
	if !*ok {
		q.mu.Unlock()
	}
}
