package memo

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/async-patterns/async/internal/safe"
)

// PanicError reports a panic (or a runtime.Goexit) in a load, recovered and
// returned to every Get that waited for that load. It is the module's one
// panic type: errors.As(err, new(*memo.PanicError)) and the same call with
// any other package's PanicError match the same value. A panic is never
// cached: the next Get of the key loads again.
type PanicError = safe.PanicError

// ErrClosed is returned by [Cache.Get] for a key that would need a new load
// after [Cache.Close] has been called.
var ErrClosed = errors.New("memo: cache closed")

// Cache is a concurrency-safe cache in front of a load function: a Get of a
// cached key returns at once, and concurrent Gets of a missing key share a
// single load. Make one with [New]; the zero value is not usable. A Cache
// must not be copied after first use. It is safe for concurrent use by
// multiple goroutines.
//
// Loads run on goroutines the cache owns; call [Cache.Close] to stop new
// loads and wait for running ones (refreshes included).
//
// Costs: a hit takes the cache's mutex for one map lookup (plus a clock read
// when entries expire, and an O(1) move in the LRU list with
// [WithMaxEntries]); it allocates nothing and starts no goroutine. A miss that
// starts a load allocates a few small objects (its flight, contexts,
// channels) and starts one goroutine; a miss that joins a running load
// allocates nothing. Storing a new key allocates one entry. Memory is
// O(entries); without [WithMaxEntries] an expired entry stays until a Get of
// its key or a new value replaces it.
type Cache[K comparable, V any] struct {
	load func(ctx context.Context, key K) (V, error)
	cfg  config
	born time.Time // entries' times are ns since born: one monotonic clock read per Get of an expiring entry

	// sf runs each load on a goroutine of its own, once per flight: its keys
	// name flights, since K need not be a string. Waiters do not take a
	// DoChan channel each (two allocations and one send per waiter, under
	// sf's mutex): they wait on their flight's done channel, whose one close
	// wakes them all. What sf lacks is added around it: the flights map with
	// its refcount, the detached and cancellable ctx, and recovering panics
	// inside the function sf runs (sf itself would re-panic them on a fresh
	// goroutine, crashing the program).
	sf singleflight.Group

	mu      sync.Mutex
	entries map[K]*entry[K, V]  // protected by mu
	lru     entry[K, V]         // protected by mu: sentinel; lru.next is the most recently used
	flights map[K]*flight[K, V] // protected by mu: the load that a miss of the key joins
	seq     uint64              // protected by mu: the last flight's number
	closed  bool                // protected by mu: set by Close; no load starts after it
	stats   Stats               // protected by mu

	wg sync.WaitGroup // one count per running load; Close waits for them
}

// Stats counts what a [Cache] has done since [New]. Hits + Misses is the
// number of Gets that did not fail before looking (a Get whose ctx had ended
// on a miss, or that met [ErrClosed], is in neither).
type Stats struct {
	Hits      uint64 // Gets answered from the cache, stale serves included
	Misses    uint64 // Gets that waited for a load (started or joined)
	Loads     uint64 // loads started, background refreshes included
	Coalesced uint64 // Gets that joined a load already running for their key
	Evictions uint64 // entries dropped to stay within WithMaxEntries
	Stale     uint64 // Gets answered with a value past its TTL (WithStale)
	Entries   int    // entries held now, values and cached errors
}

// entry is one cached value or error, and its place in the LRU list.
type entry[K comparable, V any] struct {
	key        K
	val        V
	err        error // a cached error (WithErrorTTL); val is then zero
	expires    int64 // in ns since the cache's born; 0: never
	staleUntil int64 // served stale until then while a refresh runs; 0: no stale window
	refreshing bool  // a background refresh of key is running
	prev, next *entry[K, V]
}

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

// New returns a cache whose misses call load. load receives a ctx that
// carries the values of the Get that started it but not its cancellation:
// it is cancelled when every Get waiting for it has given up, when the
// [WithLoadTimeout] passes, or after load returns.
//
// New panics with a message starting with "memo: " if load or an option is
// nil, or if [WithStale] is given without a positive [WithTTL].
func New[K comparable, V any](load func(ctx context.Context, key K) (V, error), opts ...Option) *Cache[K, V] {
	if load == nil {
		panic("memo: nil load passed to New")
	}
	var cfg config
	for _, o := range opts {
		if o == nil {
			panic("memo: nil Option passed to New")
		}
		o(&cfg)
	}
	if cfg.stale > 0 && cfg.ttl == 0 {
		panic("memo: WithStale needs a positive WithTTL")
	}
	c := &Cache[K, V]{
		load:    load,
		cfg:     cfg,
		born:    time.Now(),
		entries: make(map[K]*entry[K, V]),
		flights: make(map[K]*flight[K, V]),
	}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	return c
}

// Get returns the value cached for key, or loads it.
//
// A fresh entry (a value within its TTL, or an error within its
// [WithErrorTTL]) is returned at once, even if ctx has ended. With
// [WithStale], a value past its TTL but within its stale window is returned
// at once too, and the first such Get starts one background refresh.
//
// Otherwise Get waits for a load of key: the one already running, or a new
// one. Concurrent Gets of one key share that single load, and each returns
// its value or error (a panic in load as *[PanicError]). Get returns early,
// with context.Cause(ctx), when ctx ends first (at once if ctx has already
// ended: no load is started or joined); the load goes on for the other
// waiters and is cancelled, with this caller's cause, only when every waiter
// has gone. A ctx that ends at the very moment the load returns may lose
// that race. After [Cache.Close], a Get that would start a load returns
// [ErrClosed].
//
// Get panics if ctx is nil.
func (c *Cache[K, V]) Get(ctx context.Context, key K) (V, error) {
	if ctx == nil {
		panic("memo: nil ctx passed to Get")
	}
	c.mu.Lock()
	if e := c.entries[key]; e != nil {
		if e.expires == 0 {
			return c.hit(e)
		}
		now := c.now()
		if now < e.expires {
			return c.hit(e)
		}
		if e.err == nil && now < e.staleUntil {
			c.stats.Stale++
			if !e.refreshing && !c.closed && c.flights[key] == nil {
				e.refreshing = true
				fl := c.startFlight(ctx, key)
				fl.refs = 1 // the cache's own: nobody waits, nobody cancels
			}
			return c.hit(e)
		}
		c.unlink(e)
	}
	return c.miss(ctx, key)
}

