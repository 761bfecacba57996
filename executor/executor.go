package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/internal/task"
)

// PanicError is the error a task's panic (or runtime.Goexit) becomes: Value
// is what was passed to panic, Stack the goroutine's stack. It is the same
// type in every package of this module, so errors.As with any package's
// *PanicError matches it.
//
// Why recover at all: a panic on a worker would otherwise crash the whole
// process, and a Goexit would silently kill the worker and leave whoever
// waits on the task hanging. Turning both into the task's error keeps the
// failure visible, with its stack, and keeps the worker serving the queue.
type PanicError = safe.PanicError

var (
	// ErrClosed is the error of work submitted after [Executor.Shutdown] or
	// [Executor.ShutdownNow] was called, or while Submit was waiting for room
	// when the executor shut down.
	ErrClosed = errors.New("executor: executor is shut down")

	// ErrFull is the error of [TrySubmit] when the queue has no room.
	ErrFull = errors.New("executor: queue is full")

	// ErrNilFunc is matched (with errors.Is) by the error of a submit
	// given a nil function; the error itself names the argument:
	// "executor: fn is nil".
	ErrNilFunc = errors.New("executor: nil function")
)

// errShutdownNow resolves the futures that ShutdownNow cancelled before
// they started, and errTooLate those that a submit racing Shutdown queued
// after the workers had exited. Both match ErrClosed and context.Canceled.
var (
	errShutdownNow error = &closedError{"executor: cancelled by ShutdownNow before it started"}
	errTooLate     error = &closedError{"executor: queued as the executor shut down, after its workers had exited; never started"}
)

// errNilFn is the error of a submit given a nil fn.
var errNilFn error = &nilFuncError{"executor: fn is nil"}

type nilFuncError struct{ msg string }

func (e *nilFuncError) Error() string { return e.msg }

func (*nilFuncError) Is(target error) bool { return target == ErrNilFunc }

type closedError struct{ msg string }

func (e *closedError) Error() string { return e.msg }

func (*closedError) Is(target error) bool {
	return target == ErrClosed || target == context.Canceled
}

// Executor runs tasks on a fixed set of worker goroutines fed by a bounded
// FIFO queue.
//
// Build one with [New]; the zero Executor is not usable. It is safe for
// concurrent use, and tasks may submit more work to their own executor.
//
// The caller must call [Executor.Shutdown] or [Executor.ShutdownNow]: they
// are what ends the worker goroutines. An executor that is dropped without
// either keeps its workers blocked on the queue forever (they reference the
// executor, so it is never garbage collected either).
//
// The queue is a lock-free ring rather than a buffered channel: with tiny
// tasks a channel pool spends most of its time contending for the
// channel's lock, and the ring lets Go undercut such a pool (see
// BENCHMARKS.md). Workers take tasks in the order they were queued, and
// submitters waiting for room are served in the order they began to wait.
//
// Cost: a task submitted with [Executor.Go] costs no allocation: a
// compare-and-swap and a store to put it on the ring, the same to take it
// off. A [Submit] costs one allocation, the Future, which also holds the
// task's ctx.
type Executor struct {
	// Read on every task, written once: kept apart from the counters.
	q         *ring
	workers   []*worker
	onError   func(error)   // nil: failures of Go tasks are logged through slog
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
}

// Option configures an Executor built by [New].
type Option func(*config)

type config struct {
	workers int
	queue   int
	onError func(error)
}

// WithWorkers sets the number of worker goroutines, and so how many tasks
// run at once. The default is runtime.GOMAXPROCS(0), right for CPU-bound
// work. n must be at least 1: New panics otherwise.
func WithWorkers(n int) Option {
	return func(c *config) {
		if n < 1 {
			panic(fmt.Sprintf("executor: WithWorkers(%d): workers must be at least 1", n))
		}
		c.workers = n
	}
}

// WithQueueSize sets how many submitted tasks may wait for a worker before
// [Submit] and [Executor.Go] block and [TrySubmit] fails with [ErrFull]. The
// default is max(1024, 4*workers): deep enough that producers of tiny tasks
// rarely wait, small enough to push back on a runaway producer. The queue
// is allocated whole by New, 32 bytes per place. m must be at least 1: New
// panics otherwise.
func WithQueueSize(m int) Option {
	return func(c *config) {
		if m < 1 {
			panic(fmt.Sprintf("executor: WithQueueSize(%d): queue size must be at least 1", m))
		}
		c.queue = m
	}
}

