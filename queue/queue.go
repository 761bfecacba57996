package queue

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"

	"github.com/async-patterns/async/internal/safe"
)

// Errors returned by the queue. Compare with errors.Is.
var (
	// ErrClosed is returned by Put and TryPut after Close or CloseNow, by a
	// putter blocked when the queue was closed, and by Get, TryGet and
	// GetBatch once the queue is closed and has nothing left to drain.
	ErrClosed = errors.New("queue: closed")
	// ErrFull is returned by TryPut when the queue is full and the overflow
	// policy is Block.
	ErrFull = errors.New("queue: full")
	// ErrEmpty is returned by TryGet when the queue is empty but open.
	ErrEmpty = errors.New("queue: empty")
	// ErrTooManyTaskDone is returned by TaskDone when every item put has
	// already been marked done (asyncio raises ValueError here).
	ErrTooManyTaskDone = errors.New("queue: TaskDone called more times than items were put")
)

// PanicError reports a panic recovered from the [WithOnDrop] hook. It is the
// type every package of this module uses, so errors.As matches it whichever
// package's name the caller spells.
type PanicError = safe.PanicError

// Queue is a bounded, generic queue of items of type T with asyncio's
// semantics: FIFO ([New]), LIFO ([NewLIFO]) or by priority ([NewPriority]).
//
// The zero value is not usable; make a Queue with a constructor. A Queue
// must not be copied after first use. It is safe for concurrent use by any
// number of goroutines. It starts no goroutines, so nothing needs to be
// released; [Queue.Close] or [Queue.CloseNow] only wakes goroutines blocked
// in it.
//
// Blocked putters and getters are served in FIFO order, whatever the kind
// of the queue. Every item put is received exactly once, discarded by the
// overflow policy (and reported to [WithOnDrop]), or returned by
// [Queue.CloseNow].
//
// Cost: a Put or Get that need not wait is one lock and unlock, O(1), with
// no allocation and no look at ctx (BENCHMARKS.md compares it with a
// buffered channel). A contended lock is retried a few times, yielding the
// processor in between, before the caller blocks on it. A call that must
// wait looks at its state a few dozen times and yields the processor twice
// before it parks, since the call that serves it is often already running;
// it then waits on a pooled record, so waiting allocates nothing either,
// and is handed its item directly by the call that serves it. Serving a
// waiter looks at its ctx (one receive from its Done channel) so that a
// waiter whose ctx has ended is skipped. The priority queue adds O(log n)
// calls of less per item. The ring buffer of FIFO and LIFO queues grows on
// demand, so a large capacity costs nothing until it is used.
type Queue[T any] struct {
	// Immutable after construction.
	kind     kind
	capacity int
	overflow Overflow
	onDrop   func(T)
	less     func(a, b T) bool // NewPriority only
	ob       *observed         // name, observer, registry entry (observe.go)

	mu sync.Mutex // protects every field below

	n    int // items held
	ring []T // FIFO and LIFO: circular buffer, grows up to capacity
	head int // index of the oldest item in ring
	heap []entry[T]
	seq  uint64 // priority: insertion counter, keeps equal priorities FIFO

	getters    waitList[T] // blocked Gets, oldest first; non-empty only while n == 0
	putters    waitList[T] // blocked Puts, oldest first; non-empty only while n == capacity
	closed     bool
	unfinished int           // items put and not yet marked done or discarded
	joined     chan struct{} // closed when unfinished reaches 0; nil if no Join waits
	dropped    uint64

	pool sync.Pool // *waiter[T], reused across blocking calls
}

type kind uint8

const (
	kindFIFO kind = iota
	kindLIFO
	kindPriority
)

// New returns a FIFO queue that holds at most capacity items, like
// asyncio.Queue(maxsize=capacity). It panics if capacity < 1 or an option
// is invalid.
func New[T any](capacity int, opts ...Option) *Queue[T] {
	return newQueue[T](kindFIFO, "New", capacity, nil, opts)
}

// NewLIFO returns a LIFO queue (a stack: the item put last is got first)
// that holds at most capacity items, like asyncio.LifoQueue. It panics if
// capacity < 1 or an option is invalid.
func NewLIFO[T any](capacity int, opts ...Option) *Queue[T] {
	return newQueue[T](kindLIFO, "NewLIFO", capacity, nil, opts)
}

// NewPriority returns a priority queue that holds at most capacity items,
// like asyncio.PriorityQueue: Get returns the smallest item by less, and
// items of equal priority (neither less than the other) leave in the order
// they were put. It panics if capacity < 1, less is nil or an option is
// invalid.
//
// less is called with the queue's lock held, so it must not call the queue.
// It must not panic either: a panic reaches the caller of the method that
// called less with the lock released, but the order of the items left is
// then unspecified, and a panic while a Get moves a blocked putter's item
// in loses the item that Get took and leaves that putter (and the putters
// queued behind it) blocked until their ctx ends.
//
// With [DropOldest], the item discarded is the one put earliest, found by a
// scan of O(n).
func NewPriority[T any](capacity int, less func(a, b T) bool, opts ...Option) *Queue[T] {
	if less == nil {
		panic("queue: NewPriority less is nil")
	}
	return newQueue[T](kindPriority, "NewPriority", capacity, less, opts)
}

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

// Len returns the number of items in the queue.
func (q *Queue[T]) Len() int {
	q.lock()
	n := q.n
	q.mu.Unlock()
	return n
}

// Cap returns the queue's capacity, as given to the constructor.
func (q *Queue[T]) Cap() int { return q.capacity }

// Dropped returns how many items the overflow policy has discarded.
func (q *Queue[T]) Dropped() uint64 {
	q.lock()
	d := q.dropped
	q.mu.Unlock()
	return d
}

func newQueue[T any](k kind, name string, capacity int, less func(a, b T) bool, opts []Option) *Queue[T] {
	if capacity < 1 {
		panic(fmt.Sprintf("queue: %s capacity = %d; want >= 1", name, capacity))
	}
	var o config
	for i, opt := range opts {
		if opt == nil {
			panic(fmt.Sprintf("queue: nil Option passed to %s (opts[%d])", name, i))
		}
		opt(&o)
	}
	q := &Queue[T]{kind: k, capacity: capacity, overflow: o.overflow, less: less}
	if o.onDrop != nil {
		fn, ok := o.onDrop.(func(T))
		if !ok {
			panic(fmt.Sprintf("queue: WithOnDrop fn is %T; want %T for this queue", o.onDrop, fn))
		}
		q.onDrop = fn
	}
	q.pool.New = func() any { return &waiter[T]{ready: make(chan struct{}, 1)} }
	q.register(o)
	return q
}

// put is Put (block) and TryPut (!block).
func (q *Queue[T]) put(ctx context.Context, v T, block bool) error {
	q.lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	if w := q.nextLocked(&q.getters); w != nil {
		// A getter waits, so the queue is empty: hand v over directly.
		w.v = v
		q.unfinished++
		parked := w.serve(stateServed)
		q.mu.Unlock()
		if parked {
			w.ready <- struct{}{}
		}
		return nil
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
// into the freed slot. It returns the served putter if it is parked; the
// caller must signal it after unlocking.
func (q *Queue[T]) takeLocked() (T, *waiter[T]) {
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
