package observe

import (
	"context"
	"reflect"
	"runtime"
)

// TaskHook is told of every task that taskgroup, gather and executor run
// while it is installed ([SetTaskHook]): the low-level tracking that
// package inspect builds its task list on. It is off by default; then each
// spawn costs one atomic load for it (the same one that finds the default
// observer).
//
// TaskQueued is called on the goroutine that spawns the task, as it is
// handed to the group, executor or gather call (a taskgroup task once it
// has its slot; an executor task before its submit is accepted), and
// returns the tracker of that one task (nil: do not track it). It must not
// block.
type TaskHook interface {
	TaskQueued(ctx context.Context, t TaskInfo) TaskTracker
}

// TaskTracker follows one task. TaskStarted is called on the task's
// goroutine just before its function runs, with the ctx the function gets;
// TaskEnded on the same goroutine just after it returns (or panics), with
// its outcome ([OK], [Failed], [Panicked] or [Cancelled]) and error. A task
// that never runs (its submit refused, or cancelled, or its executor shut
// down, while it waited) gets TaskEnded with [Cancelled] and no
// TaskStarted when its function is collected, on a cleanup goroutine. Each
// method is called at most once; a panic in either is recovered and
// ignored.
type TaskTracker interface {
	TaskStarted(ctx context.Context)
	TaskEnded(o Outcome, err error)
}

// TaskInfo describes a task as it is queued.
type TaskInfo struct {
	ID     ID      // the task's own ID; objects made with its ctx name it as their Parent
	Parent ID      // the group or executor that runs it; for gather, the object or task of the call's ctx
	Source string  // "taskgroup", "gather" or "executor"
	Name   string  // the name given at spawn ([WithTaskName], taskgroup.GoNamed), else ""
	Func   uintptr // the entry PC of the task's function: [FuncName] turns it into a symbol, when someone asks
}

// SetTaskHook installs h as the process's task hook; nil turns tracking
// off. It takes effect for tasks spawned after it returns.
func SetTaskHook(h TaskHook) {
	update(func(g *global) { g.hook = h })
}

// Watching returns, with one atomic load, the observer for an instance
// (own if not nil, else the default) and the task hook. A primitive that
// runs tasks calls it at each spawn; when both are nil the task runs as if
// observe did not exist.
func Watching(own Observer) (Observer, TaskHook) {
	g := cur.Load()
	if g == nil {
		return own, nil
	}
	if own == nil {
		return g.obs, g.hook
	}
	return own, g.hook
}

func hookOf() TaskHook {
	if g := cur.Load(); g != nil {
		return g.hook
	}
	return nil
}

// NewTaskID returns a fresh [ID] for a task, from the same space as the
// objects'.
func NewTaskID() ID { return nextID() }

type taskNameKey struct{}

// WithTaskName returns a ctx derived from ctx that names the tasks spawned
// with it, as asyncio's create_task(name=...) does: executor.Go and
// Submit and taskgroup.Start name their task name; a gather call names its
// functions name[0], name[1], and so on. The name shows in [TaskInfo] (package inspect) and in
// TaskEnd events. It allocates one context.
func WithTaskName(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, taskNameKey{}, name)
}

// TaskName returns the name ctx carries ([WithTaskName]), or "".
func TaskName(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	s, _ := ctx.Value(taskNameKey{}).(string)
	return s
}

// FuncPC returns the entry PC of the function fn (a func value), for
// [TaskInfo].Func; 0 if fn is not a non-nil function.
func FuncPC(fn any) uintptr {
	v := reflect.ValueOf(fn)
	if v.Kind() != reflect.Func || v.IsNil() {
		return 0
	}
	return v.Pointer()
}

// FuncName returns the symbol of the function whose entry PC is pc
// ("main.fetch.func1"), or "" when it is unknown.
func FuncName(pc uintptr) string {
	if pc == 0 {
		return ""
	}
	f := runtime.FuncForPC(pc)
	if f == nil {
		return ""
	}
	return f.Name()
}
