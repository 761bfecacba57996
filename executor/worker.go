package executor

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/internal/task"
	"github.com/async-patterns/async/observe"
)

// worker is one worker goroutine's state.
type worker struct {
	_        [64]byte
	counters counters // published, read by Stats
	tally    tally    // the worker's own
	ex       *pool
	ctx      *task.Reused // the ctx of this worker's Go tasks, reused from one to the next
	parker   *parker      // wakes the worker when it waits for work
	mu       sync.Mutex   // protects cur
	cur      runner       // the future running on this worker, for ShutdownNow
}

// loop runs the worker goroutine: it serves the queue until the executor
// is closed and the queue is empty.
func (w *worker) loop() {
	ex := w.ex
	clean := false
	defer func() {
		w.flush()
		if !clean {
			// A task called runtime.Goexit, which ends this goroutine
			// whatever we do; the task's outcome is recorded. Put a fresh
			// goroutine in this one's place.
			go w.loop()
			return
		}
		ex.workerExited()
	}()
	for !w.serve() {
		// A Go task panicked; serve recorded it. Serve on.
	}
	clean = true
}

// serve runs tasks from the queue until the executor is closed and the
// queue is empty, and then returns true. It returns false after a Go task
// panicked, once the panic is recorded: the caller calls it again.
//
// The recovery of Go tasks is serve's one deferred call rather than one per
// task: a task costs no defer, only the stores of gc around it.
func (w *worker) serve() (done bool) {
	ex := w.ex
	var gc *task.Reused // the running Go task's ctx; nil between Go tasks
	defer func() {
		if gc == nil {
			return // not a Go task's panic (futures recover their own): let it go on
		}
		w.goEnded(gc, safe.Recovered(recover()), false)
	}()
	for {
		j, ok := ex.take()
		if !ok {
			w.flush() // about to wait: publish the counts
			if ex.closed.Load() {
				if ex.q.empty() {
					return true // closed, and what was queued is run (after ShutdownNow, cancelled)
				}
				runtime.Gosched() // a put has its position and is copying its job in
				continue
			}
			ex.idle.park(w.parker, func() bool {
				j, ok = ex.take()
				return ok || ex.closed.Load()
			})
			if !ok {
				continue
			}
		}
		w.tally.taken++ // the task's submit (see Stats)
		if w.tally.tasks == 0 {
			// The first task since the counts were published, as after
			// waiting for work: show it as submitted and running at once.
			w.flush()
		}
		if j.fn == nil {
			j.arg.(runner).runOn(w)
		} else if ctx := j.arg.(context.Context); ex.now.Load() || (ctx != background && ctx.Err() != nil) {
			// Cancelled before it started, by ShutdownNow or by its own
			// ctx ending while it was queued: an earlier cancellation wins,
			// and the task never runs. (Err is an atomic load for the
			// context package's own types.) A ctx that ends just after this
			// check lets the task run with its ctx already done.
			w.tally.count(task.Cancelled)
			ex.emit(observe.Cancelled, context.Cause(ctx))
		} else {
			gc = w.ctx
			if !gc.Reusable(ctx) {
				gc = task.NewReused(ex, ex.nowCtx) // the last task's ctx may still be watched
				w.ctx = gc
			}
			gc.Start(ctx)
			err := j.fn(gc)
			c := gc
			gc = nil // past this point a panic is not the task's
			if err == nil {
				c.Finish()
				w.tally.count(task.Succeeded)
			} else {
				w.goEnded(c, err, true)
			}
		}
		if w.tally.tasks++; w.tally.tasks == 32 {
			w.flush()
		}
	}
}

// goEnded records the end of a Go task on w that did not succeed: it
// returned err (returned is true) or panicked, err being the panic.
func (w *worker) goEnded(gc *task.Reused, err error, returned bool) {
	st := task.Classify(gc, err, returned) // before Finish, which ends gc
	gc.Finish()
	w.tally.count(st)
	if st == task.Failed {
		w.ex.report(err)
	}
}

// claim records r as the future running on w. It reports false if
// ShutdownNow has begun, in which case r must be cancelled, not run.
func (w *worker) claim(r runner) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ex.now.Load() {
		return false
	}
	w.cur = r
	return true
}

