package memo

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/observe"
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
// when entries expire, an O(1) move in the LRU list with [WithMaxEntries],
// and, when K holds a float or an interface, a check of the key before the
// lock: see [ErrInvalidKey]); it allocates nothing and starts no goroutine. A miss that
// starts a load allocates a few small objects (its flight, contexts,
// channels) and starts one goroutine; a miss that joins a running load
// allocates nothing. Storing a new key allocates one entry. Memory is
// O(entries); without [WithMaxEntries] an expired entry stays until a Get of
// its key or a new value replaces it.
type Cache[K comparable, V any] struct {
	load func(ctx context.Context, key K) (V, error)
	cfg  config
	born time.Time // entries' times are ns since born: one monotonic clock read per Get of an expiring entry

	keys keyCheck // how Get and Forget check a key before the lock (see ErrInvalidKey)

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

	reg *observe.Entry // the cache in the registry of live objects (observe.go)
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
		keys:    keyCheckOf(reflect.TypeFor[K]()),
		entries: make(map[K]*entry[K, V]),
		flights: make(map[K]*flight[K, V]),
	}
	c.lru.next, c.lru.prev = &c.lru, &c.lru
	c.register()
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
// [ErrClosed]. A key that no map can hold (an unhashable dynamic type, or a
// NaN) gets an error matching [ErrInvalidKey] at once, and the cache is left
// as it was.
//
// Get panics if ctx is nil.
func (c *Cache[K, V]) Get(ctx context.Context, key K) (V, error) {
	if ctx == nil {
		panic("memo: nil ctx passed to Get")
	}
	if c.keys != keyValid {
		if err := checkKey(c.keys, key); err != nil {
			var zero V
			return zero, err
		}
	}
	c.mu.Lock()
	if e := c.entries[key]; e != nil {
		if e.expires == 0 {
			return c.hit(ctx, e, observe.MemoHit)
		}
		now := c.now()
		if now < e.expires {
			return c.hit(ctx, e, observe.MemoHit)
		}
		if e.err == nil && now < e.staleUntil {
			c.stats.Stale++
			if !e.refreshing && !c.closed && c.flights[key] == nil {
				e.refreshing = true
				fl := c.startFlight(ctx, key)
				fl.refs = 1 // the cache's own: nobody waits, nobody cancels
			}
			return c.hit(ctx, e, observe.MemoStale)
		}
		c.unlink(e)
	}
	return c.miss(ctx, key)
}

// Forget drops what the cache holds for key: its entry, and the running load
// if any. That load still ends for the Gets that wait for it, but its result
// is not stored, and the next Get of key starts a new load. Forget of a key
// that Get refuses ([ErrInvalidKey]) does nothing: the cache cannot hold
// anything for it.
func (c *Cache[K, V]) Forget(key K) {
	if c.keys != keyValid && checkKey(c.keys, key) != nil {
		return
	}
	c.mu.Lock()
	if e := c.entries[key]; e != nil {
		c.unlink(e)
	}
	delete(c.flights, key)
	c.mu.Unlock()
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
	c.reg.Leave()
}

// hit answers a Get from e, reporting it as k. Called with c.mu held;
// unlocks it.
func (c *Cache[K, V]) hit(ctx context.Context, e *entry[K, V], k observe.Kind) (V, error) {
	c.stats.Hits++
	if c.cfg.maxEntries > 0 && c.lru.next != e {
		e.prev.next, e.next.prev = e.next, e.prev
		c.pushFront(e)
	}
	v, err := e.val, e.err
	c.mu.Unlock()
	c.emit(ctx, k)
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
	k := observe.MemoMiss
	if fl != nil {
		c.stats.Coalesced++
		k = observe.MemoCoalesced
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
	c.emit(ctx, k)
	select {
	case <-fl.done:
	case <-ctx.Done():
		cause := context.Cause(ctx)
		c.leave(fl, cause)
		return zero, cause
	}
	return fl.val, fl.err
}
