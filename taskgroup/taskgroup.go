package taskgroup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/internal/task"
	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/observe"
)

// PanicError is the error a task's panic (or runtime.Goexit) becomes: Value
// is what was passed to panic, Stack the goroutine's stack. It is the same
// type in every package of this module, so errors.As with any package's
// *PanicError matches it.
type PanicError = safe.PanicError

// Group runs tasks on goroutines of their own and waits for them, cancelling
// the rest when one fails.
//
// The zero Group is valid: it has no limit and its ctx derives from
// context.Background(). A Group must not be copied after first use. It is
// safe for concurrent use: tasks may start more tasks on their own group
// while [Group.Wait] is running. Calls to Go from outside the group's tasks
// must happen before Wait is called.
//
// The caller must call Wait, which releases the group's ctx; after Wait has
// returned, the group is finished and Go, TryGo and Spawn panic.
//
// Cost: a task started with Go costs one goroutine and one allocation (the
// goroutine's closure), like a plain go statement with a sync.WaitGroup.
type Group struct {
	initOnce sync.Once
	ctx      context.Context
	cancel   context.CancelCauseFunc
	sem      chan struct{} // one token per running task; nil means no limit
	limiter  limit.Limiter // admits each task as it starts; nil means none (limiter.go)

	wg        sync.WaitGroup
	active    atomic.Int64 // tasks running, for the registry's gauges (observe.go); beside wg, whose line every start and end writes anyway
	cancelled atomic.Bool  // Cancel was called
	waited    atomic.Bool  // Wait has been called
	finished  atomic.Bool  // Wait has returned

	mu   sync.Mutex // protects errs
	errs []error    // failures in the order they happened

	reg   *observe.Entry   // the group in the registry of live objects (observe.go)
	quiet bool             // its tasks are not watched (a gather call's group)
	obs   observe.Observer // WithObserver's, or nil for the default
	name  string           // WithName's
}

// Option configures a Group built by [New].
type Option func(*config)

type config struct {
	limit   int
	limiter limit.Limiter    // limiter.go
	name    string           // observe.go
	obs     observe.Observer // observe.go
	kind    string           // observe.go: the kind registered, "taskgroup" if ""
	quiet   bool             // observe.go: tasks are not watched
}

// WithLimit bounds the number of tasks running at once to n. Without it a
// group has no limit. n must be at least 1: New panics otherwise.
func WithLimit(n int) Option {
	return func(c *config) {
		if n < 1 {
			panic(fmt.Sprintf("taskgroup: WithLimit(%d): limit must be at least 1 (omit the option for no limit)", n))
		}
		c.limit = n
	}
}

// New returns a Group whose tasks receive a ctx derived from ctx. When ctx
// ends, the tasks see their ctx end too, and Wait returns ctx's cause unless
// a task failed.
//
// New panics if ctx is nil or an option is invalid.
func New(ctx context.Context, opts ...Option) *Group {
	if ctx == nil {
		panic("taskgroup: nil ctx passed to New")
	}
	var c config
	for i, o := range opts {
		if o == nil {
			panic(fmt.Sprintf("taskgroup: nil Option passed to New (opts[%d])", i))
		}
		o(&c)
	}
	g := &Group{}
	g.initOnce.Do(func() { g.init(ctx, c) })
	return g
}

func (g *Group) init(ctx context.Context, c config) {
	g.ctx, g.cancel = context.WithCancelCause(g.register(ctx, c))
	g.limiter = c.limiter
	if c.limit > 0 {
		g.sem = make(chan struct{}, c.limit)
	}
}

// lazyInit sets up a zero Group on first use.
func (g *Group) lazyInit() {
	g.initOnce.Do(func() { g.init(context.Background(), config{}) })
}

// Go runs fn on a new goroutine with the group's ctx.
//
// At the limit, Go blocks until a running task returns or the group's ctx
// ends. Once the group's ctx has ended (a failure, Cancel, or the parent),
// Go starts nothing and returns at once; fn is then never called. Go panics
// if fn is nil or if Wait has already returned.
//
// A task that calls Go on its own group at the limit holds its slot while it
// waits for another: if every running task does so, none returns and they
// wait until the group's ctx ends. Use TryGo from inside tasks of a limited
// group when that can happen.
func (g *Group) Go(fn func(ctx context.Context) error) {
	g.check(fn == nil, "Go")
	fn = g.limited(fn)
	if !g.acquire(true) {
		return
	}
	g.start(g.watchErr("", fn))
}

