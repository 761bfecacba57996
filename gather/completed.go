package gather

import (
	"context"
	"iter"
	"sync"

	"github.com/async-patterns/async/internal/task"
)

// This file holds AsCompleted, and the standalone tasks that it, Settled
// and Any run: one ctx per function, so that one failure cancels nothing.

// AsCompleted returns an iterator over the outcomes of fns in the order the
// functions finish (asyncio.as_completed): each step yields the function's
// index in fns and its [Result]. The functions start when the loop starts,
// each with its own ctx derived from ctx; a failure cancels nothing. Ranging
// over the iterator again runs the functions again.
//
// yield is called from the goroutine running the loop only. Breaking out of
// the loop (or a panic in its body) cancels the functions still running
// (their ctx ends with context.Canceled) and waits for them to return before
// the loop statement ends; their outcomes are discarded.
//
// A panic in a function is its Result's Err, as a [*PanicError]. A nil
// function's Result carries an error naming its index and is yielded first;
// the others run. If ctx has already ended when the loop starts, no
// function starts and each index is yielded, in input order, with
// context.Cause(ctx). AsCompleted panics if ctx is nil, when it is called
// rather than when the loop starts.
func AsCompleted[T any](ctx context.Context, fns ...func(context.Context) (T, error)) iter.Seq2[int, Result[T]] {
	checkCtx(ctx, "AsCompleted")
	return func(yield func(int, Result[T]) bool) {
		if ctx.Err() != nil {
			cause := context.Cause(ctx)
			for i, fn := range fns {
				r := Result[T]{Err: cause}
				if fn == nil {
					r.Err = nilFuncError(i)
				}
				if !yield(i, r) {
					return
				}
			}
			return
		}
		var wg sync.WaitGroup
		tasks, done := startAll(&wg, ctx, fns)
		left := len(fns)
		defer func() {
			defer wg.Wait()
			if left == 0 {
				return
			}
			// A task cancelled before its function started resolves at
			// once and never sends on done, so the rest are awaited
			// through their handles.
			for _, t := range tasks {
				if t != nil {
					t.Cancel(context.Canceled)
				}
			}
		}()
		for left > 0 {
			i := <-done
			left--
			var r Result[T]
			if t := tasks[i]; t != nil {
				r.Value, r.Err = t.Wait(context.Background())
			} else {
				r.Err = nilFuncError(i)
			}
			if !yield(i, r) {
				return
			}
		}
	}
}

// startAll starts every non-nil function as a standalone task with a ctx of
// its own derived from ctx, so that one function's failure (even a
// runtime.Goexit) cancels nothing else. Every goroutine it starts is counted
// in wg, which the caller waits on before it returns. It returns the tasks
// (nil for a nil function) and a channel that receives each index once, in
// the order the functions return; a nil function's index is sent before
// anything starts. Receiving an index means that function has returned; its
// task resolves a moment later, so the receiver reads the outcome with the
// task's Wait. A task cancelled before its function started never sends.
func startAll[T any](wg *sync.WaitGroup, ctx context.Context, fns []func(context.Context) (T, error)) ([]*task.Handle[T], chan int) {
	done := make(chan int, len(fns))
	for i, fn := range fns {
		if fn == nil {
			done <- i
		}
	}
	tasks := make([]*task.Handle[T], len(fns))
	for i, fn := range fns {
		if fn == nil {
			continue
		}
		fn := watched(ctx, i, nil, fn)
		tasks[i] = startTask(wg, ctx, func(ctx context.Context) (T, error) {
			defer func() { done <- i }() // runs on return, panic and Goexit alike
			return fn(ctx)
		})
	}
	return tasks, done
}

// startTask runs fn as a task (the handle behind taskgroup.Task) on a
// goroutine counted in wg. A task cancelled before its goroutine got to run
// resolves at once, and its goroutine then returns without calling fn.
func startTask[T any](wg *sync.WaitGroup, ctx context.Context, fn func(context.Context) (T, error)) *task.Handle[T] {
	h := new(task.Handle[T])
	h.Init(ctx, nil, fn)
	wg.Go(func() {
		if h.Start() {
			h.Run()
		}
	})
	return h
}
