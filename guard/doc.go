// Package guard composes the module's resilience policies around calls to
// a dependency in the one order that is safe: fallback, then retry (with a
// retry budget) and hedge, then circuit breaker, then rate limiter, then
// concurrency limiter (bulkhead or adaptive), then the function.
//
// A [Guard] is built once, with the policies it needs, and used by every
// goroutine that calls the dependency:
//
//	budget := retry.NewBudget(0.15, 1, 10*time.Second) // shared by every caller of the service
//	g := guard.New(
//		guard.WithFallback(func(ctx context.Context, err error) (Price, error) {
//			return cache.Last(ctx) // stale, but an answer
//		}),
//		guard.WithRetry(retry.WithMaxAttempts(4), retry.WithBackoff(50*time.Millisecond, time.Second)),
//		guard.WithBudget(budget),
//		guard.WithBreaker(breaker.New(breaker.WithName("prices"))),
//		guard.WithConcurrencyLimiter(limit.NewBulkhead(32)),
//	)
//	price, err := guard.DoValue(ctx, g, func(ctx context.Context) (Price, error) {
//		return client.Price(ctx, sku)
//	})
//
// # Why this order
//
// Each policy wraps the ones after it; a call goes in from the outside.
//
//   - Fallback is outermost because it must see the final outcome, after
//     every other policy has had its say: the retries given up, the
//     breaker's or a limiter's rejection, the budget's refusal, a panic.
//     Inside the retry it would turn the first failure into a success and
//     no retry would ever happen.
//   - Retry comes next, and the budget with it, since the budget is what
//     bounds the retries of every caller together: each call deposits once
//     and each retry spends. The hedge sits in the same layer, inside the
//     retry: a hedged attempt is one attempt of the retry policy, and its
//     extra copies spend from the same budget, so that neither retries nor
//     hedges can multiply an outage.
//   - The breaker sits inside the retry so that it sees, and counts, every
//     attempt the retry makes: outside, it would see one call however many
//     times the dependency was hit, and would open four times too late with
//     four attempts. Inside, an open breaker rejects each retry at once,
//     without touching the dependency, and its rejection carries the time
//     left open (RetryAfter), which the retry waits for instead of spending
//     its attempts in vain. Each hedged copy passes through it too.
//   - The rate limiter sits inside the breaker so that an open breaker
//     refuses a call before it takes a token: while the dependency is down,
//     calls bound to fail do not use up the rate meant for its recovery,
//     nor wait for tokens only to be rejected. Its refusal, in turn, never
//     counts as the dependency's failure: the guard marks it for the
//     breaker (breaker.Exclude), since a call that was never sent says
//     nothing about the dependency.
//   - The concurrency limiter (a bulkhead, or the adaptive limiter) is
//     innermost, right around the function, so that a permit is held only
//     while the function runs: a call waiting for a rate token does not sit
//     on a slot, and the adaptive limiter measures the function's latency,
//     not the time spent in the policies outside it. Its refusals, like the
//     rate limiter's, are excluded from the breaker's counts.
//
// There is no timeout policy: a ctx deadline is Go's timeout, and
// retry.WithAttemptTimeout bounds each attempt.
//
// # Contract
//
//   - Policies: each is optional and given once ([WithFallback],
//     [WithFallbackIf], [WithRetry], [WithBudget], [WithHedge],
//     [WithBreaker], [WithRateLimiter], [WithConcurrencyLimiter]); the
//     order they are given in does not matter. The breaker, the limiters
//     and the budget are shared objects: several guards (one per result
//     type, say) may use the same ones.
//   - Results: [DoValue] returns the function's value, typed; [Guard.Do]
//     is for a function that returns only an error. The final error keeps
//     the function's own error (errors.Is finds it) and says why the call
//     stopped: a *retry.Error (matching retry.ErrExhausted, and
//     retry.ErrBudgetExhausted when the budget refused a retry), a
//     rejection (breaker.ErrOpen, breaker.ErrTooManyRequests,
//     limit.ErrRejected), or a *[PanicError].
//   - Fallback: it gets the caller's ctx and the final error and returns a
//     value or a new error; by default every error reaches it but the
//     caller's own cancellation; [WithFallbackIf] narrows that.
//   - Hedging: the first success wins; the other copies are cancelled and
//     awaited before the call returns; each copy beyond the first spends
//     from the budget, and a refused one is not started.
//   - Cancellation: when ctx ends, the retries stop with an error matching
//     context.Cause(ctx) and the function's last error; without retries,
//     the call returns what the function returned. Either way it returns
//     only after the function (and every hedged copy) has: the guard never
//     abandons a running function.
//   - Panics: a panic in the function or the fallback comes back as a
//     *[PanicError]; it is never retried, counts as the breaker's failure
//     and as the limiters' failure, and reaches the fallback.
//   - Bad input: a nil function returns [ErrNilFunc]; a nil ctx panics;
//     bad options (a nil fallback, a negative hedge delay, a nil breaker,
//     retry options retry rejects) panic with a message starting "guard: "
//     that names the option, when the option is made or in [New]. A
//     retry.Budget with a ratio outside (0, 1] panics in retry.NewBudget.
//   - A breaker with a Store whose store failed or was closed keeps
//     working on its own state (the breaker's rule), and so does the guard.
//
// # Costs
//
// A first-try success through [WithRetry] and [WithBreaker] allocates
// nothing, reads no clock but the breaker's two, and starts no goroutine:
// the guard adds a few checks and function calls to calling retry.DoValue
// around breaker.DoValue by hand, 2.6 to 5.4 ns in BenchmarkGuard/paired
// (bench module) against failsafe-go's 2.7x the hand-written time and 17
// allocations. A guard without a breaker, or with a limiter, adds a
// deferred recover around the function. One thing differs from the hand-written pair: the function
// given to Do or DoValue escapes to the heap, since a hedge may run it on
// other goroutines, so a function literal that captures variables, written
// at the call site, is allocated on each call (one small allocation); a
// function value made once and reused is not. A budget adds one Deposit per call (two atomic operations); a
// limiter its own Acquire and Release. A retry adds what retry's does (the
// backoff state, a timer); a fallback call, a deferred recover. A hedged
// attempt adds a channel, a slice of cancel functions, a timer, and a
// goroutine and a context per copy, all ended before the attempt returns.
package guard
