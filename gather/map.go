package gather

import (
	"context"
	"errors"
	"strconv"
)

// Option configures a call that takes options ([Map]). Options are checked
// when the call starts: a bad one makes the call return an error naming it
// before anything runs; a nil one makes it panic.
type Option func(*config)

type config struct {
	limit int // 0: no limit; below 0: a bad WithLimit, reported by the call
	err   error
}

// WithLimit bounds the number of functions running at once to n: a new one
// starts only when a running one has returned. n must be at least 1; [Map]
// returns an error naming the option otherwise. Without it there is no
// limit.
func WithLimit(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.err = errors.New("gather: WithLimit(" + strconv.Itoa(n) + "): limit must be at least 1 (omit the option for no limit)")
			return
		}
		c.limit = n
	}
}

// Map calls fn concurrently on every item and returns the outputs in input
// order: out[i] is fn's value for items[i].
//
// With [WithLimit](n) no more than n calls run at once, ever; Map starts the
// calls in input order as slots free up, blocking until then. The first
// call to fail cancels the ctx of the others with its error as the cause,
// and no new call starts after it. Map waits for every started call to
// return, then returns a nil slice and the failures, as [All] does
// (cancellation echoes left out, so errors.Is(err, firstFailure) holds; a
// panic is a [*PanicError]). If ctx ends, no new call starts and Map returns
// context.Cause(ctx) unless a call failed.
//
// With no items Map returns an empty slice and nil. A nil fn (matching
// [ErrNilFunc]) or a limit below 1 makes Map return an error naming it
// before anything starts. A nil ctx or a nil Option makes Map panic.
func Map[In, Out any](ctx context.Context, items []In, fn func(context.Context, In) (Out, error), opts ...Option) ([]Out, error) {
	checkCtx(ctx, "Map")
	for i, o := range opts {
		if o == nil {
			panic("gather: nil Option passed to Map (opts[" + strconv.Itoa(i) + "])")
		}
	}
	if fn == nil {
		return nil, mapNilFuncError{}
	}
	var c config
	for _, o := range opts {
		o(&c)
		if c.err != nil {
			return nil, c.err
		}
	}
	out := make([]Out, len(items))
	if len(items) == 0 {
		return out, nil
	}
	g := newGroup(ctx, "Map", c.limit)
	// The items start in input order, each goroutine claiming the next.
	run := claimNext(func(ctx context.Context, i int) error {
		v, err := watchedItem(ctx, i, fn, items[i])
		out[i] = v
		return err
	})
	for range items {
		if g.Context().Err() != nil {
			break // Go would start nothing more
		}
		g.Go(run)
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// mapNilFuncError reports Map's nil fn.
type mapNilFuncError struct{}

func (mapNilFuncError) Error() string { return "gather: fn is nil" }

func (mapNilFuncError) Is(target error) bool { return target == ErrNilFunc }