// WithErrorHandler sets the function that receives the failures of tasks
// started with [Executor.Go]: the errors they return (other than their own
// cancellation) and their panics as [*PanicError]. It runs on the worker
// that ran the task, outside any lock; it may submit work. A panic in it is
// logged and does not stop the worker. Without a handler the failures are
// logged through log/slog's default logger; either way they count in
// [Stats].Failed. h must not be nil: New panics otherwise.
func WithErrorHandler(h func(error)) Option {
	return func(c *config) {
		if h == nil {
			panic("executor: WithErrorHandler(nil): handler must not be nil")
		}
		c.onError = h
	}
}

// New starts an executor and its workers. It panics, with a message naming
// the option, if an option is invalid. The caller must call
// [Executor.Shutdown] or [Executor.ShutdownNow] to end the workers.
func New(opts ...Option) *Executor {
	c := config{workers: runtime.GOMAXPROCS(0)}
	for i, o := range opts {
		if o == nil {
			panic(fmt.Sprintf("executor: nil Option passed to New (opts[%d])", i))
		}
		o(&c)
	}
	if c.queue == 0 {
		c.queue = max(1024, 4*c.workers)
	}
	ex := &Executor{
		q:       newRing(c.queue),
		workers: make([]*worker, c.workers),
		onError: c.onError,
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	ex.nowCtx, ex.nowCancel = context.WithCancel(context.Background())
	ex.live.Store(int32(c.workers))
	for i := range ex.workers {
		w := &worker{ex: ex, ctx: &goCtx{ex: ex}, parker: newParker()}
		ex.workers[i] = w
	}
	for _, w := range ex.workers {
		go w.loop()
	}
	return ex
}

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
// and ctx can end.
//
// The error fn returns goes to the handler set by [WithErrorHandler] (or to
// log/slog's default logger), as does a panic, as a [*PanicError]; an error
// that is fn's own cancellation is not a failure and is only counted. When a
// task of this executor calls Go with its own ctx and the queue is full, it
// runs fn itself before Go returns, instead of waiting for room that only
// it could make.
func (ex *Executor) Go(ctx context.Context, fn func(ctx context.Context) error) error {
	// The fast path: valid input, room in the queue. It makes the same
	// checks as admit and enqueue, in the same order.
	if fn != nil && ctx != nil && !ex.closed.Load() && (ctx == background || live(ctx)) {
		if ex.q.tryPut(job{fn: fn, ctx: ctx}) {
			ex.afterSend()
			return nil
		}
	}
	return ex.goSlow(ctx, fn)
}

// background is context.Background(): a ctx that never ends and holds no
// task's ctx, so Go skips the calls that check and retain one.
var background = context.Background()

// live reports whether ctx has not ended, and retains the task ctx it may
// derive from (see [retain]).
func live(ctx context.Context) bool {
	if ctx.Done() != nil && ctx.Err() != nil {
		return false
	}
	retain(ctx)
	return true
}

// goSlow is Go past its fast path: bad input, a closed executor, an ended
// ctx, or a full queue. The submit is counted already.
func (ex *Executor) goSlow(ctx context.Context, fn func(ctx context.Context) error) error {
	if ctx == nil {
		panic("executor: nil ctx passed to Go")
	}
	err := ex.admit(ctx, fn == nil)
	inline := false
	if err == nil {
		retain(ctx)
		inline, err = ex.enqueue(ctx, job{fn: fn, ctx: ctx})
	}
	if err != nil {
		ex.submitted.Add(1)
		ex.shared.rejected.Add(1)
		return err
	}
	if inline {
		ex.submitted.Add(1)
		ex.runGo(ctx, fn)
	}
	return nil
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

// ShutdownNow stops the executor at once: it accepts no new work, cancels
// every queued task (a queued future resolves [Cancelled] with an error that
// matches both [ErrClosed] and context.Canceled, and its function never
// runs; a queued Go task is dropped and counted in [Stats].Cancelled), and
// cancels the ctx of every running task, on a worker or run by a task on its
// own goroutine (see [Submit] and [Future.Wait]). Then it waits, without a
// bound, for the running tasks to return and the workers to exit.
// ShutdownNow may be called any number of times,
// also after Shutdown, but not from one of the executor's own tasks: it
// would wait for that task forever.
func (ex *Executor) ShutdownNow() {
	ex.now.Store(true)
	ex.nowCancel()
	for _, w := range ex.workers {
		w.mu.Lock()
		r := w.cur
		w.mu.Unlock()
		if r != nil && r.abort(errShutdownNow) {
			ex.shared.dropped.Add(1)
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

// Stats is a snapshot of an executor's work.
//
// Once every submitted task has resolved (after Shutdown has returned, for
// instance), Submitted = Completed + Failed + Cancelled + Rejected. Tasks
// started by [Map] count one per chunk.
type Stats struct {
	Workers int // worker goroutines that have not exited
	Running int // tasks accepted and not yet queued, nor resolved: running (on workers or inline), or being handed to the queue
	Queued  int // tasks waiting in the queue (a cancelled future counts until a worker skips it)

	Submitted uint64 // calls to Submit, TrySubmit and Go
	Completed uint64 // tasks that returned a nil error
	Failed    uint64 // tasks that returned an error of their own, or panicked
	Cancelled uint64 // tasks cancelled before they ran (their ctx ended while queued, Future.Cancel, ShutdownNow), or that returned their own cancellation
	Rejected  uint64 // submits refused: shut down, queue full, ctx ended, or bad input
}

// Stats returns a snapshot of the executor's counters. The fields are read
// one after another while work goes on, so they agree with each other
// exactly only when the executor is idle, and after Shutdown has returned.
//
// So that a task costs neither its submitter nor a worker an atomic
// operation, a queued task's submit is counted by the worker that takes it
// from the queue (until then it counts in Queued), and a worker keeps its
// counts to itself and publishes them when it takes its first task after
// publishing, before it waits for work, after every 32 tasks, and when it
// exits. A
// task's outcome may therefore show some time after its future resolved (a
// Stats call right after [Future.Wait] may not show it yet); while a worker
// streams through the queue, the tasks it finished but has not published
// count as Running (never more than the number of workers plus the tasks
// running inline) and the one it took last may show in neither Queued nor
// Submitted yet; and a submit blocked on a full queue counts once it is
// accepted or refused.
func (ex *Executor) Stats() Stats {
	var s Stats
	// Queued first and the submits taken from the queue after it, so that
	// a task moving from one to the other is counted twice rather than
	// missed: Running errs high rather than low.
	s.Queued = ex.q.len()
	var taken uint64
	add := func(c *counters) {
		s.Completed += c.succeeded.Load()
		s.Failed += c.failed.Load()
		s.Cancelled += c.cancelled.Load() + c.dropped.Load()
		s.Rejected += c.rejected.Load()
		taken += c.taken.Load() // after the outcomes (see worker.flush)
	}
	add(&ex.shared)
	for _, w := range ex.workers {
		add(&w.counters)
	}
	s.Workers = int(ex.live.Load())
	s.Submitted = ex.submitted.Load() + taken + uint64(s.Queued)
	// Workers do not count the tasks they finish one by one; running is
	// what was submitted and is neither refused, queued nor finished.
	running := int64(s.Submitted) - int64(s.Completed+s.Failed+s.Cancelled+s.Rejected) - int64(s.Queued)
	s.Running = int(max(0, min(running, int64(s.Workers)+ex.inline.Load())))
	return s
}

// job is one entry of the queue: a Go task (fn and its ctx), or a future
// (fn is nil, and ctx is the future as a [futureJob]). It is passed by
// value, so a Go task costs no allocation. Three words rather than five (a
// field for each kind) make a slot of the ring 32 bytes, two to a cache
// line, which measurably cuts the traffic between submitter and workers.
type job struct {
	fn  func(context.Context) error
	ctx context.Context
}

// runner is a queued future, seen without its type parameter.
type runner interface {
	runOn(w *worker)  // run on a worker (or skip it, if it was cancelled)
	abort(error) bool // cancel; reports whether it resolved a pending task
}

// counters count tasks by outcome. Each worker publishes its tally to its
// own; the executor's shared set counts the rest, atomically as it goes.
type counters struct {
	taken     atomic.Uint64 // tasks taken from the queue: their submits (see [Executor.Stats])
	rejected  atomic.Uint64
	succeeded atomic.Uint64
	failed    atomic.Uint64
	cancelled atomic.Uint64 // ended by their own cancellation after starting
	dropped   atomic.Uint64 // cancelled before starting
	_         [64]byte      // keep the next worker's counters off this cache line
}

// count records the final state of a task that ran.
func (c *counters) count(st task.State) {
	switch st {
	case task.Succeeded:
		c.succeeded.Add(1)
	case task.Cancelled:
		c.cancelled.Add(1)
	default:
		c.failed.Add(1)
	}
}

// tally is a worker's own count of outcomes: plain fields, touched only by
// the worker's goroutine, published to its counters by [worker.flush].
type tally struct {
	taken, succeeded, failed, cancelled, dropped uint64
	tasks                                        uint32 // handled since the last flush
}

func (t *tally) count(st task.State) {
	switch st {
	case task.Succeeded:
		t.succeeded++
	case task.Cancelled:
		t.cancelled++
	default:
		t.failed++
	}
}

// worker is one worker goroutine's state.
type worker struct {
	_        [64]byte
	counters counters // published, read by Stats
	tally    tally    // the worker's own
	ex       *Executor
	ctx      *goCtx     // the ctx of this worker's Go tasks, reused from one to the next
	parker   *parker    // wakes the worker when it waits for work
	mu       sync.Mutex // protects cur
	cur      runner     // the future running on this worker, for ShutdownNow
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
	var gc *goCtx // the running Go task's ctx; nil between Go tasks
	defer func() {
		if gc == nil {
			return // not a Go task's panic (futures recover their own): let it go on
		}
		w.goEnded(gc, safe.Recovered(recover()), false)
	}()
	q := ex.q
	for {
		j, ok := q.tryGet()
		if !ok {
			w.flush() // about to wait: publish the counts
			if ex.closed.Load() {
				if q.empty() {
					return true // closed, and what was queued is run (after ShutdownNow, cancelled)
				}
				runtime.Gosched() // a put has its position and is copying its job in
				continue
			}
			q.park(w.parker, func() bool {
				j, ok = q.tryGet()
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
			j.ctx.(runner).runOn(w)
		} else if ex.now.Load() {
			w.tally.dropped++
		} else if j.ctx != background && j.ctx.Err() != nil {
			// Its ctx ended while it was queued: the earlier cancellation
			// wins, and the task never runs. (Err is an atomic load for
			// the context package's own types.) A ctx that ends just after
			// this check lets the task run with its ctx already done.
			w.tally.dropped++
		} else {
			gc = w.ctx
			if gc.escaped.Load() {
				gc = &goCtx{ex: ex} // the last task's ctx may still be watched
				w.ctx = gc
			}
			gc.start(j.ctx)
			err := j.fn(gc)
			c := gc
			gc = nil // past this point a panic is not the task's
			if err == nil {
				c.finish()
				w.tally.succeeded++
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
func (w *worker) goEnded(gc *goCtx, err error, returned bool) {
	st := task.Failed
	if returned && task.IsCancellation(gc, err) {
		st = task.Cancelled
	}
	gc.finish()
	w.tally.count(st)
	if st == task.Failed {
		w.ex.report(err)
	}
}

// flush publishes the worker's tally.
func (w *worker) flush() {
	c, t := &w.counters, &w.tally
	t.tasks = 0
	// taken first: Stats, which reads it after the outcomes, never sees
	// the outcome of a task whose submit it does not see.
	if c.taken.Load() != t.taken {
		c.taken.Store(t.taken)
	}
	if c.succeeded.Load() != t.succeeded {
		c.succeeded.Store(t.succeeded)
	}
	if c.failed.Load() != t.failed {
		c.failed.Store(t.failed)
	}
	if c.cancelled.Load() != t.cancelled {
		c.cancelled.Store(t.cancelled)
	}
	if c.dropped.Load() != t.dropped {
		c.dropped.Store(t.dropped)
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

// workerExited runs as each worker exits. The last worker marks the
// executor stopped and handles what was queued meanwhile.
func (ex *Executor) workerExited() {
	if ex.live.Add(-1) != 0 {
		return
	}
	defer close(ex.done)
	ex.stopped.Store(true)
	ex.drain()
}

// close stops accepting work and wakes the parked workers, which exit once
// the queue is empty.
func (ex *Executor) close() {
	ex.closeOnce.Do(func() {
		ex.closed.Store(true)
		close(ex.closing)
		ex.q.wakeAll()
	})
}

// admit checks a submit before anything is queued. The caller has checked
// ctx for nil.
func (ex *Executor) admit(ctx context.Context, nilFn bool) error {
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

// enqueue puts j on the queue, waiting for room until ctx ends or the
// executor shuts down. When the queue is full and ctx belongs to one of this
// executor's tasks, it returns inline = true without queueing: the caller
// must run the task itself, since waiting could deadlock.
func (ex *Executor) enqueue(ctx context.Context, j job) (inline bool, err error) {
	if ex.q.tryPut(j) {
		ex.afterSend()
		return false, nil
	}
	if ex.owns(ctx) {
		return true, nil
	}
	if err := ex.q.put(ctx, ex.closing, j); err != nil {
		return false, err
	}
	ex.afterSend()
	return false, nil
}

// afterSend runs after every put. A submit that passed the closed check
// before Shutdown but put its job after the last worker exited would leave
// it in a queue nobody reads; such a submitter sees stopped and drains the
// queue itself. The last worker sets stopped and then drains, so a job put
// before stopped was set is drained by that worker: nothing is left behind,
// and no submit pays more than an atomic load for it.
func (ex *Executor) afterSend() {
	if ex.stopped.Load() {
		ex.drain()
	}
}

// drain empties the queue and cancels what it takes. ShutdownNow calls it;
// so do the last worker and late submitters (see afterSend), once the
// workers have exited: what the queue holds then arrived too late to run.
// A put still copying its job in is waited for.
func (ex *Executor) drain() {
	why := errTooLate
	if ex.now.Load() {
		why = errShutdownNow
	}
	for {
		j, ok := ex.q.tryGet()
		if !ok {
			if ex.q.empty() {
				return
			}
			runtime.Gosched() // a put has its position and is copying its job in
			continue
		}
		ex.submitted.Add(1) // a queued task is counted by whoever takes it
		if j.fn != nil || j.ctx.(runner).abort(why) {
			ex.shared.dropped.Add(1)
		}
	}
}

// owns reports whether ctx is (or derives from) the ctx of one of ex's
// tasks.
func (ex *Executor) owns(ctx context.Context) bool {
	if task.OwnerOf(ctx) == ex {
		return true
	}
	c, _ := ctx.Value(goOwnerKey{}).(*goCtx)
	return c != nil && c.ex == ex
}

// runGo runs a Go task on the calling goroutine, off the workers (a task
// of ex that called Go with the queue full), under a ctx of its own, and
// records its outcome in the shared counters.
func (ex *Executor) runGo(parent context.Context, fn func(context.Context) error) {
	ex.inline.Add(1)
	gc := &goCtx{ex: ex}
	gc.start(parent)
	var err error
	returned := false
	defer func() {
		st := task.Succeeded
		switch {
		case !returned:
			err = safe.Recovered(recover())
			st = task.Failed
		case err == nil:
		case task.IsCancellation(gc, err):
			st = task.Cancelled
		default:
			st = task.Failed
		}
		gc.finish()
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
func (ex *Executor) report(err error) {
	if ex.onError == nil {
		slog.Default().Error("executor: task failed", "err", err)
		return
	}
	returned := false
	defer func() {
		if !returned {
			slog.Default().Error("executor: error handler panicked", "err", safe.Recovered(recover()), "task_err", err)
		}
	}()
	ex.onError(err)
	returned = true
}