// Forget drops what the cache holds for key: its entry, and the running load
// if any. That load still ends for the Gets that wait for it, but its result
// is not stored, and the next Get of key starts a new load.
func (c *Cache[K, V]) Forget(key K) {
	c.mu.Lock()
	if e := c.entries[key]; e != nil {
		c.unlink(e)
	}
	delete(c.flights, key)
	c.mu.Unlock()
}

// Stats returns the cache's counters. It takes the mutex once and allocates
// nothing.
func (c *Cache[K, V]) Stats() Stats {
	c.mu.Lock()
	s := c.stats
	s.Entries = len(c.entries)
	c.mu.Unlock()
	return s
}

// Close stops the cache from starting loads (no new refresh, and a Get that
// would need a load returns [ErrClosed]) and waits for every running load,
// background refreshes included, to return. Cached entries are still served.
// A load that never returns keeps Close waiting; [WithLoadTimeout] bounds
// loads that honour their ctx. Close may be called more than once.
func (c *Cache[K, V]) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
}

// hit answers a Get from e. Called with c.mu held; unlocks it.
func (c *Cache[K, V]) hit(e *entry[K, V]) (V, error) {
	c.stats.Hits++
	if c.cfg.maxEntries > 0 && c.lru.next != e {
		e.prev.next, e.next.prev = e.next, e.prev
		c.pushFront(e)
	}
	v, err := e.val, e.err
	c.mu.Unlock()
	return v, err
}

// miss makes a Get wait for a load of key. Called with c.mu held; unlocks it.
func (c *Cache[K, V]) miss(ctx context.Context, key K) (V, error) {
	var zero V
	if ctx.Err() != nil {
		c.mu.Unlock()
		return zero, context.Cause(ctx)
	}
	fl := c.flights[key]
	if fl != nil {
		c.stats.Coalesced++
	} else {
		if c.closed {
			c.mu.Unlock()
			return zero, ErrClosed
		}
		fl = c.startFlight(ctx, key)
	}
	c.stats.Misses++
	fl.refs++
	c.mu.Unlock()
	select {
	case <-fl.done:
	case <-ctx.Done():
		cause := context.Cause(ctx)
		c.leave(fl, cause)
		return zero, cause
	}
	return fl.val, fl.err
}

// startFlight registers a new load of key and has sf start it. Called with
// c.mu held, so the load cannot finish (finish takes c.mu) before the caller
// has counted itself in fl.refs.
func (c *Cache[K, V]) startFlight(ctx context.Context, key K) *flight[K, V] {
	c.seq++
	fl := &flight[K, V]{c: c, key: key, id: strconv.FormatUint(c.seq, 36), done: make(chan struct{})}
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
	defer func() {
		if !returned {
			var zero V
			fl.val, fl.err = zero, safe.Recovered(recover())
		}
		c.finish(fl)
		close(fl.done)
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

// store caches a flight's result. Called with c.mu held.
//
// A value replaces whatever the key held. An error is cached only with
// WithErrorTTL, never over a value (a failed refresh leaves the stale value
// to serve until its window ends), and never for a panic.
func (c *Cache[K, V]) store(fl *flight[K, V]) {
	e := c.entries[fl.key]
	if fl.err != nil {
		_, panicked := fl.err.(*PanicError)
		if e != nil && e.err == nil || c.cfg.errorTTL == 0 || panicked {
			if e != nil {
				e.refreshing = false
			}
			return
		}
	}
	if e == nil {
		e = &entry[K, V]{key: fl.key}
		c.entries[fl.key] = e
		c.pushFront(e)
		if c.cfg.maxEntries > 0 && len(c.entries) > c.cfg.maxEntries {
			c.unlink(c.lru.prev)
			c.stats.Evictions++
		}
	} else if c.lru.next != e {
		e.prev.next, e.next.prev = e.next, e.prev
		c.pushFront(e)
	}
	e.val, e.err, e.refreshing = fl.val, fl.err, false
	e.expires, e.staleUntil = 0, 0
	switch {
	case fl.err != nil:
		e.expires = c.now() + int64(c.cfg.errorTTL)
	case c.cfg.ttl > 0:
		e.expires = c.now() + int64(c.cfg.ttl)
		if c.cfg.stale > 0 {
			e.staleUntil = e.expires + int64(c.cfg.stale)
		}
	}
}

// now reads the monotonic clock (time.Since reads only that one, where
// time.Now reads the wall clock too), in ns since c.born; always > 0.
func (c *Cache[K, V]) now() int64 {
	return int64(time.Since(c.born)) + 1
}

// pushFront makes e the most recently used. Called with c.mu held, e unlinked.
func (c *Cache[K, V]) pushFront(e *entry[K, V]) {
	e.prev, e.next = &c.lru, c.lru.next
	c.lru.next.prev = e
	c.lru.next = e
}

// unlink drops e from the map and the list. Called with c.mu held.
func (c *Cache[K, V]) unlink(e *entry[K, V]) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(c.entries, e.key)
}
