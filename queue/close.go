package queue

import (
	"context"

	"github.com/async-patterns/async/observe"
)

// This file is how things end: closing the queue, gracefully or at once,
// and the task accounting (TaskDone, Join) that tells when every item put
// has been dealt with.

// Close stops the queue taking items, gracefully: Put and TryPut return
// [ErrClosed] from now on, and so do the Puts blocked in it (their items
// were not enqueued). Getters drain the items left, then get [ErrClosed];
// getters blocked on an empty queue wake with [ErrClosed] at once. Closing
// a closed queue does nothing.
func (q *Queue[T]) Close() {
	q.lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.closed = true
	wake := q.detachWaitersLocked()
	n := q.n
	q.mu.Unlock()
	signal(wake)
	q.emitClose(observe.OK, n)
}

// CloseNow closes the queue at once, like asyncio's shutdown(immediate=True):
// it removes and returns the items left, in the order Get would have
// returned them, and wakes every blocked getter and putter with
// [ErrClosed]. The items returned count as done for [Queue.Join]. It may be
// called after Close, to discard what the getters have not drained.
func (q *Queue[T]) CloseNow() []T {
	q.lock()
	was := q.closed
	q.closed = true
	var rest []T
	if q.n > 0 {
		rest = make([]T, 0, q.n)
		for q.n > 0 {
			rest = append(rest, q.popLocked())
		}
		q.doneLocked(len(rest))
	}
	wake := q.detachWaitersLocked()
	q.mu.Unlock()
	signal(wake)
	if !was || len(rest) > 0 {
		q.emitClose(observe.Cancelled, len(rest))
	}
	return rest
}

// TaskDone marks one item got from the queue as processed, like asyncio's
// task_done. When every item put has been marked done (or discarded),
// [Queue.Join] returns. A call beyond the number of items put returns
// [ErrTooManyTaskDone] and changes nothing.
func (q *Queue[T]) TaskDone() error {
	q.lock()
	if q.unfinished == 0 {
		q.mu.Unlock()
		return ErrTooManyTaskDone
	}
	q.doneLocked(1)
	q.mu.Unlock()
	return nil
}

// Join waits until every item put has been marked done with
// [Queue.TaskDone], dropped by the overflow policy, or discarded by
// [Queue.CloseNow]. It returns nil at once if none is unfinished. If ctx
// ends first, Join returns context.Cause(ctx) and changes nothing. Join
// panics if ctx is nil.
func (q *Queue[T]) Join(ctx context.Context) error {
	if ctx == nil {
		panic("queue: nil ctx passed to Join")
	}
	q.lock()
	if q.unfinished == 0 {
		q.mu.Unlock()
		return nil
	}
	if q.joined == nil {
		q.joined = make(chan struct{})
	}
	joined := q.joined
	q.mu.Unlock()
	select {
	case <-joined:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// doneLocked marks n unfinished items done and wakes Join at zero.
func (q *Queue[T]) doneLocked(n int) {
	q.unfinished -= n
	if q.unfinished == 0 && q.joined != nil {
		close(q.joined)
		q.joined = nil
	}
}
