// Package retry calls a function again, with exponential backoff, until it
// succeeds, fails for good, or a bound is reached.
//
// It is built on github.com/cenkalti/backoff/v4's ExponentialBackOff and
// closes that package's traps: the context comes first and bounds every wait,
// a wait that would end past ctx's deadline or the time budget is not started,
// cancellation keeps the operation's own error, the defaults are bounded and
// written down (no silent 15-minute cut-off), one []Option may be shared by
// any number of goroutines, and a first-try success reads no clock, starts
// no timer and allocates nothing.
//
//	err := retry.Do(ctx, func(ctx context.Context) error {
//		return client.Ping(ctx)
//	}, retry.WithMaxAttempts(4), retry.WithBackoff(50*time.Millisecond, 2*time.Second))
//
// # Defaults
//
// Without options a call makes at most [DefaultMaxAttempts] (5) attempts,
// waiting about 100ms, 200ms, 400ms and 800ms between them (initial interval
// [DefaultInitial], multiplier [DefaultMultiplier], each wait capped at
// [DefaultMaxInterval] and then randomized by up to [DefaultJitter] of itself
// either way), so the waits of a default call add up to at most 2.25s. There is no time budget by default:
// the attempt limit is the bound, and ctx's deadline is honoured as always.
// Every error is retried except a [Permanent] one or a panic.
//
// # Contract
//
//   - Attempts are exact: WithMaxAttempts(n) calls the function at most n
//     times and the [WithOnRetry] hook at most n-1 times, once before each
//     wait, with the 1-based number of the attempt that just failed.
//   - A call whose ctx is already done makes no attempt. When ctx ends during
//     a wait, the call returns at once with an error that matches both
//     context.Cause(ctx) and the last attempt's error.
//   - Deadline-aware: when the next wait would end at or after ctx's deadline,
//     or past the [WithMaxElapsed] budget, the call gives up at once instead
//     of sleeping in vain.
//   - Any error in the chain with a RetryAfter() time.Duration method (made by
//     [After], or a breaker rejection) stretches the next wait to that hint:
//     wait = max(hint, backoff).
//   - Every failure is reported as an [*Error] carrying the number of attempts
//     and the last error; it matches [ErrExhausted] when a bound was reached
//     and the ctx cause when ctx ended.
//   - A panic in the function is never retried; it comes back as a
//     [*PanicError] inside the [*Error].
//
// # Budgets
//
// Retries multiply an outage: with four attempts, a dependency that is down
// gets four times its normal traffic from every client, just when it can
// least take it. A [Budget], shared by every call to one dependency
// ([WithBudget]), caps the retries at a ratio of the first attempts plus a
// floor per second, over a sliding window, in the style of Finagle's retry
// budget (see [Budget] for why that one rather than gRPC's retry
// throttling). First attempts always go; a refused retry ends the call with
// an error matching [ErrBudgetExhausted]. Measured (TestBudgetFigures, 100
// requests a second for a minute of fake time, 4 attempts each): a budget
// of NewBudget(0.15, 1, 10*time.Second) keeps a client at 1.16 attempts per
// request in a total outage, instead of 4.0; at 10% random failures it
// refuses nothing and the success rate is the unbudgeted one (99.98%). A
// ratio of 0.1 is tighter in an outage (1.11) but, below the 0.11 retries
// per request that 10% failures need, costs half a point of success.
//
// Why a panic is recovered at all, when the function runs on the caller's own
// goroutine: the library's bookkeeping (the per-attempt context, the wait
// timer) must be released whatever the function does, and a panic is a bug
// that retrying cannot fix. Reporting it as an error where the function's
// error would go keeps the stack without taking the program down, and the
// same [PanicError] type is used by every package of this module. A
// runtime.Goexit cannot be stopped on the caller's goroutine: the bookkeeping
// still runs and the goroutine exits.
package retry
