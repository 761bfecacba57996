package gather

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/async-patterns/async/internal/safe"
)

// This file holds the calls that want one outcome: Race (the first to
// finish) and Any (the first success).

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
	g := newGroup(ctx, "Race", 0)
	for i, fn := range fns {
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
			v, e = watched(ctx, i, nil, fn)(ctx)
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
