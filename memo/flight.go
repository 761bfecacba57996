package memo

import (
	"context"
	"strconv"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/internal/task"
)

// flight is one load of one key and the Gets waiting for it.
type flight[K comparable, V any] struct {
	c      *Cache[K, V]
	key    K
	id     string // the flight's key in sf
	fn     func() (any, error)
	ctx    context.Context // the load's: the first caller's values, not its cancellation
	cancel context.CancelCauseFunc
	stop   context.CancelFunc // ends the WithLoadTimeout timer; nil without one
	done   chan struct{}      // closed once val and err are set

	refs     int  // protected by c.mu: waiting Gets, plus one for a refresh
	returned bool // protected by c.mu: the load has returned

	// Written by the load's goroutine before done is closed, read by waiters
	// after it.
	val V
	err error
}

// startFlight registers a new load of key and has sf start it. Called with
// c.mu held, so the load cannot finish (finish takes c.mu) before the caller
// has counted itself in fl.refs.
func (c *Cache[K, V]) startFlight(ctx context.Context, key K) *flight[K, V] {
	c.seq++
	fl := &flight[K, V]{c: c, key: key, id: strconv.FormatUint(c.seq, 36), done: make(chan struct{})}
	// The load keeps ctx's values and may run past the caller's return (a
	// background refresh, a load the caller gave up on): an executor's
	// fire-and-forget ctx must not be reused for the next task meanwhile.
	task.Retain(ctx)
	fl.ctx, fl.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	if c.cfg.loadTimeout > 0 {
		fl.ctx, fl.stop = context.WithTimeout(fl.ctx, c.cfg.loadTimeout)
	}
	fl.fn = fl.run
	c.flights[key] = fl
	c.stats.Loads++
	c.wg.Add(1)
	go fl.serve()
	return fl
}

// leave removes a waiter that gave up; the last one out cancels the load.
func (c *Cache[K, V]) leave(fl *flight[K, V], cause error) {
	c.mu.Lock()
	fl.refs--
	abandoned := fl.refs == 0 && !fl.returned
	if abandoned && c.flights[fl.key] == fl {
		delete(c.flights, fl.key) // the next Get starts afresh, not on a cancelled load
	}
	c.mu.Unlock()
	if abandoned {
		fl.cancel(cause)
	}
}

// serve runs the flight through sf on a goroutine the cache owns, and
// counts it done only once sf has returned: sf's own bookkeeping after the
// function (its mutex, its map) is then over too, so no goroutine of the
// cache's outlives Close. sf.Do rather than DoChan: DoChan would start a
// second goroutine that Close could not wait for.
func (fl *flight[K, V]) serve() {
	defer fl.c.wg.Done() // deferred: a runtime.Goexit in load ends this goroutine inside sf.Do
	fl.c.sf.Do(fl.id, fl.fn)
}

// run is the flight's function in sf: it calls load on serve's goroutine.
//
// Why recover here: sf re-panics a panic of its function on a fresh
// goroutine, which would crash the program. Recovering inside turns it into a
// *PanicError that every waiter gets like any error. A runtime.Goexit cannot
// be stopped, but this deferred function still runs: the waiters get a
// *PanicError for it too.
func (fl *flight[K, V]) run() (any, error) {
	c := fl.c
	returned := false
	start := c.loadStart()
	defer func() {
		if !returned {
			var zero V
			fl.val, fl.err = zero, safe.Recovered(recover())
		}
		report := c.loadEnded(fl, start, returned) // before finish cancels fl.ctx
		c.finish(fl)
		close(fl.done)
		report()
	}()
	fl.val, fl.err = c.load(fl.ctx, fl.key)
	returned = true
	return nil, nil
}

// finish stores a flight's result, unless the flight was forgotten or
// abandoned, and releases its ctx.
func (c *Cache[K, V]) finish(fl *flight[K, V]) {
	c.mu.Lock()
	fl.returned = true
	if c.flights[fl.key] == fl {
		delete(c.flights, fl.key)
		c.store(fl)
	}
	c.mu.Unlock()
	if fl.stop != nil {
		fl.stop()
	}
	fl.cancel(context.Canceled)
}
