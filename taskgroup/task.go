package taskgroup

import (
	"context"

	"github.com/async-patterns/async/internal/task"
	"github.com/async-patterns/async/observe"
)

// State is where a [Task] is in its life: [Pending], [Running], then
// exactly one of [Succeeded], [Failed] or [Cancelled].
type State = task.State

// The states of a Task.
const (
	Pending   = task.Pending   // created, its function not started yet
	Running   = task.Running   // its function is running
	Succeeded = task.Succeeded // its function returned a nil error
	Failed    = task.Failed    // its function returned an error of its own, or panicked
	Cancelled = task.Cancelled // cancelled before it started, or it returned its own cancellation
)

// Task is a handle on a function running on its own goroutine, with a typed
// result: asyncio's Task. Get one from [Spawn] (owned by a group) or [Start]
// (owned by the caller).
//
// Its methods are safe for concurrent use. Its function's ctx is its own,
// derived from the group's (or Start's) ctx, so [Task.Cancel] stops this
// task alone. A task whose function returns the error its cancellation
// caused (context.Canceled, the ctx's Err or its cause) ends [Cancelled];
// any other error, or a panic, ends it [Failed].
//
// Cost: one allocation for the handle and its ctx; a ctx that nobody selects
// on never makes a channel.
type Task[T any] struct {
	h task.Handle[T]
}

// Spawn runs fn on a new goroutine in g, as [Group.Go] does, and returns a
// handle on its result. The task's outcome counts in the group like any
// other: its failure cancels the group and is returned by Wait; its own
// cancellation (by [Task.Cancel]) is not a failure.
//
// At the limit Spawn blocks like Go. When the group's ctx has already ended
// (or ends while Spawn waits for a slot), fn never runs and the returned task
// is Cancelled with the group's cause. Spawn panics if fn is nil or Wait has
// returned.
func Spawn[T any](g *Group, fn func(ctx context.Context) (T, error)) *Task[T] {
	g.check(fn == nil, "Spawn")
	return spawn(g, "", fn)
}

// spawn is Spawn past its checks; name is the task's, "" for none.
func spawn[T any](g *Group, name string, fn func(ctx context.Context) (T, error)) *Task[T] {
	fn = limitedValue(g, fn)
	t := &Task[T]{}
	if !g.acquire(true) {
		t.h.Init(g.ctx, nil, fn)
		t.h.Reject(Cancelled, context.Cause(g.ctx))
		return t
	}
	t.h.Init(g.ctx, nil, watchValue(g, name, fn))
	g.wg.Add(1)
	g.active.Add(1)
	go g.runTask(t)
	return t
}

func (g *Group) runTask(t interface {
	run()
	failure() error
}) {
	defer func() {
		if err := t.failure(); err != nil {
			g.fail(err)
		}
		g.release()
	}()
	t.run()
}

// Start runs fn on a new goroutine with a ctx derived from ctx and returns a
// handle on its result, like asyncio.create_task. The caller owns the task:
// it is in no group, and its goroutine ends when fn returns. Cancel it with
// [Task.Cancel]; ctx ending cancels it too. A name ctx carries
// (observe.WithTaskName) names the task. Start panics if ctx or fn is nil.
func Start[T any](ctx context.Context, fn func(ctx context.Context) (T, error)) *Task[T] {
	if ctx == nil {
		panic("taskgroup: nil ctx passed to Start")
	}
	if fn == nil {
		panic("taskgroup: Start called with a nil fn")
	}
	if o, h := observe.Watching(nil); o != nil || h != nil {
		fn = task.Watched(ctx, task.Watch{Obs: o, Hook: h, Source: "taskgroup", Object: observe.ObjectFrom(ctx), Task: observe.TaskName(ctx)}, fn)
	}
	t := &Task[T]{}
	t.h.Init(ctx, nil, fn)
	go t.run()
	return t
}

// Wait blocks until the task has finished or ctx ends. When the task has
// finished it returns the function's value and error (a panic as a
// [*PanicError]; a task cancelled before it started returns the zero value
// and the cancellation's cause). When ctx ends first it returns the zero
// value and context.Cause(ctx) and leaves the task untouched: ctx bounds only
// the waiting. Wait may be called any number of times, from any goroutine.
//
// Wait's signature is that of a gather function, so t.Wait plugs straight
// into gather.All. Wait panics if ctx is nil.
func (t *Task[T]) Wait(ctx context.Context) (T, error) {
	if ctx == nil {
		panic("taskgroup: nil ctx passed to Wait")
	}
	return t.h.Wait(ctx)
}

// Done returns a channel that is closed when the task has finished.
func (t *Task[T]) Done() <-chan struct{} { return t.h.Done() }

// Cancel cancels this task alone: its ctx ends with context.Canceled. It
// does not wait; the task finishes when its function returns. A task that
// ends with its own cancellation is Cancelled, not a failure of its group.
// Cancel on a finished task does nothing.
func (t *Task[T]) Cancel() { t.h.Cancel(context.Canceled) }

// State returns the task's current state.
func (t *Task[T]) State() State { return t.h.State() }

func (t *Task[T]) run() {
	if t.h.Start() {
		t.h.Run()
	}
}

// failure returns the task's error if it Failed, for its group to record.
func (t *Task[T]) failure() error {
	if t.h.State() == Failed {
		return t.h.Err()
	}
	return nil
}
