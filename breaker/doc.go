// Package breaker provides a circuit breaker with a context, built on
// github.com/sony/gobreaker/v2: after repeated failures of a dependency it
// rejects calls at once, instead of letting every caller wait for a timeout,
// then lets a few probes through to find out whether the dependency is back.
//
// A [Breaker] guards one dependency whatever its calls return; [DoValue]
// carries a typed result through it. A [Group] keeps one breaker per key
// (host, tenant). Compared with gobreaker it adds:
//
//   - a context: a caller that gives up (context.Canceled while its ctx is
//     cancelled) is not counted as a failure of the dependency; an expired
//     deadline is;
//   - a state-change hook that runs outside every lock, so it may read the
//     breaker (gobreaker's runs under its mutex and deadlocks if it does);
//   - manual control: [Breaker.Trip] and [Breaker.Reset];
//   - rejections (*[RejectedError], matching [ErrOpen] or
//     [ErrTooManyRequests]) with a RetryAfter method, which retry.Do honours,
//     so a retry loop waits for the half-open state instead of hammering;
//   - panics in the guarded function counted as failures and returned as
//     *[PanicError];
//   - a state shared by every replica of a service, through a [Store]
//     ([WithStore]; github.com/async-patterns/async/breaker/redisstore keeps
//     it on Redis), with no lock held across the call: one round trip per
//     call while closed, two per half-open probe, none while open.
//
// Defaults: open after [DefaultConsecutiveFailures] failures in a row, stay
// open [DefaultOpenTimeout], then admit [DefaultHalfOpenRequests] probe.
//
//	b := breaker.New(breaker.WithName("db"), breaker.WithOpenTimeout(30*time.Second))
//	err := b.Do(ctx, func(ctx context.Context) error {
//		return db.PingContext(ctx)
//	})
//	if errors.Is(err, breaker.ErrOpen) {
//		// fail fast; err.(*breaker.RejectedError).RetryAfter() says when to come back
//	}
package breaker
