package task

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/async-patterns/async/internal/safe"
)

// Handle is a task's result-to-be. The zero Handle is not usable; call
// [Handle.Init] before sharing it. A Handle must not be copied after Init.
//
// Cost: resolving a task is one atomic swap of its state and one
// WaitGroup.Done; a Done channel is made only for a caller that asks for
// one. Why a WaitGroup to park on rather than a semaphore or mutex of our
// own: a goroutine blocked in WaitGroup.Wait (or on a channel) is durably
// blocked inside a testing/synctest bubble, one blocked on a sync.Mutex is
// not, and tests of code that waits on a task run in bubbles.
type Handle[T any] struct {
	ctx   Ctx
	fn    func(context.Context) (T, error)
	state atomic.Int32   // a State, with watched set once done has been made
	wg    sync.WaitGroup // released when the task resolves; lets a Wait without a Done channel block without a channel
	done  chan struct{}  // made by Done (under ctx.mu) before it sets watched; closed by resolve if watched
	val   T              // written before state becomes final
	err   error          // written before state becomes final
}

// watched is the bit of Handle.state that says done has been made and must
// be closed when the task resolves. Only Done sets it, while the task is
// live; resolve clears it as it swaps in the final state, and so learns
// whether to close done without taking a lock.
const watched = 1 << 16

// Init prepares h to run fn under a ctx derived from parent. owner is what
// [OwnerOf] answers for that ctx (nil for none).
func (h *Handle[T]) Init(parent context.Context, owner any, fn func(context.Context) (T, error)) {
	h.ctx.init(parent, owner)
	h.fn = fn
	h.wg.Add(1)
	h.debugInit()
}

// Context returns the ctx that the task's function receives.
func (h *Handle[T]) Context() context.Context { return &h.ctx }

// State returns the task's current state.
func (h *Handle[T]) State() State { return State(h.state.Load() &^ watched) }

// Owner returns the owner given to [Handle.Init].
func (h *Handle[T]) Owner() any { return h.ctx.own }

// Resolved reports whether the task has reached a final state.
func (h *Handle[T]) Resolved() bool { return h.State() >= Succeeded }

// Result returns the value and error of a resolved task, and zero values
// before then.
func (h *Handle[T]) Result() (T, error) {
	if !h.Resolved() {
		var zero T
		return zero, nil
	}
	h.markRead()
	return h.val, h.err
}

// Err returns the error of a resolved task.
func (h *Handle[T]) Err() error {
	_, err := h.Result()
	return err
}

// Wait blocks until the task resolves or ctx ends. On resolution it returns
// the task's value and error; when ctx ends first it returns the zero value
// and context.Cause(ctx), and the task is left as it was.
func (h *Handle[T]) Wait(ctx context.Context) (T, error) {
	h.markRead()
	if h.Resolved() {
		return h.val, h.err
	}
	d := ctx.Done()
	if d == nil {
		h.wg.Wait()
		return h.val, h.err
	}
	select {
	case <-h.Done():
		return h.val, h.err
	case <-d:
		if h.Resolved() { // both ready: the result wins
			return h.val, h.err
		}
		var zero T
		return zero, context.Cause(ctx)
	}
}

// Done returns a channel closed when the task resolves.
func (h *Handle[T]) Done() <-chan struct{} {
	h.ctx.mu.Lock() // serialises the callers of Done; resolve does not take it
	defer h.ctx.mu.Unlock()
	if h.done != nil {
		return h.done
	}
	var ch chan struct{}
	for {
		s := h.state.Load()
		if State(s) >= Succeeded {
			h.done = closedChan
			return closedChan
		}
		if ch == nil {
			ch = make(chan struct{})
		}
		// done is written before the swap that publishes watched, so a
		// resolve that sees watched sees done; while watched is unset,
		// resolve does not read it.
		h.done = ch
		if h.state.CompareAndSwap(s, s|watched) {
			return ch
		}
	}
}

// Cancel cancels the task. A task that has not started resolves at once as
// Cancelled with err and its function never runs; a running task has its
// ctx cancelled (its Err is context.Canceled) and resolves when its function
// returns. Cancel on a resolved task does nothing. It reports whether the
// task was still pending and is now resolved.
func (h *Handle[T]) Cancel(err error) bool {
	if h.claim() {
		h.ctx.cancel(context.Canceled)
		var zero T
		h.resolve(zero, err, Cancelled)
		return true
	}
	h.ctx.cancel(context.Canceled)
	return false
}

// SkipIfDone resolves a pending task whose parent ctx has already ended as
// Cancelled with the parent's cause, without running it, and reports
// whether it did. A queue of tasks calls it as it takes one off: a task
// whose ctx ended while it waited must not run (an earlier cancellation
// wins). A parent that ends just after the check loses that race, and the
// task runs with its ctx already done.
func (h *Handle[T]) SkipIfDone() bool {
	p := h.ctx.parent
	if p.Err() == nil {
		return false
	}
	return h.Reject(Cancelled, context.Cause(p))
}

// Start claims a pending task for running. It returns false when the task
// was cancelled before it could start; the caller then must not call Run.
func (h *Handle[T]) Start() bool { return h.claim() }

// claim moves a pending task to Running, keeping the watched bit, and
// reports whether it did.
func (h *Handle[T]) claim() bool {
	for {
		s := h.state.Load()
		if State(s&^watched) != Pending {
			return false
		}
		if h.state.CompareAndSwap(s, s&watched|int32(Running)) {
			return true
		}
	}
}

// Run calls the function of a task claimed with [Handle.Start] on the
// calling goroutine and resolves the task with its outcome: a panic or
// runtime.Goexit becomes a *safe.PanicError and the task Failed; an error
// that is the ctx's own cancellation (see [IsCancellation]) makes it
// Cancelled. Run resolves the task even while a Goexit unwinds the
// goroutine, so a caller's deferred bookkeeping can read the result.
func (h *Handle[T]) Run() {
	var (
		v        T
		err      error
		returned bool
	)
	defer func() {
		if !returned {
			err = safe.Recovered(recover())
		}
		st := Classify(&h.ctx, err, returned)
		h.ctx.cancel(context.Canceled)
		h.resolve(v, err, st)
	}()
	v, err = h.fn(&h.ctx)
	returned = true
}

// Reject resolves a pending task as st with err without running it (a
// rejected submit, a group already cancelled). It reports whether it did.
func (h *Handle[T]) Reject(st State, err error) bool {
	if !h.claim() {
		return false
	}
	h.ctx.cancel(context.Canceled)
	var zero T
	h.resolve(zero, err, st)
	return true
}

// resolve records the outcome; the caller has moved state out of Pending,
// so it runs exactly once per task.
func (h *Handle[T]) resolve(v T, err error, st State) {
	h.val, h.err = v, err
	h.fn = nil // let the closure go
	h.debugResolved(st, err)
	if h.state.Swap(int32(st))&watched != 0 {
		close(h.done)
	}
	h.wg.Done()
}
