package executor

import (
	"context"
	"errors"
	"runtime"
	"sync"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/internal/task"
)

// Map calls fn on every item on ex's workers and returns the outputs in
// input order: out[i] is fn's value for items[i], exactly what a sequential
// loop would give.
//
// The items are split into chunks of len(items)/(4*workers) (at least one
// item each), and each chunk is one task that calls fn on its items in
// order: tiny per-item work is not swamped by per-task overhead, and four
// chunks per worker even out uneven items. Submitting a chunk blocks while
// the queue is full, as [Submit] does.
//
// The first call to fail cancels the ctx of the others with its error as
// the cause, and no chunk goes on past it. Map waits for every chunk it
// submitted to end, then returns a nil slice and the failure (several are
// joined, the first first; cancellation echoes are left out, so
// errors.Is(err, firstFailure) holds; a panic is a [*PanicError]). If ctx ends, Map returns
// context.Cause(ctx) unless a call failed; if the executor shuts down before
// every item ran, an error matching [ErrClosed].
//
// With no items Map returns an empty slice and nil. A nil ex or fn makes Map
// return an error naming it (a nil fn's matches [ErrNilFunc]) before
// anything runs; a nil ctx makes it panic. Each chunk
// counts as one task in [Stats].
func Map[In, Out any](ctx context.Context, ex *Executor, items []In, fn func(ctx context.Context, item In) (Out, error)) ([]Out, error) {
	if ctx == nil {
		panic("executor: nil ctx passed to Map")
	}
	switch {
	case ex == nil:
		return nil, errors.New("executor: Map called with a nil *Executor")
	case fn == nil:
		return nil, errNilFn
	}
	out := make([]Out, len(items))
	if len(items) == 0 {
		return out, nil
	}
	size := max(1, len(items)/(4*len(ex.workers)))
	mctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	m := &mapRun{cancel: cancel}
	chunks := make([]*Future[struct{}], 0, (len(items)+size-1)/size)
	for lo := 0; lo < len(items) && mctx.Err() == nil; lo += size {
		hi := min(lo+size, len(items))
		part, dst := items[lo:hi], out[lo:hi]
		f := Submit(mctx, ex, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, mapChunk(ctx, m, part, dst, fn)
		})
		if f.State() == Failed && mctx.Err() == nil {
			// Rejected (the executor shut down): nothing more will run.
			m.fail(f.Err())
		}
		chunks = append(chunks, f)
	}
	// Wait for every chunk, whatever happens to ctx: no chunk outlives Map.
	// The ctx still carries mctx's values, so a Map called from one of ex's
	// tasks runs its own queued chunks rather than wait for a worker.
	wctx := context.WithoutCancel(mctx)
	for _, f := range chunks {
		f.Wait(wctx)
	}
	runtime.KeepAlive(ex) // the handle's collection would close the executor under Map
	if err := m.err(); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	for _, f := range chunks {
		if f.State() != Succeeded {
			// ShutdownNow cancelled a chunk, before or while it ran.
			return nil, errShutdownNow
		}
	}
	return out, nil
}

// mapRun is the shared state of one Map call.
type mapRun struct {
	cancel context.CancelCauseFunc
	mu     sync.Mutex // protects errs
	errs   []error    // failures in the order they happened
}

// mapChunk calls fn on each of part's items in order, writing dst. It
// records a failure (a panic included) and cancels the other chunks.
func mapChunk[In, Out any](ctx context.Context, m *mapRun, part []In, dst []Out, fn func(context.Context, In) (Out, error)) (err error) {
	returned := false
	defer func() {
		if !returned {
			err = safe.Recovered(recover())
			m.fail(err)
		}
	}()
	for i := range part {
		if ctx.Err() != nil {
			// Cancelled (another chunk failed, ctx ended, or ShutdownNow)
			// before every item ran: the chunk must not pass for a
			// success, or Map could return outputs that were never made.
			err = ctx.Err()
			break
		}
		var v Out
		v, err = fn(ctx, part[i])
		if err != nil {
			if task.Classify(ctx, err, true) == task.Failed {
				m.fail(err)
			}
			break
		}
		dst[i] = v
	}
	returned = true
	return err
}

func (m *mapRun) fail(err error) {
	m.mu.Lock()
	m.errs = append(m.errs, err)
	m.mu.Unlock()
	m.cancel(err)
}

func (m *mapRun) err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.errs) == 1 {
		return m.errs[0]
	}
	return errors.Join(m.errs...)
}
