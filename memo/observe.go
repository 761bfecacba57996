package memo

import (
	"context"
	"time"

	"github.com/async-patterns/async/internal/task"
	"github.com/async-patterns/async/observe"
)

// WithName names the cache in the registry of live objects
// ([observe.Objects]), in its events and in package inspect's view. A
// cache has no name by default.
func WithName(name string) Option {
	return func(c *config) { c.name = name }
}

// WithObserver makes o the observer of this cache's events (hits, misses,
// coalesced waiters, stale serves, each load's end), instead of the
// process's default ([observe.SetDefault]). WithObserver panics if o is
// nil.
func WithObserver(o observe.Observer) Option {
	if o == nil {
		panic("memo: nil Observer passed to WithObserver")
	}
	return func(c *config) { c.obs = o }
}

// register enters c in the registry of live objects; it leaves at Close.
func (c *Cache[K, V]) register() {
	c.reg = observe.Register(c, "memo", c.cfg.name, 0, (*Cache[K, V]).gauges)
}

func (c *Cache[K, V]) gauges() observe.Gauges {
	c.mu.Lock()
	defer c.mu.Unlock()
	return observe.Gauges{Depth: len(c.entries), Capacity: c.cfg.maxEntries, Running: len(c.flights)}
}

// emit reports an event of kind k for a Get with ctx.
func (c *Cache[K, V]) emit(ctx context.Context, k observe.Kind) {
	if o := observe.Pick(c.cfg.obs); o != nil {
		observe.Emit(ctx, o, observe.Event{Kind: k, Source: "memo", Name: c.cfg.name, Object: c.reg.ID()})
	}
}

// loadStart returns the time a load starts when an observer is set, to
// time it; the zero time otherwise.
func (c *Cache[K, V]) loadStart() time.Time {
	if observe.Pick(c.cfg.obs) != nil {
		return time.Now()
	}
	return time.Time{}
}

// loadEnded classifies the end of fl's load, which started at start
// (zero: no observer was set then), and returns what reports it: called
// once the waiters are released, so that an observer never delays them.
func (c *Cache[K, V]) loadEnded(fl *flight[K, V], start time.Time, returned bool) func() {
	if start.IsZero() {
		return func() {}
	}
	out := observe.Panicked
	if returned {
		switch task.Classify(fl.ctx, fl.err, true) {
		case task.Succeeded:
			out = observe.OK
		case task.Cancelled:
			out = observe.Cancelled
		default:
			out = observe.Failed
		}
	}
	took := time.Since(start)
	return func() {
		if o := observe.Pick(c.cfg.obs); o != nil {
			observe.Emit(fl.ctx, o, observe.Event{
				Kind: observe.MemoLoad, Outcome: out, Source: "memo", Name: c.cfg.name, Object: c.reg.ID(),
				Err: fl.err, Duration: took,
			})
		}
	}
}
