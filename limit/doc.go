// Package limit provides limiters that keep a service fast under overload by
// refusing work it cannot do in time: a rate limiter ([Rate], on
// golang.org/x/time/rate), a bulkhead ([Bulkhead], on
// golang.org/x/sync/semaphore), an adaptive concurrency limiter, and
// [Handler], which sheds load in an HTTP server with a 503 and Retry-After.
//
// Every limiter implements [Limiter], one small interface (acquire with a
// ctx, release with the [Outcome]) that executor.WithLimiter,
// taskgroup.WithLimiter and retryhttp's per-host limiter accept, and has a
// Do method that runs a function under it:
//
//	rl := limit.NewRate(100, 10)                    // 100 per second, bursts of 10
//	bh := limit.NewBulkhead(8, limit.WithMaxWaiting(16), limit.WithMaxWait(50*time.Millisecond))
//	err := bh.Do(ctx, func(ctx context.Context) error { return call(ctx) })
//	if errors.Is(err, limit.ErrRejected) {
//		// refused: err.(*limit.RejectedError).RetryAfter() says when to come back
//	}
//
// # Contract
//
//   - What is admitted: by a [Rate], a call for which a token is available
//     now or before both ctx's deadline and [WithMaxWait] pass (the call
//     waits for it); by a [Bulkhead], a call while fewer than n hold a
//     permit, or a waiter that reaches the front of the queue (first come,
//     first served) before its ctx ends and before [WithMaxWait] passes.
//   - What is refused: the call gets a [*RejectedError] matching
//     [ErrRejected] with RetryAfter set when the wait is known (a rate
//     limiter's next token). A [Rate] refuses at once, without waiting,
//     when the token would come after ctx's deadline or the max wait: a
//     wait that is bound to fail is never started. A [Bulkhead] refuses at
//     once when [WithMaxWaiting] callers already wait. retry.Do honours
//     RetryAfter the way it does a breaker's rejection.
//   - Cancellation: a call whose ctx is done when it starts is neither
//     admitted nor counted as rejected; a waiter whose ctx ends is never
//     admitted afterwards (an earlier cancellation wins, as in the queue
//     package: only a ctx ending at the very instant of hand-off can lose
//     the race, and then the permit is handed back at once). Either returns
//     an error derived from context.Cause(ctx) and holds nothing.
//   - Nothing admitted is lost or double-counted: every [Permit] is
//     released exactly once. Do releases its own permit whether the
//     function returns or panics; a caller of Acquire releases with
//     [Limiter.Release], and a second release of the same permit panics
//     naming the misuse.
//   - Priority rides in the ctx ([WithPriority], [PriorityFrom]), so it
//     crosses package boundaries; the adaptive limiter sheds the lowest
//     priority first. Rate and Bulkhead ignore it.
//   - Panics and bad input: Do recovers a panic in its function into a
//     [*PanicError] (after releasing the permit); a nil function returns
//     [ErrNilFunc] and acquires nothing. Bad construction (a rate <= 0 or
//     NaN, a burst or n below 1, an option that does not apply) panics at
//     once with a message starting "limit: " that names the argument.
//   - HTTP: [Handler] admits each request through a limiter and answers a
//     refusal with 503 and Retry-After (whole seconds, at least 1); it
//     releases with the outcome the response shows (a 503, 429 or 504 from
//     the handler is [Dropped]). retryhttp's client waits that long and
//     tries again.
//   - Any limiter, yours included: [Do] and [DoValue] run a function under
//     any [Limiter], releasing with [OutcomeOf] its error.
//   - No goroutine: no limiter starts one; nothing needs closing.
//
// # Costs
//
// Rate.Allow is x/time/rate's Allow: one short critical section and one
// clock read, no allocation. Rate.Do and Rate.Wait add to it a check of ctx
// and, for Do, a deferred recover; a call that must wait adds x/time/rate's
// reservation (one allocation) and a timer. Bulkhead.Do admitted at once is
// the semaphore's TryAcquire and Release (two short critical sections) and
// two atomic adds (the count in flight), no allocation; a waiter adds the semaphore's waiter (a channel, a list
// element) and, with [WithMaxWait], a context with a timer. Acquire and
// Release add, on any limiter, the bookkeeping that catches a permit
// released twice (two more short critical sections, no allocation once
// warm). A rejection allocates its [*RejectedError]. [Handler] adds one
// small allocation per request (the writer that records the status). No limiter reads the
// clock unless it needs time: Bulkhead reads none unless waiting with
// WithMaxWait.
package limit
