package task

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/observe"
)

// Watch says how to report a task to package observe: the TaskEnd event
// for Obs, the task's life for Hook. taskgroup, gather and executor fill
// one in at each spawn, only when [observe.Watching] returned an observer
// or a hook; otherwise their tasks run unwrapped and cost nothing more.
type Watch struct {
	Obs    observe.Observer // nil: no TaskEnd event
	Hook   observe.TaskHook // nil: the task is not tracked
	Source string           // "taskgroup", "gather" or "executor"
	Name   string           // the name of the object running it
	Object observe.ID       // the object running it (for gather, the object or task of the call's ctx)
	Task   string           // the task's own name, "" if none
	Func   any              // the function to name the task after, when not the one wrapped
}

// NewQuietGroup is set by package taskgroup (which this package cannot
// import): it returns a *taskgroup.Group that registers as an object of
// the given kind and name and does not watch its tasks. gather runs its
// functions in such groups and watches each function itself, so that a
// task is reported once, as gather's, named after the caller's function.
var NewQuietGroup func(ctx context.Context, kind, name string, limit int) any

// Watched returns fn wrapped so that its end is reported to w.Obs and its
// life to w.Hook (queued now, on the spawner's goroutine with spawnCtx;
// started and ended on the goroutine that runs it). A panic (or Goexit) in
// fn is reported as [observe.Panicked] and then goes on unwinding, as the
// same *PanicError, to the recovery of the package that runs the task.
func Watched[T any](spawnCtx context.Context, w Watch, fn func(context.Context) (T, error)) func(context.Context) (T, error) {
	wt := newWatcher(spawnCtx, w, fn)
	return func(ctx context.Context) (v T, err error) {
		run, start := wt.start(ctx)
		returned := false
		defer func() {
			if !returned {
				wt.panicked(ctx, start, recover())
				return
			}
			wt.returned(ctx, start, err)
		}()
		v, err = fn(run)
		returned = true
		return v, err
	}
}

// WatchedErr is [Watched] for a function that returns only an error.
func WatchedErr(spawnCtx context.Context, w Watch, fn func(context.Context) error) func(context.Context) error {
	wt := newWatcher(spawnCtx, w, fn)
	return func(ctx context.Context) (err error) {
		run, start := wt.start(ctx)
		returned := false
		defer func() {
			if !returned {
				wt.panicked(ctx, start, recover())
				return
			}
			wt.returned(ctx, start, err)
		}()
		err = fn(run)
		returned = true
		return err
	}
}

// watcher is the state of one watched task.
type watcher struct {
	w  Watch
	id observe.ID  // the task's ID while tracked
	st *trackState // nil: not tracked
}

// trackState is what a tracked task's cleanup needs: kept apart from the
// watcher, which the cleanup watches.
type trackState struct {
	tr    observe.TaskTracker
	ended atomic.Bool
}

func newWatcher(spawnCtx context.Context, w Watch, fn any) *watcher {
	wt := &watcher{w: w}
	if w.Hook == nil {
		return wt
	}
	if w.Func != nil {
		fn = w.Func
	}
	id := observe.NewTaskID()
	var tr observe.TaskTracker
	safely(func() {
		tr = w.Hook.TaskQueued(spawnCtx, observe.TaskInfo{
			ID: id, Parent: w.Object, Source: w.Source, Name: w.Task, Func: observe.FuncPC(fn),
		})
	})
	if tr != nil {
		wt.id, wt.st = id, &trackState{tr: tr}
		// A task that never runs (cancelled while queued) ends when its
		// function is collected.
		runtime.AddCleanup(wt, (*trackState).neverRan, wt.st)
	}
	return wt
}

// start runs on the task's goroutine before fn: it returns the ctx fn gets
// (carrying the task's ID while tracked, so that objects made in the task
// name it as their parent) and the start time (zero without an observer).
func (wt *watcher) start(ctx context.Context) (context.Context, time.Time) {
	if wt.st != nil {
		ctx = observe.WithObject(ctx, wt.id)
		run := ctx
		safely(func() { wt.st.tr.TaskStarted(run) })
	}
	var t time.Time
	if wt.w.Obs != nil {
		t = time.Now()
	}
	return ctx, t
}

// returned reports the end of fn, which returned err.
func (wt *watcher) returned(ctx context.Context, start time.Time, err error) {
	o := observe.OK
	switch Classify(ctx, err, true) {
	case Failed:
		o = observe.Failed
	case Cancelled:
		o = observe.Cancelled
	}
	wt.report(ctx, start, o, err)
}

// panicked reports the end of fn, which panicked with r (nil: it called
// runtime.Goexit), and lets the panic go on as the *PanicError it reported.
// (recover must be called by the deferred function itself: it is passed
// in.)
func (wt *watcher) panicked(ctx context.Context, start time.Time, r any) {
	pe := safe.Recovered(r)
	wt.report(ctx, start, observe.Panicked, pe)
	if r != nil { // nil: runtime.Goexit, which goes on by itself
		panic(safe.Rethrow(pe))
	}
}

func (wt *watcher) report(ctx context.Context, start time.Time, o observe.Outcome, err error) {
	if wt.st != nil && !wt.st.ended.Swap(true) {
		safely(func() { wt.st.tr.TaskEnded(o, err) })
	}
	if wt.w.Obs == nil {
		return
	}
	e := observe.Event{
		Kind: observe.TaskEnd, Outcome: o, Source: wt.w.Source, Name: wt.w.Name,
		Object: wt.w.Object, Task: wt.w.Task, Duration: time.Since(start),
	}
	if o != observe.OK {
		e.Err = err
	}
	observe.Emit(ctx, wt.w.Obs, e)
}

func (s *trackState) neverRan() {
	if !s.ended.Swap(true) {
		safely(func() { s.tr.TaskEnded(observe.Cancelled, nil) })
	}
}

// safely calls f, recovering a panic: a hook's bug must not break a task.
func safely(f func()) {
	defer func() { _ = recover() }()
	f()
}
