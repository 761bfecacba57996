package executor

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/async-patterns/async/internal/task"
	"github.com/async-patterns/async/observe"
)

// This file is the way in: what a submit checks, how a job reaches the
// queue (waiting for room if it must), how it leaves it, and what happens
// to jobs that arrive too late.

// job is one entry of the queue: a Go task (fn, and its ctx in arg) or a
// future (fn is nil, and arg is the future as a [runner]). It is passed by
// value, so a Go task costs no allocation. Three words (fn and one
// interface) rather than five (a field for each kind) make a slot of the
// ring 32 bytes, two to a cache line, which cuts the traffic between
// submitter and workers. The price is a type assertion when a worker takes
// the job, a compare against a cached type.
type job struct {
	fn  func(context.Context) error
	arg any // a Go task's context.Context, or a future's runner
}

// runner is a queued future, seen without its type parameter.
type runner interface {
	runOn(w *worker)  // run on a worker (or skip it, if it was cancelled)
	abort(error) bool // cancel; reports whether it resolved a pending task
}

// background is context.Background(): a ctx that never ends and holds no
// task's ctx, so Go skips the calls that check and retain one.
var background = context.Background()

// live reports whether ctx has not ended, and retains the task ctx it may
// derive from (see [task.Retain]).
func live(ctx context.Context) bool {
	if ctx.Done() != nil && ctx.Err() != nil {
		return false
	}
	task.Retain(ctx)
	return true
}

// admit checks a submit before anything is queued. The caller has checked
// ctx for nil.
func (ex *pool) admit(ctx context.Context, nilFn bool) error {
	switch {
	case nilFn:
		return errNilFn
	case ex.closed.Load():
		return ErrClosed
	}
	if ctx.Done() != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
	}
	return nil
}

// reject counts a submit that was refused with err, and returns err. Every
// refusal (of Go, Submit and TrySubmit) goes through it, so that
// Submitted = Completed + Failed + Cancelled + Rejected holds.
func (ex *pool) reject(err error) error {
	ex.submitted.Add(1)
	ex.shared.rejected.Add(1)
	ex.emit(observe.Rejected, err)
	return err
}

// enqueue puts j on the queue, waiting for room until ctx ends or the
// executor shuts down. When the queue is full and ctx belongs to one of this
// executor's tasks, it returns inline = true without queueing: the caller
// must run the task itself, since waiting could deadlock.
func (ex *pool) enqueue(ctx context.Context, j job) (inline bool, err error) {
	if ex.send(j) {
		return false, nil
	}
	if ex.owns(ctx) {
		return true, nil
	}
	return false, ex.put(ctx, j)
}

// owns reports whether ctx is (or derives from) the ctx of one of ex's
// tasks.
func (ex *pool) owns(ctx context.Context) bool { return task.OwnedBy(ctx, ex) }

// send puts j on the queue if it has room, and then wakes a parked worker
// (see the parking protocol in worker.go). It reports false, sending
// nothing, when the queue is full.
func (ex *pool) send(j job) bool {
	if !ex.q.tryPut(j) {
		return false
	}
	if ex.idle.n.Load() > 0 {
		ex.idle.wakeOne()
	}
	ex.afterSend()
	return true
}

// take takes the next job off the queue, and then wakes a submitter
// waiting for room. It reports false when the queue is empty (or its head
// is still being copied in).
func (ex *pool) take() (job, bool) {
	j, ok := ex.q.tryGet()
	if ok && ex.room.n.Load() > 0 {
		ex.room.wakeOne()
	}
	return j, ok
}

// afterSend runs after every put. A submit that passed the closed check
// before Shutdown but put its job after the last worker exited would leave
// it in a queue nobody reads; such a submitter sees stopped and drains the
// queue itself. The last worker sets stopped and then drains, so a job put
// before stopped was set is drained by that worker: nothing is left behind,
// and no submit pays more than an atomic load for it.
func (ex *pool) afterSend() {
	if ex.stopped.Load() {
		ex.drain()
	}
}

// drain empties the queue and cancels what it takes. ShutdownNow calls it;
// so do the last worker and late submitters (see afterSend), once the
// workers have exited: what the queue holds then arrived too late to run.
// A put still copying its job in is waited for.
func (ex *pool) drain() {
	why := errTooLate
	if ex.now.Load() {
		why = errShutdownNow
	}
	for {
		j, ok := ex.take()
		if !ok {
			if ex.q.empty() {
				return
			}
			runtime.Gosched() // a put has its position and is copying its job in
			continue
		}
		ex.submitted.Add(1) // a queued task is counted by whoever takes it
		if j.fn != nil || j.arg.(runner).abort(why) {
			ex.shared.count(task.Cancelled)
		}
	}
}

// put sends j, waiting for room while the queue is full, until ctx ends or
// the executor shuts down; it returns context.Cause(ctx) or ErrClosed then.
// Submitters waiting for room are served in the order they began to wait.
// This is the submitter's half of the parking protocol (see worker.go): it
// lists itself as waiting, then tries again before it blocks, and a take
// that frees a slot wakes the one that has waited longest.
func (ex *pool) put(ctx context.Context, j job) error {
	for {
		if ex.send(j) {
			return nil
		}
		w := ex.room.wait()
		if ex.send(j) {
			ex.room.stop(w)
			return nil
		}
		select {
		case <-w.ready:
			// A slot was freed: try again (another put may take it first),
			// unless the executor shut down meanwhile.
			select {
			case <-ex.closing:
				return ErrClosed
			default:
			}
		case <-ctx.Done():
			ex.room.stop(w)
			return context.Cause(ctx)
		case <-ex.closing:
			ex.room.stop(w)
			return ErrClosed
		}
	}
}

// roomWaiters lists the submitters waiting for room, oldest first.
type roomWaiters struct {
	n       atomic.Int32 // len(waiters)
	mu      sync.Mutex   // protects waiters
	waiters []*roomWaiter
}

// roomWaiter is a submitter waiting for room in the queue.
type roomWaiter struct {
	ready chan struct{} // receives one token when a take freed a slot
}

// wait lists a submitter that found the queue full. The caller tries again
// before it blocks on the waiter's ready channel.
func (l *roomWaiters) wait() *roomWaiter {
	w := &roomWaiter{ready: make(chan struct{}, 1)}
	l.mu.Lock()
	l.waiters = append(l.waiters, w)
	l.n.Add(1)
	l.mu.Unlock()
	return w
}

// stop takes w, which has given up or succeeded, off the list. If a take
// already woke w, its slot may go unused by w: the wake-up is passed on to
// the next waiter.
func (l *roomWaiters) stop(w *roomWaiter) {
	l.mu.Lock()
	listed := remove(&l.waiters, w)
	if listed {
		l.n.Add(-1)
	}
	l.mu.Unlock()
	if !listed {
		l.wakeOne()
	}
}

// wakeOne wakes the submitter that has waited for room the longest.
func (l *roomWaiters) wakeOne() {
	l.mu.Lock()
	if len(l.waiters) == 0 {
		l.mu.Unlock()
		return
	}
	w := l.waiters[0]
	l.waiters[0] = nil
	l.waiters = l.waiters[1:]
	l.n.Add(-1)
	l.mu.Unlock()
	w.ready <- struct{}{} // never blocks: a waiter is woken once
}
