package executor

import (
	"context"

	"github.com/async-patterns/async/limit"
)

// WithLimiter admits every task of the executor through l (a limit.Rate,
// limit.Bulkhead, the adaptive limiter, or any limit.Limiter, one shared
// with other executors and groups, say).
//
// A task acquires its permit when a worker starts it, with the task's own
// ctx, and releases it when its function returns or panics, with
// limit.OutcomeOf its error (a panic: limit.Failure; it still comes back
// as a [*PanicError]). A refusal is the
// task's error and its function does not run: a future fails with the
// limiter's error (a *limit.RejectedError matching limit.ErrRejected), a
// task started with [Executor.Go] hands it to the error handler; either
// counts in [Stats].Failed. A task whose ctx ends while it waits for a
// permit is Cancelled with context.Cause(ctx).
//
// Why at the start and not at submit: a submit then stays as cheap and as
// non-blocking as before ([TrySubmit] cannot wait for a permit), and a
// task that never runs (cancelled in the queue, drained by ShutdownNow)
// never holds a permit, so none can be lost. The price is that a task
// waiting for a permit holds its worker: give the executor a limiter that
// answers at once or waits briefly (a Bulkhead with WithMaxWaiting(0), a
// Rate with WithMaxWait, the adaptive limiter's short queue). The latency
// the limiter measures is the task's run, not its time in the queue.
//
// Cost: without the option, one nil check per submit. With it, a task
// costs one more allocation (the wrapping closure) and the limiter's own
// Acquire and Release. l must not be nil: New panics otherwise.
func WithLimiter(l limit.Limiter) Option {
	if l == nil {
		panic("executor: WithLimiter(nil): limiter must not be nil")
	}
	return func(c *config) { c.limiter = l }
}

// limitGo wraps a Go task's fn so that it runs under a permit of l
// (limit.Do: a panic in fn comes back as the executor's own *PanicError
// type, as it would without a limiter). A nil l or fn is returned as is (a
// nil fn is refused by the submit).
func limitGo(l limit.Limiter, fn func(context.Context) error) func(context.Context) error {
	if l == nil || fn == nil {
		return fn
	}
	return func(ctx context.Context) error { return limit.Do(ctx, l, fn) }
}

// limitValue is limitGo for a future's fn (limit.DoValue).
func limitValue[T any](l limit.Limiter, fn func(context.Context) (T, error)) func(context.Context) (T, error) {
	if l == nil || fn == nil {
		return fn
	}
	return func(ctx context.Context) (T, error) { return limit.DoValue(ctx, l, fn) }
}

// limiterOf returns ex's limiter, or nil for a nil ex.
func limiterOf(ex *pool) limit.Limiter {
	if ex == nil {
		return nil
	}
	return ex.limiter
}
