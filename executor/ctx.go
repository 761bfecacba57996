package executor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// goOwnerKey is the context key under which a Go task's ctx answers itself
// (and so its executor): a nested submit from a Go task is recognised
// through it, and Go and Submit retire the ctx they are handed (see
// [retain]).
type goOwnerKey struct{}

// goCtx is the ctx a Go task receives: its parent (the ctx given to Go),
// ended also by ShutdownNow. Each worker keeps one and reuses it from task
// to task, which is what makes Go allocation-free; so it is valid only while
// the task runs.
//
// With a parent that never ends, Done is the executor's ShutdownNow channel
// and nothing is made. With one that can end, the first call to Done makes a
// merged channel (closed when either ends) for this task alone.
//
// A goCtx that something may hold on to past its task (Done made a merged
// channel, AfterFunc registered a derived ctx, or the task handed it to Go
// or Submit, whose work may run after the task returns) is retired when the
// task ends rather than reused: it keeps its parent and stays live, so that
// work derived from it still reads a consistent Err, and nothing rewrites
// it under a reader. Only the cheap ones, that nobody could be watching,
// are reused.
//
// When its task ends, a retired goCtx's merged channel stops watching the
// parent and the executor: those registrations would otherwise pile up on
// a long-lived parent, one per task, until it ends. Work derived from the
// goCtx registers through AfterFunc on its own, so it still sees the parent
// end; only a receiver already blocked on the task's own Done channel (which
// the task must not keep) is not woken. Done and Err called later still
// close it once the ctx has ended.
type goCtx struct {
	ex        *Executor
	parent    context.Context
	escaped   atomic.Bool            // Done merged, AfterFunc was called, or handed to Go/Submit: retire, do not reuse
	unwatched atomic.Bool            // set under mu when the task of a retired goCtx returned: m no longer watches
	mu        sync.Mutex             // serialises making m and unwatching
	m         atomic.Pointer[merged] // nil until Done is called on a parent that can end
}

// merged is the Done channel of one task's goCtx over a parent that can end.
type merged struct {
	done         chan struct{}
	once         sync.Once
	stop1, stop2 func() bool
}

func (m *merged) fire() { m.once.Do(func() { close(m.done) }) }

// start readies c for a task whose ctx derives from parent.
func (c *goCtx) start(parent context.Context) { c.parent = parent }

// finish ends c's use by its task. A reused goCtx drops its parent; a
// retired one keeps it, and its merged channel stops watching.
func (c *goCtx) finish() {
	if !c.escaped.Load() {
		c.parent = endedCtx // a ctx kept past its task reads as cancelled until reused
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

// retain marks the Go task ctx that ctx is or derives from, if any, as
// escaped: ctx is being handed to work that may outlive the task.
func retain(ctx context.Context) {
	if c, _ := ctx.Value(goOwnerKey{}).(*goCtx); c != nil && !c.escaped.Load() {
		c.escaped.Store(true)
	}
}

// endedCtx is the parent of a reused goCtx between tasks: already cancelled.
var endedCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// Deadline returns the parent's deadline.
func (c *goCtx) Deadline() (time.Time, bool) { return c.parent.Deadline() }

// Done returns a channel closed when the parent ends or ShutdownNow is
// called.
func (c *goCtx) Done() <-chan struct{} {
	if c.parent.Done() == nil {
		return c.ex.nowCtx.Done()
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
	c.escaped.Store(true)
	m := &merged{done: make(chan struct{})}
	if c.parent.Err() != nil || c.ex.nowCtx.Err() != nil {
		m.fire()
	} else if !c.unwatched.Load() {
		m.stop1 = context.AfterFunc(c.parent, m.fire)
		m.stop2 = context.AfterFunc(c.ex.nowCtx, m.fire)
	}
	c.m.Store(m)
	return m.done
}

// Err returns nil while the ctx is live; then the parent's Err if it ended,
// and context.Canceled if ShutdownNow ended it.
func (c *goCtx) Err() error {
	err := c.parent.Err()
	if err == nil {
		err = c.ex.nowCtx.Err()
	}
	if err != nil {
		if m := c.m.Load(); m != nil {
			m.fire() // Done is closed whenever Err is not nil
		}
	}
	return err
}

// Value answers itself for goOwnerKey and asks the parent otherwise.
func (c *goCtx) Value(key any) any {
	if _, ok := key.(goOwnerKey); ok {
		return c
	}
	return c.parent.Value(key)
}

// AfterFunc arranges for f to run in its own goroutine once the ctx is done.
// The context package uses it for a ctx derived from this one, so deriving
// starts no watcher goroutine.
func (c *goCtx) AfterFunc(f func()) (stop func() bool) {
	c.escaped.Store(true)
	if c.parent.Done() == nil {
		return context.AfterFunc(c.ex.nowCtx, f)
	}
	var once sync.Once
	g := func() { once.Do(f) }
	s1 := context.AfterFunc(c.parent, g)
	s2 := context.AfterFunc(c.ex.nowCtx, g)
	return func() bool {
		a, b := s1(), s2()
		return a && b
	}
}

// String names the ctx for debugging, as the context package's types do.
func (c *goCtx) String() string { return "executor.goCtx" }
