package taskgroup

import (
	"context"

	"github.com/async-patterns/async/limit"
)

// WithLimiter admits every task of the group through l (a limit.Rate,
// limit.Bulkhead, the adaptive limiter, or any limit.Limiter, one shared
// with other groups and executors, say).
//
// A task acquires its permit when it starts, on its own goroutine, with its
// own ctx, and releases it when its function returns or panics, with
// limit.OutcomeOf its error (a panic: limit.Failure; it still comes back as
// a [*PanicError]). A refusal is the task's error and its function does not
// run: like any failure it cancels the group and is returned by Wait (match
// it with errors.Is(err, limit.ErrRejected)). A task whose ctx ends while it
// waits for a permit is cancelled, not failed.
//
// Go, TryGo and Spawn do not wait for the permit: what they bound is the
// group's own limit ([WithLimit]). With a limiter that queues, a group can
// have many goroutines waiting in it; give the group a limit too when that
// matters. Why not at Go: TryGo cannot wait, and a refusal at Go would have
// nowhere to go (Go returns nothing).
//
// Cost: without the option, one nil check per task. With it, a task costs
// one more allocation (the wrapping closure) and the limiter's own Acquire
// and Release. l must not be nil: New panics otherwise.
func WithLimiter(l limit.Limiter) Option {
	if l == nil {
		panic("taskgroup: WithLimiter(nil): limiter must not be nil")
	}
	return func(c *config) { c.limiter = l }
}

// limited wraps fn so that it runs under a permit of the group's limiter
// (limit.Do); without one, or for a nil fn, fn is returned as is.
func (g *Group) limited(fn func(context.Context) error) func(context.Context) error {
	l := g.limiter
	if l == nil || fn == nil {
		return fn
	}
	return func(ctx context.Context) error { return limit.Do(ctx, l, fn) }
}

// limitedValue is [Group.limited] for Spawn's fn (limit.DoValue).
func limitedValue[T any](g *Group, fn func(context.Context) (T, error)) func(context.Context) (T, error) {
	l := g.limiter
	if l == nil || fn == nil {
		return fn
	}
	return func(ctx context.Context) (T, error) { return limit.DoValue(ctx, l, fn) }
}
