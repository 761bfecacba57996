package executor

import (
	"context"
	"errors"
	"runtime"

	"github.com/async-patterns/async/internal/task"
)

// State is where a [Future] is in its life: [Pending], [Running], then
// exactly one of [Succeeded], [Failed] or [Cancelled].
type State = task.State

// The states of a Future.
const (
	Pending   = task.Pending   // queued, its function not started yet
	Running   = task.Running   // its function is running
	Succeeded = task.Succeeded // its function returned a nil error
	Failed    = task.Failed    // its function returned an error of its own or panicked, or the submit was rejected
	Cancelled = task.Cancelled // cancelled before it started, or it returned its own cancellation
)

// Future is a handle on the result of a task submitted with [Submit] or
// [TrySubmit]. It is the same handle as taskgroup.Task: Wait has the
// signature of a gather function, so f.Wait plugs straight into gather.All.
//
// Its methods are safe for concurrent use. Every future resolves: its
// function returns (Succeeded, Failed or Cancelled), it is cancelled before
// it starts (Cancelled, its function never runs), or its submit is rejected
// (Failed, with the reason as its error).
//
// Cost: one allocation, which holds the task's ctx too; a ctx that nobody
// selects on never makes a channel.
type Future[T any] struct {
	h task.Handle[T] // its owner is the executor's *pool, never the handle (nil only for a Submit with a nil executor)
}

// Submit queues fn to run on one of ex's workers and returns a future of its
// result. It blocks while the queue is full, until there is room or ctx
// ends.
//
// fn receives a ctx that derives from ctx and also ends when the future is
// cancelled ([Future.Cancel]) or on [Executor.ShutdownNow]; it ends when fn
// returns, too.
//
// When it cannot accept the task, fn never runs and the returned future has
// already Failed: with [ErrClosed] after shutdown (also when the executor
// shuts down while Submit waits), with context.Cause(ctx) when ctx ended
// first, or with an error naming a nil ex or fn (a nil fn's matches
// [ErrNilFunc]). Such a submit counts in [Stats].Rejected. Submit panics if
// ctx is nil.
//
// If ctx ends while the task waits in the queue, the task never runs: the
// worker that takes it resolves the future [Cancelled] with
// context.Cause(ctx), and it counts in [Stats].Cancelled. (Cancel the
// future itself to resolve it at once.) Only a ctx that ends at the very
// moment a worker takes the task may lose that race; the task then runs
// with its ctx already done.
//
// When a task of ex calls Submit with its own ctx (or one derived from it)
// and the queue is full, Submit runs fn itself, on the calling goroutine,
// before it returns, instead of waiting for room that only the caller might
// make: nested submits never deadlock. For the same reason a task of ex that
// waits on a future still queued (see [Future.Wait]) runs it itself.
func Submit[T any](ctx context.Context, ex *Executor, fn func(ctx context.Context) (T, error)) *Future[T] {
	if ctx == nil {
		panic("executor: nil ctx passed to Submit")
	}
	f := submit(ctx, ex.inner(), fn)
	runtime.KeepAlive(ex) // the handle's collection would close the executor under the submit
	return f
}

// submit is [Submit] on ex's pool p (nil for a nil ex).
func submit[T any](ctx context.Context, p *pool, fn func(ctx context.Context) (T, error)) *Future[T] {
	fn = watchValue(ctx, p, limitValue(limiterOf(p), fn))
	f := new(Future[T])
	f.h.Init(ctx, p, fn)
	if p == nil {
		f.h.Reject(Failed, errors.New("executor: Submit called with a nil *Executor"))
		return f
	}
	err := p.admit(ctx, fn == nil)
	inline := false
	if err == nil {
		task.Retain(ctx)
		inline, err = p.enqueue(ctx, job{arg: runner(f)})
	}
	if err != nil {
		f.h.Reject(Failed, p.reject(err))
		return f
	}
	if inline {
		p.submitted.Add(1)
		f.runInline()
	}
	return f
}

// TrySubmit queues fn like [Submit] but never blocks. It returns (nil,
// [ErrFull]) when the queue has no room, (nil, [ErrClosed]) after shutdown,
// and (nil, an error naming it) for a nil ex or fn (a nil fn's matches
// [ErrNilFunc]); fn then never runs, and
// the refusal counts in [Stats].Rejected. fn's ctx derives from
// context.Background() and ends on [Future.Cancel] and
// [Executor.ShutdownNow].
func TrySubmit[T any](ex *Executor, fn func(ctx context.Context) (T, error)) (*Future[T], error) {
	if ex == nil {
		return nil, errors.New("executor: TrySubmit called with a nil *Executor")
	}
	defer runtime.KeepAlive(ex)
	p := ex.pool
	if err := p.admit(context.Background(), fn == nil); err != nil {
		return nil, p.reject(err)
	}
	fn = watchValue(context.Background(), p, limitValue(p.limiter, fn))
	f := new(Future[T])
	f.h.Init(context.Background(), p, fn)
	if !p.send(job{arg: runner(f)}) {
		return nil, p.reject(ErrFull)
	}
	return f, nil
}