// TryGo runs fn on a new goroutine if the group is below its limit and its
// ctx has not ended, and reports whether it did. It never blocks. TryGo
// panics if fn is nil or if Wait has already returned.
func (g *Group) TryGo(fn func(ctx context.Context) error) bool {
	g.check(fn == nil, "TryGo")
	fn = g.limited(fn)
	if !g.acquire(false) {
		return false
	}
	g.start(g.watchErr("", fn))
	return true
}

// Wait blocks until every task started in the group has returned, then
// releases the group's ctx and returns:
//   - the failures, in the order they happened, joined with errors.Join
//     (a single failure is returned as it is), when any task failed;
//   - nil when nothing failed and either nothing cancelled the group or
//     [Group.Cancel] did;
//   - the parent ctx's cause when only the parent ended.
//
// Wait must be called exactly once: a second call panics, as Go, TryGo and
// Spawn do after Wait has returned, since a finished group has nothing left
// to report. (Returning the first result again would hide the bug of two
// owners waiting on one group; returning context.Canceled, the ctx's state
// after Wait, would look like a cancellation that never happened.)
func (g *Group) Wait() error {
	if g.waited.Swap(true) {
		panic("taskgroup: Wait called twice; a Group is waited on once, by its owner")
	}
	g.lazyInit()
	g.wg.Wait()
	g.reg.Leave()
	g.finished.Store(true)
	cause := context.Cause(g.ctx)
	g.cancel(context.Canceled)

	g.mu.Lock()
	errs := g.errs
	g.mu.Unlock()
	switch {
	case len(errs) == 1:
		return errs[0]
	case len(errs) > 1:
		return errors.Join(errs...)
	case cause != nil && !g.cancelled.Load():
		return cause
	}
	return nil
}

// Cancel cancels the group's ctx with context.Canceled as the cause: running
// tasks see ctx.Done(), and Go and Spawn start nothing more. Tasks that
// return because of it are not failures, so Wait returns nil unless a task
// failed. Cancel does not wait; call Wait for that.
func (g *Group) Cancel() {
	g.lazyInit()
	g.cancelled.Store(true)
	g.cancel(context.Canceled)
}

// Context returns the ctx the group's tasks receive. It ends when a task
// fails, when Cancel is called, when the parent ends, or when Wait returns.
func (g *Group) Context() context.Context {
	g.lazyInit()
	return g.ctx
}

// check validates a call that starts work.
func (g *Group) check(nilFn bool, call string) {
	if nilFn {
		panic("taskgroup: " + call + " called with a nil fn")
	}
	g.lazyInit()
	if g.finished.Load() {
		panic("taskgroup: " + call + " called after Wait returned; a Group cannot be reused")
	}
}

// acquire takes a slot for a new task. With block, it waits for a slot or
// for the group's ctx to end. It returns false when the group's ctx has
// ended or, without block, when the group is at its limit.
func (g *Group) acquire(block bool) bool {
	if g.ctx.Err() != nil {
		return false
	}
	if g.sem == nil {
		return true
	}
	select {
	case g.sem <- struct{}{}:
	default:
		if !block {
			return false
		}
		select {
		case g.sem <- struct{}{}:
		case <-g.ctx.Done():
			return false
		}
	}
	if g.ctx.Err() != nil { // cancelled while we took the slot
		<-g.sem
		return false
	}
	return true
}

// start runs fn on a new goroutine; its slot is taken.
func (g *Group) start(fn func(context.Context) error) {
	g.wg.Add(1)
	g.active.Add(1)
	go g.run(fn)
}

func (g *Group) release() {
	if g.sem != nil {
		<-g.sem
	}
	g.active.Add(-1)
	g.wg.Done()
}

// run calls fn and records its outcome. The bookkeeping sits in a deferred
// call so that it also runs while a runtime.Goexit unwinds the goroutine.
func (g *Group) run(fn func(context.Context) error) {
	var err error
	returned := false
	defer func() {
		if !returned {
			err = safe.Recovered(recover())
		}
		if task.Classify(g.ctx, err, returned) == task.Failed {
			g.fail(err)
		}
		g.release()
	}()
	err = fn(g.ctx)
	returned = true
}

// fail records a failure; the first one cancels the group with itself as
// the cause. Recording and cancelling under one lock makes the recorded
// first failure and the cause the same error.
func (g *Group) fail(err error) {
	g.mu.Lock()
	g.errs = append(g.errs, err)
	if len(g.errs) == 1 {
		g.cancel(err)
	}
	g.mu.Unlock()
}
