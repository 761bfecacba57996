package task

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// Reused is the ctx of a fire-and-forget task (executor.Go): its parent
// (the ctx given to Go), ended also by a second ctx, stop, that ends every
// task of its owner at once (ShutdownNow).
//
// Why reuse: a worker keeps one Reused and hands it to task after task,
// which is what lets a fire-and-forget task cost no allocation. The price
// is its lifetime: a Reused is valid only while its task runs. After
// [Reused.Finish] it reads as cancelled (unless fixed, below), and the
// next [Reused.Start] rewrites it for another task, so a task that keeps
// its ctx past its return (in a goroutine it started, say) races with that
// rewrite.
//
// Reuse stops where something may hold on to it past its task: Done made a
// merged channel, AfterFunc registered a derived ctx, or [Retain] was
// called because it is being handed to queued work. Such a Reused is
// retired instead ([Reused.Reusable] reports false; the worker makes a
// fresh one): it keeps its parent and stays valid, so work derived from it
// reads a consistent Err, and nothing rewrites it under a reader.
//
// With a parent that never ends, Done is stop's channel and nothing is
// made. But the Reused is held past its task here too, by the context
// package itself: a ctx derived from a wrapper of it, as in
// context.WithCancel(context.WithValue(ctx, k, v)), cannot register with a
// parent the context package does not know, so it starts a goroutine that
// calls Done when it gets to run (perhaps after the task returned), and Err
// and Value (through Cause) once that channel closes. Retiring would cost
// an allocation for every task that merely selects on Done, so Done
// freezes the Reused instead ("fixed"): Start and Finish stop writing its
// parent, and it is reused only for tasks whose parent is that same,
// never-ending ctx ([Reused.Reusable] compares them; the common case is
// context.Background() for every task). A late reader of a fixed Reused
// thus reads fields nothing writes any more, and sees what it would have
// seen during its task: Done is stop's channel, Err is nil until stop
// ends, Value is the parent's. A later task's parent never reaches it, so
// the end of that parent cannot end a ctx an earlier task derived. A fixed
// Reused does not read as cancelled between tasks: it reads as its parent
// does, live until stop ends, which is what its tasks saw. (The
// alternatives: a lock around the parent would make a late read race-free
// but let it see a later task's parent, the very ctx whose end must not
// reach it; an atomic pointer to the parent would box it, one allocation
// per task.) A parent whose value == cannot compare is not fixed but
// retired.
//
// With a parent that can end, the first call to Done makes a merged
// channel (closed when either ends) for this task alone. When the task of a
// retired Reused ends, its merged channel stops watching the parent and
// stop: those registrations would otherwise pile up on a long-lived parent,
// one per task. Work derived from it registers through AfterFunc on its
// own, so it still sees the parent end; only a receiver already blocked on
// the task's own Done channel (which the task must not keep) is not woken.
// The context package's goroutine for a ctx derived from a wrapper of it
// is such a receiver: that derived ctx does not see the parent or stop end
// after the task returned, and ends when it is cancelled itself. Done and
// Err called later still close it once the ctx has ended.
type Reused struct {
	own       any
	stop      context.Context
	parent    context.Context        // written by Start and Finish, and only while fixed is false
	retained  atomic.Bool            // Done merged, AfterFunc was called, or Retain: retire, do not reuse
	fixed     atomic.Bool            // Done was asked over a parent that never ends: parent is frozen
	unwatched atomic.Bool            // set under mu when the task of a retained ctx returned: m no longer watches
	mu        sync.Mutex             // serialises making m and unwatching
	m         atomic.Pointer[merged] // nil until Done is called on a parent that can end
}

// merged is the Done channel of one task's Reused over a parent that can end.
type merged struct {
	done         chan struct{}
	once         sync.Once
	stop1, stop2 func() bool
}

func (m *merged) fire() { m.once.Do(func() { close(m.done) }) }

// NewReused returns a Reused for the tasks of owner (what [OwnedBy]
// compares), ended also by stop.
func NewReused(owner any, stop context.Context) *Reused {
	return &Reused{own: owner, stop: stop, parent: endedCtx}
}

// Start readies c for a task whose ctx derives from parent. A c that has
// run a task before must be [Reused.Reusable] for parent.
func (c *Reused) Start(parent context.Context) {
	if !c.fixed.Load() {
		c.parent = parent
	} // else parent == c.parent (Reusable), and c.parent may be read by a late reader
}

