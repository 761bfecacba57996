package gather

import (
	"context"
	"strconv"

	"github.com/async-patterns/async/internal/task"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/taskgroup"
)

// newGroup returns the group a gather call runs its functions in: it
// registers in the registry of live objects as kind "gather", named after
// the call ("All", "Map", ...), for the call's duration, and does not
// report its tasks, since watched reports each function.
func newGroup(ctx context.Context, call string, limit int) *taskgroup.Group {
	return task.NewQuietGroup(ctx, "gather", call, limit).(*taskgroup.Group)
}

// watched returns fn wrapped to report its end (a TaskEnd event from
// "gather") and its life (the task hook) when an observer or a hook is set,
// and fn itself otherwise. The task is named name[i] when ctx carries a
// name (observe.WithTaskName); its parent is the object or task ctx
// carries. id is the function to name the task after when fn wraps it
// (Map's), nil when fn is the caller's own.
func watched[T any](ctx context.Context, i int, id any, fn func(context.Context) (T, error)) func(context.Context) (T, error) {
	o, h := observe.Watching(nil)
	if o == nil && h == nil {
		return fn
	}
	name := observe.TaskName(ctx)
	if name != "" {
		name += "[" + strconv.Itoa(i) + "]"
	}
	return task.Watched(ctx, task.Watch{Obs: o, Hook: h, Source: "gather", Object: observe.ObjectFrom(ctx), Task: name, Func: id}, fn)
}

// watchedItem calls fn(ctx, item), watched as Map's i-th task when an
// observer or a hook is set.
func watchedItem[In, Out any](ctx context.Context, i int, fn func(context.Context, In) (Out, error), item In) (Out, error) {
	if o, h := observe.Watching(nil); o == nil && h == nil {
		return fn(ctx, item)
	}
	return watched(ctx, i, fn, func(ctx context.Context) (Out, error) { return fn(ctx, item) })(ctx)
}
