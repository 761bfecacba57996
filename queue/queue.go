package queue

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
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

// Overflow chooses what Put and TryPut do when the queue is full.
type Overflow uint8

const (
	// Block makes Put wait for room and TryPut return ErrFull. The default.
	Block Overflow = iota
	// DropOldest discards the item that was put earliest to make room for
	// the new one; Put and TryPut never wait and return nil.
	DropOldest
	// DropNewest discards the incoming item; Put and TryPut never wait and
	// return nil.
	DropNewest
)

// String returns the policy's name: "block", "drop-oldest" or
// "drop-newest".
func (o Overflow) String() string {
	switch o {
	case Block:
		return "block"
	case DropOldest:
		return "drop-oldest"
	case DropNewest:
		return "drop-newest"
	}
	return fmt.Sprintf("Overflow(%d)", uint8(o))
}

// Option configures a queue at construction. Options are checked by the
// constructor, which panics on a bad one.
type Option func(*config)

type config struct {
	overflow Overflow
	onDrop   any // func(T) for the queue's T; checked by the constructor
}

// WithOverflow sets the policy for a full queue (default [Block]). An
// unknown policy makes the constructor panic.
func WithOverflow(policy Overflow) Option {
	return func(o *config) {
		if policy > DropNewest {
			panic(fmt.Sprintf("queue: WithOverflow policy = %v; want Block, DropOldest or DropNewest", policy))
		}
		o.overflow = policy
	}
}

// WithOnDrop registers fn to be called with every item the overflow policy
// discards. It runs on the goroutine of the Put or TryPut that caused the
// drop, outside the queue's lock (it may call the queue), and has returned
// before that Put returns. fn must take the queue's element type: the
// constructor panics on a nil fn or a mismatch, so
// New[int](8, WithOnDrop(func(string) {})) fails at once.
//
// A panic in fn is recovered and returned by that Put or TryPut as a
// *[PanicError]. The queue is then as if fn had returned: the drop is done
// and counted, and under DropOldest the new item is in the queue. This is
// the one error from Put that does not mean "not enqueued". Why recover at
// all: the module turns every panic in user code into an error (see
// [PanicError]), and here the error can say exactly what state the queue
// is in, which a panic unwinding out of Put could not.
func WithOnDrop[T any](fn func(v T)) Option {
	return func(o *config) {
		if fn == nil {
			panic("queue: WithOnDrop fn is nil")
		}
		o.onDrop = fn
	}
}

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
	q.mu.Unlock()
	signal(wake)
}

// CloseNow closes the queue at once, like asyncio's shutdown(immediate=True):
// it removes and returns the items left, in the order Get would have
// returned them, and wakes every blocked getter and putter with
// [ErrClosed]. The items returned count as done for [Queue.Join]. It may be
// called after Close, to discard what the getters have not drained.
func (q *Queue[T]) CloseNow() []T {
	q.lock()
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

// doneLocked marks n unfinished items done and wakes Join at zero.
func (q *Queue[T]) doneLocked(n int) {
	q.unfinished -= n
	if q.unfinished == 0 && q.joined != nil {
		close(q.joined)
		q.joined = nil
	}
}

// drop reports v, discarded by the overflow policy, to the OnDrop hook.
// Called without the lock.
func (q *Queue[T]) drop(v T) (err error) {
	if q.onDrop == nil {
		return nil
	}
	returned := false
	defer func() {
		if !returned {
			err = safe.Recovered(recover())
		}
	}()
	q.onDrop(v)
	returned = true
	return nil
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

// lockYields is how many times lock yields the processor, trying again
// after each, before it blocks.
const lockYields = 4

// lock acquires q.mu. When the lock is taken, it yields the processor and
// tries again, a few times, and only then blocks in mu.Lock: the lock is
// held for a few dozen nanoseconds at a time, and the goroutine that
// holds it is running on another processor or is about to run here.
// sync.Mutex itself spins only while the processor's run queue is empty;
// with more goroutines than processors it soon parks the caller, which
// costs two goroutine switches and can push the mutex into starvation
// mode, where every unlock hands off to a parked goroutine that must first
// be scheduled. Spinning on TryLock without yielding measured worse: the
// spinner keeps pulling the lock's cache line from the holder.
func (q *Queue[T]) lock() {
	if q.mu.TryLock() {
		return
	}
	for range lockYields {
		runtime.Gosched()
		if q.mu.TryLock() {
			return
		}
	}
	q.mu.Lock()
}
