package queue

import "context"

// This file is how an item goes in: Put and TryPut, handing the item to a
// blocked getter, storing it, or applying the overflow policy. A Put that
// must wait for room continues in wait.go (putWait).

// Put adds v to the queue, waiting while it is full (under the default
// [Block] policy). Blocked putters are served in FIFO order.
//
// If ctx ends while Put waits, Put returns context.Cause(ctx) and v was not
// enqueued. A putter whose ctx has ended is skipped when its turn comes,
// even if it has not woken up yet: room made after ctx ended goes to the
// next putter, never to this one. Only a ctx that ends at the very instant
// a getter moves v in may lose that race; Put then returns nil, and v is
// in the queue. If the queue is closed, before or during the wait, Put
// returns [ErrClosed] and v was not enqueued. Under [DropOldest] and
// [DropNewest] Put never waits; see [WithOnDrop] for the one error it can
// then return.
//
// When there is room, Put succeeds at once without looking at ctx: ctx
// bounds only the wait, as with a channel send in a select that is ready.
// (x/sync's semaphore.Weighted.Acquire does the opposite: it fails with a
// done ctx even when it could acquire at once.) Check ctx.Err() before Put
// if an ended ctx must stop even a Put that need not wait. Put panics if
// ctx is nil.
func (q *Queue[T]) Put(ctx context.Context, v T) error {
	if ctx == nil {
		panic("queue: nil ctx passed to Put")
	}
	return q.put(ctx, v, true)
}

// TryPut adds v to the queue if it can do so without waiting. It returns
// [ErrFull] if the queue is full under the [Block] policy and [ErrClosed]
// if it is closed; in both cases v was not enqueued.
func (q *Queue[T]) TryPut(v T) error {
	return q.put(context.Background(), v, false) // ctx unused: never waits
}

// put is Put (block) and TryPut (!block).
func (q *Queue[T]) put(ctx context.Context, v T, block bool) error {
	q.lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if q.n == 0 { // getters wait only on an empty queue
		if w := q.nextLocked(&q.getters); w != nil {
			// Hand v over directly.
			w.v = v
			q.unfinished++
			parked := w.serve(stateServed)
			q.mu.Unlock()
			if parked {
				w.ready <- struct{}{}
			}
			return nil
		}
	}
	if q.n < q.capacity {
		q.unfinished++
		q.pushLocked(v)
		q.mu.Unlock()
		return nil
	}
	switch q.overflow {
	case DropNewest:
		q.dropped++
		q.mu.Unlock()
		return q.drop(v)
	case DropOldest:
		old := q.popOldestLocked()
		q.pushLocked(v) // unfinished: one in, one out
		q.dropped++
		q.mu.Unlock()
		return q.drop(old)
	}
	if !block {
		q.mu.Unlock()
		return ErrFull
	}
	return q.putWait(ctx, v)
}

// takeLocked removes the next item and, if a putter waits, moves its item
