// Package executor provides a fixed pool of worker goroutines for CPU-bound
// work, with a bounded queue for backpressure and typed futures: Go's answer
// to asyncio's loop.run_in_executor with a ProcessPoolExecutor.
//
// The contract:
//
//   - [New] starts the workers; [Executor.Shutdown] (graceful: queued work
//     still runs) or [Executor.ShutdownNow] (queued work is cancelled,
//     running tasks see their ctx end) stops them. The caller must call one
//     of them: the workers otherwise wait for work until the executor is
//     garbage collected, whenever that is (see [Executor]).
//   - [Submit] returns a [*Future] (the same handle as taskgroup.Task, so
//     f.Wait plugs into gather.All). It blocks while the queue is full, until
//     there is room or its ctx ends; [TrySubmit] never blocks.
//   - [Executor.Go] is the cheap fire-and-forget path: no future and no
//     allocation per task. Its errors and panics go to [WithErrorHandler], or
//     to the observer (package observe), or with none set to log/slog's
//     default logger; they are never dropped silently.
//   - [Map] runs a function over a slice in chunks and keeps input order.
//   - An earlier cancellation wins: a queued task whose ctx ends before a
//     worker takes it never runs (a future resolves [Cancelled] with the
//     ctx's cause; a Go task counts as cancelled). Only a ctx that ends at
//     the very moment a worker takes the task may lose that race.
//   - Every future resolves: completed, failed, cancelled or rejected, and
//     [Executor.Stats] accounts for each of them.
//   - A panic or runtime.Goexit in a task becomes a [*PanicError]; the worker
//     goes on.
//   - A task that submits to its own executor never deadlocks, even with the
//     queue full: the submitting task then runs the new one itself.
//
// A minimal use:
//
//	ex := executor.New()
//	defer ex.Shutdown(context.Background())
//	f := executor.Submit(ctx, ex, func(ctx context.Context) (int, error) {
//		return crunch(ctx, data), nil
//	})
//	n, err := f.Wait(ctx)
package executor
