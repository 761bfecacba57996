package gather

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/internal/task"
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
	g := newGroup(ctx, "All", 0)
	run := claimNext(func(ctx context.Context, i int) error {
		v, err := watched(ctx, i, nil, fns[i])(ctx)
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
		tasks[i] = startTask(&wg, ctx, watched(ctx, i, nil, fn))
	}
	for i, t := range tasks {
		if t != nil {
			res[i].Value, res[i].Err = t.Wait(context.Background())
		}
	}
	wg.Wait()
	return res
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
