package queue

import (
	"errors"
	"fmt"
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
// no allocation and no look at ctx, and touches one cache line of the
// queue's own state (BENCHMARKS.md compares it with a buffered channel). A contended lock is retried a few times, yielding the
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
	// Immutable after construction, read by every call: on cache lines of
	// their own, which no call writes, so they stay shared between cores.
	kind     kind
	overflow Overflow
	capacity int
	onDrop   func(T)
	less     func(a, b T) bool // NewPriority only
	ob       *observed         // name, observer, registry entry (observe.go); read only off the hot path
	_        [24]byte          // the rest of the line (layout_test.go checks)

	// The fields a Put or Get that need not wait touches, and nothing else,
	// in one 64-byte cache line (the struct's size, a multiple of 64, makes
	// the allocator align it to 64), so that a call moves one line of the
	// queue's state between cores rather than three.
	mu         sync.Mutex // protects every field below
	n          int        // items held
	head       int        // index of the oldest item in ring
	ring       []T        // FIFO and LIFO: circular buffer, grows up to capacity
	unfinished int        // items put and not yet marked done or discarded
	closed     bool
	_          [7]byte // the rest of the line

	getters waitList[T] // blocked Gets, oldest first; non-empty only while n == 0
	putters waitList[T] // blocked Puts, oldest first; non-empty only while n == capacity
	heap    []entry[T]
	seq     uint64        // priority: insertion counter, keeps equal priorities FIFO
	joined  chan struct{} // closed when unfinished reaches 0; nil if no Join waits
	dropped uint64

	pool sync.Pool // *waiter[T], reused across blocking calls
	_    [8]byte   // to 256 bytes, a size class the allocator aligns to 64
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