// Finish ends c's use by its task. A reusable c drops its parent and reads
// as cancelled until the next Start, unless it is fixed (see [Reused]); a
// retained one keeps its parent, and its merged channel stops watching.
func (c *Reused) Finish() {
	if !c.retained.Load() {
		if !c.fixed.Load() {
			c.parent = endedCtx
		}
		return
	}
	c.mu.Lock()
	c.unwatched.Store(true)
	m := c.m.Load()
	c.mu.Unlock()
	if m != nil && m.stop1 != nil {
		m.stop1()
		m.stop2()
	}
}

// Retained reports whether something may hold on to c past its task, so
// that it must not be reused.
func (c *Reused) Retained() bool { return c.retained.Load() }

// Reusable reports whether c may run a task whose ctx derives from parent:
// it is not retired, and, if it is fixed, parent is the very ctx it is
// fixed to. It costs two atomic loads, and an interface comparison for a
// fixed c.
func (c *Reused) Reusable(parent context.Context) bool {
	if c.retained.Load() {
		return false
	}
	return !c.fixed.Load() || parent == c.parent // c.parent is comparable: see fix
}

// fix freezes c's parent, one that never ends, once Done has been asked: a
// goroutine of the context package may read c after its task (see
// [Reused]). A parent whose value cannot be compared (a struct holding a
// slice, say) cannot be recognised in the next task: c is retired instead.
func (c *Reused) fix() {
	if c.fixed.Load() || c.retained.Load() {
		return
	}
	if reflect.ValueOf(c.parent).Comparable() {
		c.fixed.Store(true)
	} else {
		c.retained.Store(true)
	}
}

func (c *Reused) owner() any          { return c.own }
func (c *Reused) up() context.Context { return c.parent }

func (c *Reused) retain() {
	if !c.retained.Load() {
		c.retained.Store(true)
	}
}

// endedCtx is the parent of a Reused between tasks: already cancelled.
var endedCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// Deadline returns the parent's deadline.
func (c *Reused) Deadline() (time.Time, bool) { return c.parent.Deadline() }

// Done returns a channel closed when the parent or stop ends.
func (c *Reused) Done() <-chan struct{} {
	if c.parent.Done() == nil {
		c.fix()
		return c.stop.Done()
	}
	if m := c.m.Load(); m != nil {
		if c.unwatched.Load() {
			c.Err() // closes m.done if the ctx has ended meanwhile
		}
		return m.done
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.m.Load(); m != nil {
		return m.done
	}
	c.retained.Store(true)
	m := &merged{done: make(chan struct{})}
	if c.parent.Err() != nil || c.stop.Err() != nil {
		m.fire()
	} else if !c.unwatched.Load() {
		m.stop1 = context.AfterFunc(c.parent, m.fire)
		m.stop2 = context.AfterFunc(c.stop, m.fire)
	}
	c.m.Store(m)
	return m.done
}

// Err returns nil while the ctx is live; then the parent's Err if it ended,
// and stop's if stop ended it.
func (c *Reused) Err() error {
	err := c.parent.Err()
	if err == nil {
		err = c.stop.Err()
	}
	if err != nil {
		if m := c.m.Load(); m != nil {
			m.fire() // Done is closed whenever Err is not nil
		}
	}
	return err
}

// Value answers itself for the owner key and asks the parent otherwise.
func (c *Reused) Value(key any) any {
	if _, ok := key.(ownerKey); ok {
		return c
	}
	return c.parent.Value(key)
}

// AfterFunc arranges for f to run in its own goroutine once the ctx is done.
// The context package uses it for a ctx derived from this one, so deriving
// starts no watcher goroutine.
func (c *Reused) AfterFunc(f func()) (stop func() bool) {
	c.retained.Store(true)
	if c.parent.Done() == nil {
		return context.AfterFunc(c.stop, f)
	}
	var once sync.Once
	g := func() { once.Do(f) }
	s1 := context.AfterFunc(c.parent, g)
	s2 := context.AfterFunc(c.stop, g)
	return func() bool {
		a, b := s1(), s2()
		return a && b
	}
}

// String names the ctx for debugging, as the context package's types do.
func (c *Reused) String() string { return "task.Reused" }
