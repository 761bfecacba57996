package taskgroup

import (
	"context"

	"github.com/async-patterns/async/internal/task"
	"github.com/async-patterns/async/observe"
)

// WithName names the group in the registry of live objects
// ([observe.Objects]), in its events and in package inspect's view. A
// group has no name by default.
func WithName(name string) Option {
	return func(c *config) { c.name = name }
}

// WithObserver makes o the observer of this group's events (each task's
// end, with its outcome and duration), instead of the process's default
// ([observe.SetDefault]). WithObserver panics if o is nil.
func WithObserver(o observe.Observer) Option {
	if o == nil {
		panic("taskgroup: nil Observer passed to WithObserver")
	}
	return func(c *config) { c.obs = o }
}

// GoNamed is [Group.Go] with a name for the task, as asyncio's
// create_task(name=...): the name shows in package inspect's task list and
// in the task's TaskEnd event. The name is recorded only while an observer
// or a task hook is set; otherwise GoNamed costs what Go costs.
func (g *Group) GoNamed(name string, fn func(ctx context.Context) error) {
	g.check(fn == nil, "GoNamed")
	fn = g.limited(fn)
	if !g.acquire(true) {
		return
	}
	g.start(g.watchErr(name, fn))
}

// SpawnNamed is [Spawn] with a name for the task (see [Group.GoNamed]).
func SpawnNamed[T any](g *Group, name string, fn func(ctx context.Context) (T, error)) *Task[T] {
	g.check(fn == nil, "SpawnNamed")
	return spawn(g, name, fn)
}

func init() {
	task.NewQuietGroup = func(ctx context.Context, kind, name string, limit int) any {
		g := &Group{}
		g.initOnce.Do(func() { g.init(ctx, config{limit: limit, kind: kind, name: name, quiet: true}) })
		return g
	}
}

// register enters g in the registry of live objects; it leaves at Wait.
// Its tasks' ctx names it as their parent.
func (g *Group) register(ctx context.Context, c config) context.Context {
	g.obs = c.obs
	g.name = c.name
	g.quiet = c.quiet
	kind := c.kind
	if kind == "" {
		kind = "taskgroup"
	}
	g.reg = observe.Register(g, kind, c.name, observe.ObjectFrom(ctx), (*Group).gauges)
	return observe.WithObject(ctx, g.reg.ID())
}

func (g *Group) gauges() observe.Gauges {
	return observe.Gauges{Running: int(g.active.Load()), Limit: cap(g.sem)}
}

// watchErr wraps fn to report its end and life when an observer or a task
// hook is set; otherwise it returns fn.
func (g *Group) watchErr(name string, fn func(context.Context) error) func(context.Context) error {
	if g.quiet {
		return fn
	}
	if o, h := observe.Watching(g.obs); o != nil || h != nil {
		return task.WatchedErr(g.ctx, g.watch(o, h, name), fn)
	}
	return fn
}

func watchValue[T any](g *Group, name string, fn func(context.Context) (T, error)) func(context.Context) (T, error) {
	if g.quiet {
		return fn
	}
	if o, h := observe.Watching(g.obs); o != nil || h != nil {
		return task.Watched(g.ctx, g.watch(o, h, name), fn)
	}
	return fn
}

func (g *Group) watch(o observe.Observer, h observe.TaskHook, name string) task.Watch {
	return task.Watch{Obs: o, Hook: h, Source: "taskgroup", Name: g.name, Object: g.reg.ID(), Task: name}
}