// Wait blocks until the future resolves or ctx ends. When it has resolved it
// returns the function's value and error (a panic as a [*PanicError]; a
// future cancelled or rejected before it ran returns the zero value and the
// reason). When ctx ends first it returns the zero value and
// context.Cause(ctx) and leaves the future untouched: ctx bounds only the
// waiting. Wait may be called any number of times, from any goroutine.
//
// When ctx belongs to a task of the same executor (it is, or derives from,
// that task's ctx) and the future is still queued, Wait runs its function
// on the calling goroutine instead of waiting for a worker (Wait then
// returns when the function does, whatever ctx does meanwhile): a task
// waiting on work it submitted never deadlocks the pool, however many do it
// at once. If the future's own submit ctx has ended by then, it resolves
// Cancelled instead, as a worker would resolve it.
//
// Wait panics if ctx is nil.
func (f *Future[T]) Wait(ctx context.Context) (T, error) {
	if ctx == nil {
		panic("executor: nil ctx passed to Wait")
	}
	if ex := f.exec(); f.h.State() == Pending && ex != nil && ex.owns(ctx) {
		f.runInline()
	}
	return f.h.Wait(ctx)
}

// Done returns a channel that is closed when the future resolves.
func (f *Future[T]) Done() <-chan struct{} { return f.h.Done() }

// Cancel cancels the task. A queued task resolves at once as [Cancelled]
// with context.Canceled, and its function never runs. A running task has its
// ctx cancelled (its Err is context.Canceled) and resolves when its function
// returns: Cancelled if it returns that cancellation. Cancel does not wait,
// and does nothing on a resolved future.
func (f *Future[T]) Cancel() {
	if ex := f.exec(); f.h.Cancel(context.Canceled) && ex != nil {
		ex.shared.count(Cancelled)
	}
}

// State returns the future's current state.
func (f *Future[T]) State() State { return f.h.State() }

// Err returns the error of a resolved future, and nil before it resolves.
func (f *Future[T]) Err() error { return f.h.Err() }

// runOn runs the future on worker w, unless it was cancelled while queued.
func (f *Future[T]) runOn(w *worker) {
	if f.h.State() != Pending {
		return // cancelled while queued, or run by a waiter; counted there
	}
	if f.h.SkipIfDone() {
		w.tally.count(Cancelled) // its submit ctx ended while it was queued
		return
	}
	if !w.claim(f) {
		if f.h.Cancel(errShutdownNow) {
			w.tally.count(Cancelled)
		}
		return
	}
	if !f.h.Start() {
		w.release()
		return
	}
	defer f.ended(w)
	f.h.Run()
}

// runInline runs the future on the calling goroutine, unless it has been
// claimed already. While it runs, it is listed in ex.inlineRun, so that
// ShutdownNow, which no worker's cur tells about it, can cancel its ctx.
func (f *Future[T]) runInline() {
	ex := f.exec()
	if f.h.SkipIfDone() {
		ex.shared.count(Cancelled)
		return
	}
	ex.inlineMu.Lock()
	if ex.now.Load() {
		ex.inlineMu.Unlock()
		if f.h.Cancel(errShutdownNow) {
			ex.shared.count(Cancelled)
		}
		return
	}
	if !f.h.Start() {
		ex.inlineMu.Unlock()
		return
	}
	if ex.inlineRun == nil {
		ex.inlineRun = make(map[runner]struct{})
	}
	ex.inlineRun[f] = struct{}{}
	ex.inlineMu.Unlock()
	ex.inline.Add(1)
	defer f.ended(nil)
	f.h.Run()
}

// ended records the outcome; it is deferred so that it runs even while a
// runtime.Goexit unwinds the goroutine (Run has resolved the future by then).
func (f *Future[T]) ended(w *worker) {
	if w == nil {
		ex := f.exec()
		ex.inlineMu.Lock()
		delete(ex.inlineRun, f)
		ex.inlineMu.Unlock()
		ex.shared.count(f.h.State())
		ex.inline.Add(-1)
		return
	}
	w.release()
	w.tally.count(f.h.State())
}

func (f *Future[T]) abort(err error) bool { return f.h.Cancel(err) }

// exec returns the executor f was submitted to, kept as its handle's owner
// rather than in a field of its own (one word less per future).
func (f *Future[T]) exec() *pool {
	ex, _ := f.h.Owner().(*pool)
	return ex
}
