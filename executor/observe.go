package executor

import (
	"context"
	"errors"

	"github.com/async-patterns/async/internal/task"
	"github.com/async-patterns/async/observe"
)

// WithName names the executor in the registry of live objects
// ([observe.Objects]), in its events and in package inspect's view. An
// executor has no name by default.
func WithName(name string) Option {
	return func(c *config) { c.name = name }
}

// WithObserver makes o the observer of this executor's events (each task's
// end with its outcome and duration, refused submits), instead of the
// process's default ([observe.SetDefault]). WithObserver panics if o is nil.
func WithObserver(o observe.Observer) Option {
	if o == nil {
		panic("executor: nil Observer passed to WithObserver")
	}
	return func(c *config) { c.obs = o }
}

// register enters ex in the registry of live objects. It is the pool that
// registers, not the handle, so that a shut down executor still shows
// while its workers finish what was queued. It leaves when the last worker
// exits, or, abandoned, as soon as its handle is collected without a
// Shutdown (pool.abandoned): how debug mode hears of it. An abandoned
// executor's workers go on with what was queued unlisted; their tracked
// tasks show as roots.
func (ex *pool) register(c config) {
	ex.obs, ex.name, ex.queueSize = c.obs, c.name, c.queue
	ex.reg = observe.Register(ex, "executor", c.name, 0, (*pool).gauges)
}

func (ex *pool) gauges() observe.Gauges {
	s := ex.stats()
	return observe.Gauges{Running: s.Running, Queued: s.Queued, Limit: len(ex.workers), Capacity: ex.queueSize}
}

// watchGo wraps a Go task's fn to report its end and life when an observer
// or a task hook is set; otherwise (and for a nil fn, which the submit
// refuses) it returns fn. The task's name comes from ctx
// (observe.WithTaskName).
// Go calls it only when ex.watching(), checked inline.
func (ex *pool) watchGo(ctx context.Context, fn func(context.Context) error) func(context.Context) error {
	if o, h := observe.Watching(ex.obs); (o != nil || h != nil) && fn != nil && ctx != nil {
		return task.WatchedErr(ctx, ex.watch(ctx, o, h), fn)
	}
	return fn
}

// watching reports whether ex has an observer, or the process an observer
// or a task hook: a nil check and one atomic load.
func (ex *pool) watching() bool { return ex.obs != nil || observe.Active() }

// watchValue is watchGo for a future's fn; ex may be nil.
func watchValue[T any](ctx context.Context, ex *pool, fn func(context.Context) (T, error)) func(context.Context) (T, error) {
	if ex == nil || fn == nil || ctx == nil {
		return fn
	}
	if o, h := observe.Watching(ex.obs); o != nil || h != nil {
		return task.Watched(ctx, ex.watch(ctx, o, h), fn)
	}
	return fn
}

func (ex *pool) watch(ctx context.Context, o observe.Observer, h observe.TaskHook) task.Watch {
	return task.Watch{Obs: o, Hook: h, Source: "executor", Name: ex.name, Object: ex.reg.ID(), Task: observe.TaskName(ctx)}
}

// emit reports an event of ex with outcome o and error err: a refused
// submit (Rejected), a queued Go task skipped (Cancelled).
func (ex *pool) emit(o observe.Outcome, err error) {
	if obs := observe.Pick(ex.obs); obs != nil {
		observe.Emit(context.Background(), obs, observe.Event{
			Kind: observe.TaskEnd, Outcome: o, Source: "executor", Name: ex.name, Object: ex.reg.ID(), Err: err,
		})
	}
}

// reportUnhandled reports the failure of a Go task when there is no error
// handler: to the observer, or, with none set, to log/slog's default
// logger (observe.Fallback), so that it is never lost silently. With an
// observer set, the task was watched and its end is already reported.
func (ex *pool) reportUnhandled(err error) {
	if observe.Pick(ex.obs) != nil {
		return
	}
	observe.Emit(context.Background(), observe.Fallback(nil), ex.failure(err, ""))
}

// reportHandlerPanic reports a panic in the error handler itself.
func (ex *pool) reportHandlerPanic(pe *PanicError, taskErr error) {
	e := ex.failure(pe, "error handler")
	e.Err = errors.Join(pe, taskErr)
	observe.Emit(context.Background(), observe.Fallback(ex.obs), e)
}

func (ex *pool) failure(err error, taskName string) observe.Event {
	o := observe.Failed
	if _, ok := errors.AsType[*PanicError](err); ok {
		o = observe.Panicked
	}
	return observe.Event{Kind: observe.TaskEnd, Outcome: o, Source: "executor", Name: ex.name, Object: ex.reg.ID(), Task: taskName, Err: err}
}
