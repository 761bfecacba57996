package gather

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/internal/task"
	"github.com/async-patterns/async/taskgroup"
)

// PanicError is the error a function's panic (or runtime.Goexit) becomes:
// Value is what was passed to panic, Stack the goroutine's stack. It is the
// same type in every package of this module, so errors.As with
// *gather.PanicError or *taskgroup.PanicError matches the same value.
type PanicError = safe.PanicError

// Result is the outcome of one function: its value and its error.
type Result[T any] struct {
	Value T
	Err   error
}

// ErrEmpty is returned at once by [Race] and [Any] called with no functions:
// there is no outcome to wait for.
var ErrEmpty = errors.New("gather: no functions to wait for")

// ErrNilFunc is matched (with errors.Is) by the error that reports a nil
// function. The error itself names the argument: "gather: fns[2] is nil".
var ErrNilFunc = errors.New("gather: nil function")

// All runs every function concurrently and returns their values in input
// order, whatever order they finish in. Each function receives a ctx
// derived from ctx.
//
// The first function to fail cancels the ctx of the others, with its error
// as the cause (context.Cause), and a function not yet called by then is
// never called. All waits for every function to return, then
// returns a nil slice and the failures joined, the first first, as
// taskgroup.Group.Wait does: errors that functions return because All
// cancelled them (context.Canceled, or the cause) are not failures and are
// left out, so errors.Is(err, firstFailure) holds. A panic is a failure,
// returned as a [*PanicError]. If ctx ends and no function failed, All
// returns context.Cause(ctx); if ctx has already ended, no function starts.
//
// With no functions All returns an empty slice and nil. A nil function makes
// All return an error naming its index before anything starts. All panics if
// ctx is nil.
//
// Cost: one goroutine and one allocation per function, as with go
// statements and a sync.WaitGroup, plus five allocations per call.
func All[T any](ctx context.Context, fns ...func(context.Context) (T, error)) ([]T, error) {
	checkCtx(ctx, "All")
	if err := checkFns(fns); err != nil {
		return nil, err
	}
	out := make([]T, len(fns))
	if len(fns) == 0 {
		return out, nil
	}
	g := taskgroup.New(ctx)
	run := claimNext(func(ctx context.Context, i int) error {
		v, err := fns[i](ctx)
		out[i] = v
		return err
	})
	for range fns {
		g.Go(run)
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// Settled runs every function concurrently and returns exactly one [Result]
// per function, in input order: asyncio.gather with return_exceptions=True,
// or Promise.allSettled. A failure or a panic (as a [*PanicError]) lands in
// its function's Result and cancels nothing: each function gets its own ctx
// derived from ctx, which ends only when ctx does.
//
// Settled returns after every function has returned. A nil function's
// Result carries an error naming its index; the others run. If ctx has
// already ended, no function starts and every Result carries
// context.Cause(ctx). With no functions Settled returns an empty slice.
// Settled panics if ctx is nil.
func Settled[T any](ctx context.Context, fns ...func(context.Context) (T, error)) []Result[T] {
	checkCtx(ctx, "Settled")
	res := make([]Result[T], len(fns))
	if ctx.Err() != nil {
		cause := context.Cause(ctx)
		for i, fn := range fns {
			res[i].Err = cause
			if fn == nil {
				res[i].Err = nilFuncError(i)
			}
		}
		return res
	}
	var wg sync.WaitGroup
	tasks := make([]*task.Handle[T], len(fns))
	for i, fn := range fns {
		if fn == nil {
			res[i].Err = nilFuncError(i)
			continue
		}
		tasks[i] = startTask(&wg, ctx, fn)
	}
	for i, t := range tasks {
		if t != nil {
			res[i].Value, res[i].Err = t.Wait(context.Background())
		}
	}
	wg.Wait()
	return res
}

// Race runs every function concurrently and returns the outcome of the first
// one to finish, success or failure (Promise.race): if the first finisher
// failed, Race returns its error. The others are then cancelled (their ctx
// ends with context.Canceled) and Race waits for them to return; their
// outcomes, failures and panics included, are discarded, since the caller
// asked for one outcome ([Settled] reports every one).
//
// A panic in the first finisher is its outcome, as a [*PanicError]. If ctx
// ends first, the functions see it and the first to return wins as usual,
// but an error it returns then also matches context.Cause(ctx) (with
// errors.Is); if ctx has already ended, no function starts and Race returns
// context.Cause(ctx). With no functions Race returns [ErrEmpty] at once; a
// nil function makes it return an error naming its index before anything
// starts. Race panics if ctx is nil.
func Race[T any](ctx context.Context, fns ...func(context.Context) (T, error)) (T, error) {
	checkCtx(ctx, "Race")
	var (
		zero  T
		won   atomic.Bool
		value T
		err   error
	)
	if len(fns) == 0 {
		return zero, ErrEmpty
	}
	if err := checkFns(fns); err != nil {
		return zero, err
	}
	g := taskgroup.New(ctx)
	for _, fn := range fns {
		g.Go(func(ctx context.Context) error {
			var (
				v        T
				e        error
				returned bool
			)
			// The outcome is claimed in a deferred call so that a panic or
			// a runtime.Goexit can win the race too.
			defer func() {
				if !returned {
					e = safe.Recovered(recover())
				}
				if won.CompareAndSwap(false, true) {
					value, err = v, e
					g.Cancel()
				}
			}()
			v, e = fn(ctx)
			returned = true
			return nil
		})
	}
	gerr := g.Wait() // only a Goexit's failure or ctx's cause; the winner's outcome is in value, err
	if !won.Load() {
		return zero, gerr
	}
	return value, withCause(ctx, err)
}

// Any runs every function concurrently and returns the value of the first
// one to succeed (Promise.any). The others are then cancelled (their ctx
// ends with context.Canceled) and Any waits for them to return; their
// outcomes, failures and panics included, are discarded.
//
// A failure does not cancel the others. When every function fails, Any
// returns the zero value and errors.Join of every failure in input order
// (a panic as a [*PanicError]), so errors.Is matches each of them; when ctx
// ended before any success, that error matches context.Cause(ctx) too. If
// ctx has already ended, no function starts and Any returns
// context.Cause(ctx).
// With no functions Any returns [ErrEmpty] at once; a nil function makes it
// return an error naming its index before anything starts. Any panics if ctx
// is nil.
func Any[T any](ctx context.Context, fns ...func(context.Context) (T, error)) (T, error) {
	checkCtx(ctx, "Any")
	var zero T
	if len(fns) == 0 {
		return zero, ErrEmpty
	}
	if err := checkFns(fns); err != nil {
		return zero, err
	}
	if ctx.Err() != nil {
		return zero, context.Cause(ctx)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	tasks, done := startAll(&wg, ctx, fns)
	var (
		errs  = make([]error, len(fns))
		value T
		won   bool
	)
	for range fns {
		i := <-done
		v, err := tasks[i].Wait(context.Background())
		if err != nil {
			errs[i] = err
			continue
		}
		value, won = v, true
		break
	}
	if !won {
		return zero, withCause(ctx, errors.Join(errs...))
	}
	// A task cancelled before its function started resolves at once and
	// never sends on done, so the losers are awaited through their handles.
	for _, t := range tasks {
		t.Cancel(context.Canceled)
	}
	return value, nil // the deferred wg.Wait awaits every goroutine
}

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

// claimNext returns the one function that All and Map hand to every Go of
// their group: each call claims the next index, 0, 1, 2..., and calls do
// with it, unless the group's ctx has already ended.
//
// Why one function for every goroutine rather than a closure per index:
// it saves an allocation per item. Since the group starts one goroutine
// per Go call, each index is claimed exactly once, in the order the
// goroutines start. A goroutine that starts after a failure (or ctx's end)
// does not call do: after a failure no new call starts, and the group
// counts the ctx's error it returns as a cancellation, not a failure.
func claimNext(do func(ctx context.Context, i int) error) func(context.Context) error {
	var next atomic.Int64
	return func(ctx context.Context) error {
		i := int(next.Add(1) - 1)
		if err := ctx.Err(); err != nil {
			return err
		}
		return do(ctx, i)
	}
}

// withCause makes an error returned after ctx ended match ctx's cause, as
// every call of this module does (rule 1), while still matching what the
// functions returned: the functions usually return context.Canceled, which
// says nothing of a custom cause.
func withCause(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	cause := context.Cause(ctx)
	if errors.Is(err, cause) {
		return err
	}
	return fmt.Errorf("%w: %w", cause, err)
}

// checkCtx panics, naming the function the caller called, if ctx is nil,
// before anything else (the taskgroup underneath would name itself).
func checkCtx(ctx context.Context, call string) {
	if ctx == nil {
		panic("gather: nil ctx passed to " + call)
	}
}

// checkFns reports the first nil function.
func checkFns[T any](fns []func(context.Context) (T, error)) error {
	for i, fn := range fns {
		if fn == nil {
			return nilFuncError(i)
		}
	}
	return nil
}

// nilFuncError reports the nil function at its index in fns.
type nilFuncError int

func (e nilFuncError) Error() string { return "gather: fns[" + strconv.Itoa(int(e)) + "] is nil" }

func (e nilFuncError) Is(target error) bool { return target == ErrNilFunc }
