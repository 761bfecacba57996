package executor

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// goOwnerKey is the context key under which a Go task's ctx answers its
// executor, so that a nested submit from a Go task is recognised too.
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
// channel, or AfterFunc registered a derived ctx) is retired when the task
// ends rather than reused: it keeps its parent, so that nothing rewrites it
// under a reader that outlives the task. Only the cheap ones, that nobody
// could be watching, are reused. A retired goCtx ends with its task (Done
// closes, Err is context.Canceled) and drops the merged channel's
// registrations, which would otherwise pile up on a long-lived parent.
type goCtx struct {
	ex      *Executor
	parent  context.Context
	escaped atomic.Bool            // Done merged or AfterFunc was called: retire, do not reuse
	ended   atomic.Bool            // set under mu when the task of a retired goCtx returned
	mu      sync.Mutex             // serialises making m, and ending
	m       atomic.Pointer[merged] // nil until Done is called on a parent that can end
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
// retired one ends, and its merged channel stops watching the parent and
// the executor: those registrations would otherwise live until the parent
// ends or ShutdownNow, one per task.
func (c *goCtx) finish() {
	if !c.escaped.Load() {
		c.parent = endedCtx // a ctx kept past its task reads as cancelled until reused
		return
	}
	c.mu.Lock()
	c.ended.Store(true)
	m := c.m.Load()
	c.mu.Unlock()
	if m != nil {
		m.fire()
		if m.stop1 != nil {
			m.stop1()
			m.stop2()
		}
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
		return m.done
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.m.Load(); m != nil {
		return m.done
	}
	c.escaped.Store(true)
	m := &merged{done: make(chan struct{})}
	if c.ended.Load() || c.parent.Err() != nil || c.ex.nowCtx.Err() != nil {
		m.fire()
	} else {
		m.stop1 = context.AfterFunc(c.parent, m.fire)
		m.stop2 = context.AfterFunc(c.ex.nowCtx, m.fire)
	}
	c.m.Store(m)
	return m.done
}

// Err returns nil while the ctx is live; then the parent's Err if it ended,
// and context.Canceled if ShutdownNow or the end of the task ended it.
func (c *goCtx) Err() error {
	err := c.parent.Err()
	if err == nil {
		err = c.ex.nowCtx.Err()
	}
	if err == nil && c.ended.Load() {
		err = context.Canceled
	}
	if err != nil {
		if m := c.m.Load(); m != nil {
			m.fire() // Done is closed whenever Err is not nil
		}
	}
	return err
}

// Value answers the executor for goOwnerKey and asks the parent otherwise.
func (c *goCtx) Value(key any) any {
	if _, ok := key.(goOwnerKey); ok {
		return c.ex
	}
	return c.parent.Value(key)
}

// AfterFunc arranges for f to run in its own goroutine once the ctx is done.
// The context package uses it for a ctx derived from this one, so deriving
// starts no watcher goroutine.
func (c *goCtx) AfterFunc(f func()) (stop func() bool) {
	c.escaped.Store(true)
	if c.ended.Load() {
		go f()
		return func() bool { return false }
	}
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
