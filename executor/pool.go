package executor

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/async-patterns/async/internal/task"
	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/observe"
)

// pool is the state of an [Executor]. The workers and everything else that
// outlives a call reference only the pool, never the *Executor handle.
type pool struct {
	// Read on every task, written once: kept apart from the counters.
	q         *ring
	idle      idleWorkers // workers parked on an empty queue (worker.go)
	room      roomWaiters // submitters waiting for room (admit.go)
	workers   []*worker
	onError   func(error)   // nil: failures of Go tasks go to the observer, or slog (observe.go)
	limiter   limit.Limiter // nil: none (limiter.go)
	closed    atomic.Bool   // set by the first Shutdown or ShutdownNow: no new work
	now       atomic.Bool   // ShutdownNow was called: queued work is cancelled, not run
	stopped   atomic.Bool   // every worker has exited; a late sender drains the queue itself
	closing   chan struct{} // closed just after closed is set; wakes blocked submitters
	done      chan struct{} // closed once every worker has exited
	nowCtx    context.Context
	nowCancel context.CancelFunc // cancels nowCtx, which every Go task's ctx watches
	closeOnce sync.Once
	live      atomic.Int32        // worker goroutines that have not exited
	inlineMu  sync.Mutex          // protects inlineRun; ShutdownNow reads it after setting now
	inlineRun map[runner]struct{} // futures running off the workers (see Future.runInline), for ShutdownNow to cancel
	_         [64]byte

	submitted atomic.Uint64 // submits refused or run by the caller, and queued tasks drained off the workers (the workers count what they take)
	inline    atomic.Int64  // tasks running off the workers
	_         [64]byte

	shared counters // the work done off the workers: rejections, inline runs, cancellations

	reg       *observe.Entry   // the executor in the registry of live objects (observe.go)
	obs       observe.Observer // WithObserver's, or nil for the default
	name      string           // WithName's
	queueSize int
}

// goFn is [Executor.Go].
func (ex *pool) goFn(ctx context.Context, fn func(ctx context.Context) error) error {
	fn = limitGo(ex.limiter, fn)
	if ex.watching() {
		fn = ex.watchGo(ctx, fn)
	}
	// The fast path: valid input, room in the queue. It makes the same
	// checks as admit and enqueue, in the same order.
	if fn != nil && ctx != nil && !ex.closed.Load() && (ctx == background || live(ctx)) {
		if ex.send(job{fn: fn, arg: ctx}) {
			return nil
		}
	}
	return ex.goSlow(ctx, fn)
}

// goSlow is Go past its fast path: bad input, a closed executor, an ended
// ctx, or a full queue.
func (ex *pool) goSlow(ctx context.Context, fn func(ctx context.Context) error) error {
	if ctx == nil {
		panic("executor: nil ctx passed to Go")
	}
	if err := ex.admit(ctx, fn == nil); err != nil {
		return ex.reject(err)
	}
	task.Retain(ctx)
	inline, err := ex.enqueue(ctx, job{fn: fn, arg: ctx})
	if err != nil {
		return ex.reject(err)
	}
	if inline {
		ex.submitted.Add(1)
		ex.runGo(ctx, fn)
	}
	return nil
}

// shutdown is [Executor.Shutdown].
func (ex *pool) shutdown(ctx context.Context) error {
	if ctx == nil {
		panic("executor: nil ctx passed to Shutdown")
	}
	ex.close()
	select {
	case <-ex.done:
		return nil
	default:
	}
	select {
	case <-ex.done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// shutdownNow is [Executor.ShutdownNow].
func (ex *pool) shutdownNow() {
	ex.now.Store(true)
	ex.nowCancel()
	for _, w := range ex.workers {
		w.mu.Lock()
		r := w.cur
		w.mu.Unlock()
		if r != nil && r.abort(errShutdownNow) {
			ex.shared.count(task.Cancelled)
		}
	}
	// Futures run inline were started (runInline checks now under the same
	// lock), so abort only cancels their ctx.
	ex.inlineMu.Lock()
	inline := make([]runner, 0, len(ex.inlineRun))
	for r := range ex.inlineRun {
		inline = append(inline, r)
	}
	ex.inlineMu.Unlock()
	for _, r := range inline {
		r.abort(errShutdownNow)
	}
	// Close, then cancel what is queued. What a submit that raced the close
	// queues after the drain, the workers cancel themselves, since now is
	// set.
	ex.close()
	ex.drain()
	<-ex.done
}

// abandoned runs on the runtime's cleanup goroutine once the *Executor
// handle was collected (see [Executor]). If its owner never shut it down,
// it leaves the registry as abandoned (debug mode reports it then) and
// closes the executor as Shutdown does, without waiting: the workers run
// what is queued and exit.
func (ex *pool) abandoned() {
	if ex.closed.Load() {
		return
	}
	ex.reg.Abandon()
	ex.close()
}

// close stops accepting work and wakes the parked workers, which exit once
// the queue is empty.
func (ex *pool) close() {
	ex.closeOnce.Do(func() {
		ex.closed.Store(true)
		close(ex.closing)
		ex.idle.wakeAll()
	})
}

// workerExited runs as each worker exits. The last worker marks the
// executor stopped and handles what was queued meanwhile.
func (ex *pool) workerExited() {
	if ex.live.Add(-1) != 0 {
		return
	}
	defer close(ex.done)
	defer ex.reg.Leave()
	ex.stopped.Store(true)
	ex.drain()
}
