package task

import (
	"context"
	"sync"
	"time"
)

// closedChan is the Done channel of a Ctx cancelled before anyone asked for
// its channel: no channel is made for a task nobody watches.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// ownerKey is the one context key of the package's task ctxs ([Ctx] and
// [Reused]): each answers it with itself, so that code handed a ctx can
// walk up the task ctxs it derives from.
type ownerKey struct{}

// owned is a task ctx, as found through ownerKey.
type owned interface {
	owner() any          // the executor the task runs on, or nil
	up() context.Context // the ctx it derives from
	retain()             // it is being handed to work that may outlive its task
}

// lookup returns the nearest task ctx that ctx is or derives from, or nil.
func lookup(ctx context.Context) owned {
	o, _ := ctx.Value(ownerKey{}).(owned)
	return o
}

// OwnedBy reports whether ctx is, or derives from, the ctx of a task whose
// owner is owner. An executor uses it to recognise a call made from inside
// one of its own tasks, however many task ctxs (of a taskgroup, of another
// executor) lie between.
func OwnedBy(ctx context.Context, owner any) bool {
	for o := lookup(ctx); o != nil; o = lookup(o.up()) {
		if o.owner() == owner {
			return true
		}
	}
	return false
}

// Retain tells every [Reused] ctx that ctx is or derives from that it is
// being handed to work that may outlive its task (a queued submit), so
// that it is retired rather than reused when its task ends. It costs one
// Value lookup when there is none.
func Retain(ctx context.Context) {
	for o := lookup(ctx); o != nil; o = lookup(o.up()) {
		o.retain()
	}
}

// Ctx is the context a task's function receives. It lives inside the task's
// handle, so it costs no allocation of its own, and it makes its Done channel
// only when somebody asks for it: a task that never selects on ctx.Done()
// never pays for a channel or for registering with its parent.
//
// It is cancelled by its parent, by [Ctx.cancel] (the handle's Cancel), and
// when the task returns (like the cancel func a caller defers). A Ctx must
// not be copied after first use.
type Ctx struct {
	parent context.Context
	own    any // what OwnedBy compares; set before the task starts

	mu     sync.Mutex    // protects the fields below
	done   chan struct{} // nil until Done is first called or the ctx is cancelled
	err    error         // set once, when done is closed
	stop   func() bool   // unregisters from parent; set while done watches the parent
	afters *afterEntry   // callbacks registered through AfterFunc, newest first
}

// afterEntry is one AfterFunc callback, in a list rather than a slice so
// that a ctx that never has one (most) carries one word for it, not three.
type afterEntry struct {
	f    func()
	next *afterEntry
}

func (c *Ctx) init(parent context.Context, owner any) {
	c.parent = parent
	c.own = owner
}

// Deadline returns the parent's deadline.
func (c *Ctx) Deadline() (time.Time, bool) { return c.parent.Deadline() }

// Done returns a channel closed when the ctx is cancelled.
func (c *Ctx) Done() <-chan struct{} {
	c.mu.Lock()
	c.watchLocked()
	d := c.done
	c.mu.Unlock()
	return d
}

// watchLocked makes the done channel and ties it to the parent.
// The caller holds c.mu.
func (c *Ctx) watchLocked() {
	if c.done != nil {
		return
	}
	pd := c.parent.Done()
	if pd == nil {
		c.done = make(chan struct{})
		return
	}
	if err := c.parent.Err(); err != nil {
		c.err = err
		c.done = closedChan
		return
	}
	c.done = make(chan struct{})
	c.stop = context.AfterFunc(c.parent, c.parentDone)
}

func (c *Ctx) parentDone() { c.cancel(c.parent.Err()) }

// Err returns nil while the ctx is live, and the reason once it is done:
// the parent's Err when the parent ended, context.Canceled otherwise.
//
// Err is non-nil exactly when Done is closed, and once non-nil it stays the
// same. Until somebody asks for Done, Err reads the parent's Err; it does
// so under c.mu, so that a Done made concurrently (whose channel closes only
// when the parent's notification arrives) cannot see a live ctx after Err
// has reported it done.
func (c *Ctx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil { // watching, or cancelled: c.err is set as done closes
		return c.err
	}
	return c.parent.Err()
}

// Value answers itself for the owner key and asks the parent otherwise.
// context.Cause therefore finds the parent's cause when the parent ended, and
// falls back to Err (context.Canceled) when the task alone was cancelled.
func (c *Ctx) Value(key any) any {
	if _, ok := key.(ownerKey); ok {
		return c
	}
	return c.parent.Value(key)
}

func (c *Ctx) owner() any          { return c.own }
func (c *Ctx) up() context.Context { return c.parent }

// retain does nothing: a Ctx lives in its task's handle and is never
// reused, so it stays valid as long as anything holds it.
func (c *Ctx) retain() {}

// AfterFunc arranges for f to run in its own goroutine once the ctx is done.
// The context package uses it when a child is derived with WithCancel or
// WithTimeout, so deriving from a task ctx starts no watcher goroutine.
func (c *Ctx) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	c.watchLocked()
	if c.err != nil {
		c.mu.Unlock()
		go f()
		return func() bool { return false }
	}
	e := &afterEntry{f: f, next: c.afters}
	c.afters = e
	c.mu.Unlock()
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for p := &c.afters; *p != nil; p = &(*p).next {
			if *p == e {
				*p = e.next
				return true
			}
		}
		return false
	}
}

// cancel ends the ctx with err if it is still live. It closes the done
// channel, unregisters from the parent and starts the AfterFunc callbacks.
func (c *Ctx) cancel(err error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = err
	if c.done == nil {
		c.done = closedChan
	} else {
		close(c.done)
	}
	stop, afters := c.stop, c.afters
	c.stop, c.afters = nil, nil
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
	for e := afters; e != nil; e = e.next {
		go e.f()
	}
}

// String names the ctx for debugging, as the context package's types do.
func (c *Ctx) String() string { return "task.Ctx" }
