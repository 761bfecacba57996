package memo

import (
	"math"
	"time"
)

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
		e.expires = later(c.now(), c.cfg.errorTTL)
	case c.cfg.ttl > 0:
		e.expires = later(c.now(), c.cfg.ttl)
		if c.cfg.stale > 0 {
			e.staleUntil = later(e.expires, c.cfg.stale)
		}
	}
}

// later returns t + d, saturated at the largest int64 (about 292 years
// after New): a d of math.MaxInt64, Go's usual "forever", must not wrap
// round into the past and leave an entry expired as it is stored. t > 0 and
// d >= 0.
func later(t int64, d time.Duration) int64 {
	if int64(d) > math.MaxInt64-t {
		return math.MaxInt64
	}
	return t + int64(d)
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
