package queue

import (
	"context"
	"fmt"
	"iter"
)

// This file is how items come out: Get, TryGet, GetBatch and All, and
// moving a blocked putter's item into the slot a Get frees. A Get that must
// wait for an item continues in wait.go (getWait).

// Get removes and returns the next item (the oldest for FIFO, the newest
// for LIFO, the smallest for a priority queue), waiting while the queue is
// empty. Blocked getters are served in FIFO order.
//
// After Close, Get drains what is left, then returns [ErrClosed]; after
// CloseNow it returns [ErrClosed] at once. If ctx ends while waiting, Get
// returns context.Cause(ctx) and has removed nothing. A getter whose ctx
// has ended is skipped when its turn comes, even if it has not woken up
// yet: the item goes to the next getter, or into the queue. Only a ctx that
// ends at the very instant a putter hands this Get its item may lose that
// race; Get then returns the item with a nil error: an item is never
// half-taken. When an item is ready, Get returns it without looking at
// ctx. Get panics if ctx is nil.
func (q *Queue[T]) Get(ctx context.Context) (T, error) {
	if ctx == nil {
		panic("queue: nil ctx passed to Get")
	}
	q.lock()
	if q.n > 0 {
		v, w := q.takeLocked()
		q.mu.Unlock()
		if w != nil {
			w.ready <- struct{}{}
		}
		return v, nil
	}
	return q.getWait(ctx)
}

// TryGet removes and returns the next item if there is one. It returns
// [ErrEmpty] if the queue is empty and open, and [ErrClosed] if it is empty
// and closed.
func (q *Queue[T]) TryGet() (T, error) {
	q.lock()
	if q.n > 0 {
		v, w := q.takeLocked()
		q.mu.Unlock()
		if w != nil {
			w.ready <- struct{}{}
		}
		return v, nil
	}
	closed := q.closed
	q.mu.Unlock()
	var zero T
	if closed {
		return zero, ErrClosed
	}
	return zero, ErrEmpty
}

// GetBatch waits, as [Queue.Get] does, for at least one item, then removes
// and returns up to max items in the order Get would return them, without
// waiting for more. It returns an error naming max if max < 1, and
// otherwise the errors of Get, with a nil slice; an error means nothing was
// removed. GetBatch panics if ctx is nil.
func (q *Queue[T]) GetBatch(ctx context.Context, max int) ([]T, error) {
	if ctx == nil {
		panic("queue: nil ctx passed to GetBatch")
	}
	if max < 1 {
		return nil, fmt.Errorf("queue: GetBatch max = %d; want >= 1", max)
	}
	var batch []T
	q.lock()
	if q.n == 0 {
		v, err := q.getWait(ctx)
		if err != nil {
			return nil, err
		}
		if max == 1 {
			return []T{v}, nil
		}
		q.lock()
		batch = make([]T, 1, min(max, q.n+1))
		batch[0] = v
	} else {
		batch = make([]T, 0, min(max, q.n))
	}
	var wake *waiter[T] // served putters, chained through next
	for len(batch) < max && q.n > 0 {
		v, w := q.takeLocked()
		batch = append(batch, v)
		if w != nil {
			w.next = wake
			wake = w
		}
	}
	q.mu.Unlock()
	signal(wake)
	return batch, nil
}

// All returns an iterator over the items got from the queue with
// [Queue.Get]. It ends when the queue is closed and drained or when ctx
// ends (check ctx.Err() to tell which). Breaking out of the loop removes
// nothing more. yield is called on the ranging goroutine only. All panics
// if ctx is nil.
func (q *Queue[T]) All(ctx context.Context) iter.Seq[T] {
	if ctx == nil {
		panic("queue: nil ctx passed to All")
	}
	return func(yield func(T) bool) {
		for {
			v, err := q.Get(ctx)
			if err != nil || !yield(v) {
				return
			}
		}
	}
}

// into the freed slot. It returns the served putter if it is parked; the
// caller must signal it after unlocking.
func (q *Queue[T]) takeLocked() (T, *waiter[T]) {
	if q.n < q.capacity { // putters wait only on a full queue
		return q.popLocked(), nil
	}
	v := q.popLocked()
	w := q.nextLocked(&q.putters)
	if w != nil {
		q.unfinished++
		q.pushLocked(w.v)
		if !w.serve(stateServed) {
			w = nil // not parked: it sees its state, no signal needed
		}
	}
	return v, w
}
