package queue

// This file holds the queue's storage: the ring buffer (FIFO and LIFO) and
// the stable binary heap (priority). Everything here runs with Queue.mu
// held.

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
