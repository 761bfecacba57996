// Package redisstore provides a [breaker.Store] on Redis, so that every
// replica of a service runs one circuit breaker per dependency: a failure
// seen by one replica counts for all, and when the breaker opens, or is
// tripped or reset by hand, every replica knows.
//
// Each state change is one Lua script run by EVALSHA, atomic on the server
// and on the server's clock (TIME), so replicas with skewed clocks agree and
// no update is lost. No lock is held across the protected call. A call made
// while the breaker is known to be closed costs one round trip (the record
// of its outcome, which counts its request too); a half-open probe, or the
// first call of a breaker that has not heard from Redis yet (or has just
// re-joined), costs two (admit, record); a call made while the breaker is
// known to be open, or half-open with every probe permit taken, costs none,
// since the end of that period is known locally. Changes reach the other
// replicas by pub/sub, which also runs their [breaker.WithOnStateChange]
// hooks. Every breaker's state is one hash holding a few fields per bucket
// of its window, hash-tagged by the breaker's name so that it works on Redis
// Cluster; any [redis.UniversalClient] will do.
//
// When Redis is down, paused or slower than the timeout ([WithTimeout]),
// the breakers fall back to their in-process state machines and re-join the
// shared state when Redis answers again; callers see no error because of it
// (see [breaker.WithStore]). The Store bounds every operation itself,
// whatever the client's settings (see [WithTimeout]). After Redis restarts,
// the first operation sends the script itself (EVAL), so a restart costs no
// extra round trip; on a *redis.Client the operations go through a spare
// client of the same options until go-redis's pool dials again (see
// [SpareLifetime]), so a breaker re-joins as soon as Redis answers and its
// next try comes ([breaker.StoreRetryInterval]), not a second later. A
// SCRIPT FLUSH, which nothing announces, costs the next operation one more
// round trip (EVALSHA, NOSCRIPT, EVAL), once.
//
// The shared breaker behaves as the in-process one, call for call, with one
// addition: a half-open probe that has not reported after the open timeout
// (its replica died, or its report was lost) gives its permit back.
//
//	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
//	store := redisstore.New(client)
//	defer store.Close()
//	b := breaker.New(breaker.WithName("payments"), breaker.WithStore(store),
//		breaker.WithConsecutiveFailures(5), breaker.WithOpenTimeout(30*time.Second))
//	err := b.Do(ctx, func(ctx context.Context) error {
//		return charge(ctx)
//	})
//	if errors.Is(err, breaker.ErrOpen) {
//		// every replica is failing fast; err says when to come back
//	}
//
// The tests start Debian's redis-server themselves (apt-get install
// redis-server); a testable Example would need one too, so the example above
// is run by TestDocExample instead.
package redisstore