func (w *worker) release() {
	w.mu.Lock()
	w.cur = nil
	w.mu.Unlock()
}

// runGo runs a Go task on the calling goroutine, off the workers (a task
// of ex that called Go with the queue full), under a ctx of its own, and
// records its outcome in the shared counters.
func (ex *pool) runGo(parent context.Context, fn func(context.Context) error) {
	ex.inline.Add(1)
	gc := task.NewReused(ex, ex.nowCtx)
	gc.Start(parent)
	var err error
	returned := false
	defer func() {
		if !returned {
			err = safe.Recovered(recover())
		}
		st := task.Classify(gc, err, returned)
		gc.Finish()
		ex.shared.count(st)
		ex.inline.Add(-1)
		if st == task.Failed {
			ex.report(err)
		}
	}()
	err = fn(gc)
	returned = true
}

// report hands a Go task's failure to the error handler, or logs it.
func (ex *pool) report(err error) {
	if ex.onError == nil {
		ex.reportUnhandled(err)
		return
	}
	returned := false
	defer func() {
		if !returned {
			ex.reportHandlerPanic(safe.Recovered(recover()), err)
		}
	}()
	ex.onError(err)
	returned = true
}

// The parking protocol. A worker that finds the queue empty parks, and a
// submitter that finds it full waits for room (see [pool.put]); each
// is woken by whoever makes the change it waits for, which checks a count
// of waiters right after its own put or get ([pool.send],
// [pool.take]). Each side writes its own word before it reads the
// other side's, with sequentially consistent atomics, so at least one of
// the two sees the other: no wake-up is lost. A wake-up goes to one named
// waiter, on a channel of its own: an anonymous token could be taken by a
// worker it was not meant for, while the one it was meant for waits for it
// holding a job.

// parker is a worker's own wake-up channel.
type parker struct {
	wake chan struct{} // receives one token each time a waker takes the worker off the list
}

func newParker() *parker { return &parker{wake: make(chan struct{}, 1)} }

// idleWorkers lists the parked workers.
type idleWorkers struct {
	n      atomic.Int32 // workers parked, or about to park: len(parked)
	mu     sync.Mutex   // protects parked
	parked []*parker    // a stack: the worker that parked last, whose cache is warmest, is woken first
}

// park blocks a worker (p is its own) that found the queue empty until a
// put or a wakeAll may have given it something to do. It returns without
// blocking if recheck, called once the worker is listed as parked, reports
// true: recheck must look for work (a take, keeping what it takes) and for
// the reasons wakeAll is called. A woken worker may find nothing: it
// checks again and parks again.
func (l *idleWorkers) park(p *parker, recheck func() bool) {
	l.mu.Lock()
	l.parked = append(l.parked, p)
	l.n.Add(1)
	l.mu.Unlock()
	if recheck() {
		l.mu.Lock()
		listed := remove(&l.parked, p)
		if listed {
			l.n.Add(-1)
		}
		l.mu.Unlock()
		if listed {
			return
		}
		// A waker took p off the list already: its token is p's alone, and
		// is sent right after; take it, so that the next park starts clean.
	}
	<-p.wake
}

// wakeOne wakes the worker that parked last, if any is parked.
func (l *idleWorkers) wakeOne() {
	l.mu.Lock()
	n := len(l.parked)
	if n == 0 {
		l.mu.Unlock()
		return
	}
	p := l.parked[n-1]
	l.parked[n-1] = nil
	l.parked = l.parked[:n-1]
	l.n.Add(-1)
	l.mu.Unlock()
	p.wake <- struct{}{} // never blocks: one token per time off the list
}

// wakeAll wakes every parked worker. The caller has set what the workers'
// recheck looks for first, so that a worker parking later sees it.
func (l *idleWorkers) wakeAll() {
	l.mu.Lock()
	ps := l.parked
	l.parked = nil
	l.n.Add(-int32(len(ps)))
	l.mu.Unlock()
	for _, p := range ps {
		p.wake <- struct{}{}
	}
}

// remove deletes x from *list and reports whether it was there.
func remove[T comparable](list *[]T, x T) bool {
	i := slices.Index(*list, x)
	if i < 0 {
		return false
	}
	*list = slices.Delete(*list, i, i+1)
	return true
}
