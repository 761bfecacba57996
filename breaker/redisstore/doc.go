// Package redisstore provides a [breaker.Store] on Redis, so that every
// replica of a service runs one circuit breaker per dependency: a failure
// seen by one replica counts for all, and when the breaker opens, or is
// tripped or reset by hand, every replica knows.
//
// Each state change is one Lua script run by EVALSHA, atomic on the server
// and on the server's clock (TIME), so replicas with skewed clocks agree and
// no update is lost. No lock is held across the protected call. An admitted
// call costs two round trips (admit, record); a call made while the breaker
// is known to be open costs none, since the end of the open period is known
// locally; changes reach the other replicas by pub/sub, which also runs their
// [breaker.WithOnStateChange] hooks. Every breaker's state is one hash
// holding a few fields per bucket of its window, hash-tagged by the breaker's
// name so that it works on Redis Cluster; any [redis.UniversalClient] will do.
//
// When Redis is down or slower than the timeout ([WithTimeout]), the
// breakers fall back to their in-process state machines and re-join the
// shared state when Redis answers again; callers see no error because of it
// (see [breaker.WithStore]). Build the client with ContextTimeoutEnabled so
// that the timeout also bounds a Redis that accepts connections but does not
// answer.
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
