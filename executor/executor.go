package executor

import (
	"context"
	"runtime"

	"github.com/async-patterns/async/internal/task"
)

// Executor runs tasks on a fixed set of worker goroutines fed by a bounded
// FIFO queue.
//
// Build one with [New]; the zero Executor is not usable, and an Executor
// must not be copied (go vet flags a copy; pass the *Executor). It is safe
// for concurrent use, and tasks may submit more work to their own executor.
//
// The caller must call [Executor.Shutdown] or [Executor.ShutdownNow]: they
// are what ends the worker goroutines. The workers reference an inner part,
// not the *Executor, so an executor its owner dropped without either is
// garbage collected, unless something the executor holds refers to it: a
// queued or running task (until it ends), or the error handler, observer
// or limiter it was made with. Then, whenever the collector gets to it
// (do not rely on it), it is closed as Shutdown closes it, without anyone
// waiting: it accepts nothing more, the workers run what is queued and
// exit. Dropping
// the handle is not taken as a request to cancel work it accepted, as
// Python's ThreadPoolExecutor, collected, also runs its queued work; a
// task that never returns keeps its worker. In debug mode (package
// inspect) such an executor is reported, with the stack that made it.
//
// The queue is a lock-free ring rather than a buffered channel: with tiny
// tasks a channel pool spends most of its time contending for the
// channel's lock (see ring.go; BENCHMARKS.md has the figures). Workers take
// tasks in the order they were queued, and submitters waiting for room are
// served in the order they began to wait.
//
// Cost: a task submitted with [Executor.Go] costs no allocation: a
// compare-and-swap and a store to put it on the ring, the same to take it
// off. A [Submit] costs one allocation, the Future, which also holds the
// task's ctx.
type Executor struct {
	_     noCopy // a copy would be closed when the original handle is collected: go vet flags copies
	*pool        // what the workers, futures and timers reference: never the handle, so that it can be collected
}

// noCopy makes go vet's copylocks check flag a copied [Executor], as it
// flagged one before the handle held only a pointer. It takes no space.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// inner returns ex's pool, or nil for a nil ex.
func (ex *Executor) inner() *pool {
	if ex == nil {
		return nil
	}
	return ex.pool
}

// New starts an executor and its workers. It panics, with a message naming
// the option, if an option is invalid. The caller must call
// [Executor.Shutdown] or [Executor.ShutdownNow] to end the workers.
func New(opts ...Option) *Executor {
	c := newConfig(opts)
	ex := &pool{
		q:       newRing(c.queue),
		workers: make([]*worker, c.workers),
		onError: c.onError,
		limiter: c.limiter,
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	ex.register(c)
	h := &Executor{pool: ex}
	runtime.AddCleanup(h, (*pool).abandoned, ex)
	ex.nowCtx, ex.nowCancel = context.WithCancel(context.Background())
	ex.live.Store(int32(c.workers))
	for i := range ex.workers {
		ex.workers[i] = &worker{ex: ex, ctx: task.NewReused(ex, ex.nowCtx), parker: newParker()}
	}
	for _, w := range ex.workers {
		go w.loop()
	}
	return h
}

// The exported methods are the handle's own (not promoted from the pool),
// so that a method value such as `defer ex.Shutdown(ctx)` keeps the handle
// alive; KeepAlive keeps it so while the call runs.

// Go submits fn to run on a worker and returns without waiting for it:
// fire-and-forget, with no future and no allocation. It blocks while the
// queue is full, until there is room or ctx ends. It returns nil once the
// task is accepted; otherwise the task will never run and Go returns
// [ErrClosed] after shutdown, context.Cause(ctx) when ctx ends first, or an
// error matching [ErrNilFunc] for a nil fn. A refused task counts in
// [Stats].Rejected. Go panics if ctx is nil.
//
// If ctx ends while the task waits in the queue, the task never runs: the
// worker that takes it skips it and counts it in [Stats].Cancelled (it is
// not a failure, and the error handler does not see it). Only a ctx that
// ends at the very moment the worker takes the task may lose that race; the
// task then runs with its ctx already done.
//
// fn's ctx derives from ctx and ends on [Executor.ShutdownNow]; it does not
// end when fn returns. The worker reuses it for its next task unless
// something may hold on to it: fn handed it (or a ctx derived from it) to
// Go or [Submit], as a nested submit does, derived a cancelable ctx from it,
// or asked for its Done channel over a ctx that can end. Such a ctx is
// retired instead and stays valid after fn returns, so that work queued with
// it runs under a live ctx. Any other use past fn's return (keeping it in a
// goroutine fn started, for instance) is a data race: use the ctx that was
// passed to Go for that. A Done channel is made only when fn asks for one
// and ctx can end. (A ctx derived from a wrapper of fn's ctx, as in
// context.WithCancel(context.WithValue(ctx, k, v)), and left live is no
// race either: if ctx never ends, it ends on ShutdownNow, and the worker
// reuses fn's ctx only for tasks given that same ctx; if ctx can end, it
// may not see ctx end once fn has returned, so cancel it.)
//
// The error fn returns goes to the handler set by [WithErrorHandler] (or to
// the observer, or log/slog's default logger: see [WithErrorHandler]), as
// does a panic, as a [*PanicError]; an error
// that is fn's own cancellation is not a failure and is only counted. When a
// task of this executor calls Go with its own ctx and the queue is full, it
// runs fn itself before Go returns, instead of waiting for room that only
// it could make.
func (ex *Executor) Go(ctx context.Context, fn func(ctx context.Context) error) error {
	r := ex.pool.goFn(ctx, fn)
	runtime.KeepAlive(ex)
	return r
}

// Shutdown stops the executor gracefully: it accepts no new work (submits
// fail with [ErrClosed], blocked ones included), lets the workers run what
// is queued, and waits for them to exit. It returns nil once they have, or
// context.Cause(ctx) if ctx ends first; the workers then go on draining the
// queue, and a later Shutdown or ShutdownNow waits again. Shutdown may be
// called any number of times, also after ShutdownNow. A task of the
// executor that calls Shutdown waits for itself: give it a ctx that ends.
//
// A submit that runs at the same time as Shutdown is either refused with
// ErrClosed or accepted. An accepted task runs, with one exception: if it
// reached the queue only after the workers had found it empty and exited,
// nobody is left to run it, and it is cancelled instead. Its future then
// resolves [Cancelled] with an error that matches both ErrClosed and
// context.Canceled, and its function never runs. A Go task in that case is
// counted in [Stats].Cancelled. The submitter does not run it itself: that
// would run another caller's task on its goroutine, which could deadlock.
//
// Shutdown panics if ctx is nil; nothing is shut down then.
func (ex *Executor) Shutdown(ctx context.Context) error {
	r := ex.pool.shutdown(ctx)
	runtime.KeepAlive(ex)
	return r
}

// ShutdownNow stops the executor at once: it accepts no new work, cancels
// every queued task (a queued future resolves [Cancelled] with an error that
// matches both [ErrClosed] and context.Canceled, and its function never
// runs; a queued Go task is dropped and counted in [Stats].Cancelled), and
// cancels the ctx of every running task, on a worker or run by a task on its
// own goroutine (see [Submit] and [Future.Wait]). Then it waits, without a
// bound, for the running tasks to return and the workers to exit.
// ShutdownNow may be called any number of times, also after Shutdown, but
// not from one of the executor's own tasks: it would wait for that task
// forever.
func (ex *Executor) ShutdownNow() {
	ex.pool.shutdownNow()
	runtime.KeepAlive(ex)
}
