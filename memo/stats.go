package memo

// Stats counts what a [Cache] has done since [New]. Hits + Misses is the
// number of Gets that did not fail before looking (a Get whose ctx had ended
// on a miss, that met [ErrClosed], or whose key was refused with
// [ErrInvalidKey], is in neither).
type Stats struct {
	Hits      uint64 // Gets answered from the cache, stale serves included
	Misses    uint64 // Gets that waited for a load (started or joined)
	Loads     uint64 // loads started, background refreshes included
	Coalesced uint64 // Gets that joined a load already running for their key
	Evictions uint64 // entries dropped to stay within WithMaxEntries
	Stale     uint64 // Gets answered with a value past its TTL (WithStale)
	Entries   int    // entries held now, values and cached errors
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
