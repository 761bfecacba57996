// Package memo provides a cache in front of a slow load function (a
// database query, an HTTP call): what Python users get from
// functools.lru_cache, async-lru or aiocache, for concurrent Go code. It is
// built on golang.org/x/sync/singleflight.
//
// A [Cache] returns a cached value at once; concurrent Gets of a missing key
// share one load, however many callers ask. Compared with singleflight alone
// it adds:
//
//   - a context per waiter: a Get whose ctx ends returns at once with
//     context.Cause(ctx), while the load goes on for the others; the load's
//     ctx keeps the first caller's values but not its cancellation, and is
//     cancelled only when every waiter has gone (or by [WithLoadTimeout]);
//   - panics in the load returned to every waiter as *[PanicError], never a
//     crash (singleflight re-panics them), and never cached;
//   - caching: [WithTTL], [WithMaxEntries] (least recently used eviction),
//     [WithErrorTTL] (errors are not cached without it), and [WithStale]
//     (stale-while-revalidate: one background refresh per key, owned by the
//     cache, which [Cache.Close] waits for);
//   - counters: [Cache.Stats];
//   - keys and durations that cannot break it: a key no map can hold (an
//     unhashable dynamic type in an interface key, or a NaN) gets an error
//     matching [ErrInvalidKey] before any lock is taken, never a panic that
//     leaves the cache locked nor a load that no later Get can join; and
//     math.MaxInt64 in [WithTTL], [WithStale] or [WithErrorTTL] means
//     forever (expiry times saturate).
//
// Costs: a hit is one mutex-guarded map lookup, O(1) (plus a monotonic clock
// read when entries expire, and, when the key type holds a float or an
// interface, a comparison of the key with itself under a deferred recover),
// with no allocation and no goroutine. A miss that starts a load allocates a
// few small objects and starts one goroutine; each further waiter of that
// load allocates nothing.
//
//	users := memo.New(func(ctx context.Context, id int) (*User, error) {
//		return db.LoadUser(ctx, id)
//	}, memo.WithTTL(time.Minute), memo.WithMaxEntries(10_000))
//	defer users.Close()
//	u, err := users.Get(ctx, 42)
package memo
