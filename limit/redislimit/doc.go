// Package redislimit provides limiters shared by every replica of a
// service through Redis: a rate limiter ([Rate], GCRA) and a leased
// semaphore ([Semaphore]), for a dependency whose limit is one for all
// replicas (a payment provider's 100 requests per second, a database's 50
// connections). Both implement [limit.Limiter], so limit.Handler,
// executor.WithLimiter, taskgroup.WithLimiter and retryhttp's per-host
// limiters take them unchanged, and their refusals are the limit package's
// [*limit.RejectedError], whose RetryAfter retry.Do honours.
//
//	client := redis.NewClient(&redis.Options{Addr: addr})
//	payments := redislimit.NewRate(client, "payments", 100, 10) // 100/s across replicas, bursts of 10
//	defer payments.Close()
//	db := redislimit.NewSemaphore(client, "db", 50, redislimit.WithLease(30*time.Second))
//	defer db.Close()
//	err := payments.Do(ctx, func(ctx context.Context) error {
//		return db.Do(ctx, func(ctx context.Context) error { return charge(ctx) })
//	})
//	if errors.Is(err, limit.ErrRejected) {
//		// refused before ctx's deadline: err.(*limit.RejectedError).RetryAfter() says when to come back
//	}
//
// # Contract
//
//   - One limit for all: every replica that makes a Rate (or a Semaphore)
//     of the same name, with the same prefix ([WithPrefix]), on the same
//     Redis shares it. Each decision is one Lua script run by EVALSHA,
//     atomic on the server and on the server's clock (TIME), so replicas
//     with skewed clocks agree. A Rate's state is one key (its GCRA
//     theoretical arrival time) with an expiry; a Semaphore's, one sorted
//     set of permit ids scored by the end of their leases. Keys are
//     hash-tagged by the name, so Redis Cluster works. It needs Redis 7
//     or later (or Valkey), which passes a script's numbers on with every
//     digit: the times are microseconds since the epoch.
//   - Rate: admits perSecond calls a second on average across replicas,
//     up to burst at once after a quiet spell. [Rate.Allow] never waits.
//     [Rate.Wait] (and Do, Acquire) asks Redis once: the slot is taken now,
//     or reserved for the caller, who sleeps until it comes, or refused at
//     once when it would come after ctx's deadline or [WithMaxWait]
//     (RetryAfter: the wait it would have needed).
//   - Semaphore: at most n permits held across replicas while Redis
//     answers (the model test checks it with processes killed by SIGKILL).
//     A permit's lease ends [WithLease] after it was granted or last
//     extended; then Redis gives the permit to the next Acquire (a crashed
//     holder's permit comes back within its lease). [Semaphore.Do] extends
//     its lease while its function runs and cancels its ctx with
//     [ErrLeaseLost] if the lease is lost all the same; [Semaphore.Extend]
//     does it by hand. Only the Semaphore that granted a permit can release
//     it (by the id it keeps for the [limit.Permit]); a release of a lost
//     permit frees nobody else's. A waiting Acquire polls (2ms doubling to
//     50ms); waiters are not served in order.
//   - Bounded: every command is bounded by [WithTimeout] (default 50ms)
//     whatever the client's own settings. For a *redis.Client the limiter
//     dials its own connections with that client's options, with
//     ContextTimeoutEnabled on, no retries (a retried EVALSHA could count
//     twice) and the scripts loaded on every connection, so that a
//     decision is one round trip just after a restart; hooks added to the
//     client are not run for them. Another client (Cluster, Ring) is used as
//     given; without ContextTimeoutEnabled its commands run on a goroutine
//     of their own that the caller stops waiting for at the bound.
//   - Outage: when a command fails to reach Redis or times out, the limiter
//     falls back to a local one ([limit.Rate], [limit.Bulkhead]) with its
//     share of the limit: the limit divided by the replicas last seen (each
//     replica reports itself, with a decision, once a second; those seen in
//     the last [ReplicaWindow] count), the burst and the permits rounded
//     down to at least 1. A caller never gets an error because Redis is
//     down: the local limiter decides. It is reported once: a
//     LimitSharedDown event when Redis stops answering and a LimitSharedUp
//     when it answers again, in that order, to the observer
//     ([WithObserver], observe's default, or log/slog's default logger when
//     neither is set), and one line each to the [WithLogger] logger if
//     given. While down, at most one probe every [ProbeInterval] (on a
//     new connection) asks Redis again; the first that succeeds re-joins
//     the shared limit, so a busy replica re-joins within 250ms of Redis
//     answering. After a SCRIPT FLUSH the first decision costs EVALSHA and
//     EVAL (which caches it again).
//   - Observed: each limiter is listed in observe's registry (kind
//     "redislimit.rate" or "redislimit.semaphore", its name; gauges Limit,
//     Running for the permits held, State "shared" or "local") until
//     Close, and reports each refusal as a LimitRejected event, once: the
//     local limiter of an outage is a part of it, neither listed nor
//     reporting on its own.
//   - Not exact while down: the shares add up to the limit only if the
//     replicas last seen are the ones still running; a Semaphore's local
//     permits are not known to Redis after the re-join (at most the share
//     per replica, until released), and a permit released while Redis is
//     down keeps its slot there until its lease ends.
//   - Cancellation: a call whose ctx is done when it starts takes nothing
//     and returns an error derived from context.Cause(ctx) (Allow: false).
//     A decision under way is not interrupted by ctx (it is bounded by the
//     timeout), but an earlier cancellation wins: a ctx that ended during
//     it gets its cause, not the token or the permit (a Semaphore gives the
//     permit back at once). A Wait whose ctx ends while it sleeps for its
//     reserved slot returns at once. Either way a Rate's slot stays spent
//     (the limit is missed by one, never exceeded).
//   - Panics and bad input: Do recovers a panic in its function into a
//     [*limit.PanicError] after releasing the permit; a nil function returns
//     [limit.ErrNilFunc]. Bad construction panics with a message starting
//     "redislimit: " that names the argument. Releasing a permit twice
//     panics.
//   - Goroutines: a limiter starts one only to probe Redis while it is down
//     (one at a time, bounded by the timeout) and, for Semaphore.Do, one to
//     extend the lease while the function runs (ended before Do returns).
//     Close waits for the probe and closes the connections the limiter
//     opened.
//
// # Costs
//
// A decision is one round trip: one EVALSHA of a script that reads TIME and
// one key and writes it back (Rate) or trims and counts a sorted set
// (Semaphore acquire); once a second per replica it also updates the set of
// replicas. On the client side it allocates go-redis's command, the
// arguments (none built for Allow), a context with a timer, and the reply;
// no goroutine on a client that enforces context deadlines. A Semaphore
// permit costs two round trips (acquire, release) plus one per try while
// waiting and one per extension (a third of the lease, in Do). The bench
// module compares Allow with github.com/go-redis/redis_rate/v10 on the same
// server (BENCHMARKS.md). While Redis is down a decision is the local
// limiter's, plus an atomic load.
//
// The tests start Debian's redis-server themselves (apt-get install
// redis-server); a testable Example would need one too, so the example
// above is run by TestDocExample, and the Examples show the fallback,
// which needs no server.
package redislimit
