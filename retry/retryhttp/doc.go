// Package retryhttp provides an http.RoundTripper that retries requests with
// the retry package's policy, honours Retry-After, can guard each host with a
// circuit breaker, and can hedge slow requests.
//
// A [Transport] wraps a base transport (http.DefaultTransport unless
// [WithBase] says otherwise); [NewClient] returns an *http.Client using one.
//
//	client := retryhttp.NewClient(
//		retryhttp.WithRetry(retry.WithMaxAttempts(4), retry.WithAttemptTimeout(2*time.Second)),
//		retryhttp.WithBreakers(breaker.NewGroup(breaker.WithConsecutiveFailures(5))),
//	)
//	resp, err := client.Do(req) // err: nothing came back; resp: the answer, maybe a 503 after 4 tries
//
// # Contract
//
//   - What is retried: requests whose method is idempotent (GET, HEAD,
//     OPTIONS, TRACE, PUT, DELETE) or that carry an Idempotency-Key header, or
//     every method [WithAllMethods]; never a request whose body cannot be
//     rewound (a body without GetBody), which is sent once. Every attempt
//     gets the same body, from GetBody.
//   - When: by default ([Retryable]) after a transport error, or a 408, 429,
//     502, 503 or 504 response; [WithRetryIf] changes that.
//   - How long to wait: retry's backoff, stretched to the server's
//     Retry-After (in seconds or as an HTTP-date) when a retried response
//     carries one, through retry.After. The retry package is deadline-aware:
//     a wait that would end past the request ctx's deadline is not started,
//     and the last response is returned at once. A hint longer than
//     [WithMaxRetryAfter] ends the retries the same way. A Retry-After of
//     more seconds than a Duration holds, however many digits, is read as
//     the largest Duration: a very long wait, not garbage.
//   - What comes back: the first response that is not retried; or, when the
//     retries run out on a retried response, that last response, its body
//     unread by the caller, with a nil error, as a plain http.Transport would
//     return it ([AttemptsOf] tells how many attempts it took, [StopOf] why
//     they ended); or an error (a *retry.Error) when the last attempt got no
//     response or the request's ctx ended. When a wait hint ended the
//     retries (longer than [WithMaxRetryAfter], or past the deadline),
//     StopOf's error, or RoundTrip's, holds a [*HintError] saying which.
//   - Connections are reused: the body of every response not returned is
//     read (up to 64 KiB, which the last response keeps in memory in case it
//     is returned) and closed before the next attempt.
//   - Bounds: the request's ctx bounds the whole, waits included;
//     retry.WithAttemptTimeout bounds each attempt, including the reading of
//     the body of the response returned (its context ends when the body is
//     closed).
//   - Breakers ([WithBreakers]): one per host; a rejection is not sent, and
//     its RetryAfter is waited for like a Retry-After. Only transport errors
//     and 5xx responses count as failures.
//   - Limiters ([WithLimiters]): one per host, made on the host's first
//     request; each attempt acquires a permit before the breaker and the
//     base see it. A refusal is not sent, never counts against the
//     breaker, and its RetryAfter is waited for like a Retry-After. A
//     server that sheds load with limit.Handler (503 and Retry-After) is
//     honoured the same way.
//   - Hedging ([WithHedge]): a second copy of a slow attempt; the first
//     outcome that would not be retried wins, the other copy is cancelled
//     and its body closed.
//   - Refused before sending: a request that net/http refuses before dialing
//     (a header or trailer name that is not a token, a value with a control
//     character, a method that is not a token, no host, a nil Header) is the
//     caller's bug: RoundTrip checks for it before the first attempt and
//     returns an error matching [ErrInvalidRequest] without sending it, so it
//     is never retried and never counts against the host's breaker. A
//     request whose scheme is neither http nor https (ftp, say) is sent to
//     the base once, unhedged and outside the breakers, and what the base
//     returns comes back. Both are decided from the request, not from the
//     text of the base's errors.
//   - Budget ([WithBudget]): a retry.Budget shared with other clients and
//     calls bounds the retries and hedged copies of all of them together
//     (each request deposits, each retry and each copy spends); a refused
//     retry ends the request as the attempt limit does, a refused copy is
//     not sent.
//   - No goroutine outlives RoundTrip. Bad options panic in [New] with a
//     message starting "retryhttp: "; a request that cannot be served as
//     configured (hedging a POST) gets an error naming the reason.
//
// # Costs
//
// A first-try success with no per-attempt timeout, breaker or hedge adds a
// check of the method, a scan of every header name and value, and a call
// of the retry loop to the base transport: no allocation, no clock read, no
// goroutine. A breaker adds its own bookkeeping (no allocation on success),
// a limiter its own Acquire and Release and a lookup of the host's limiter
// in a sync.Map. A per-attempt timeout adds, per
// attempt, two contexts with timers (retry's, and the one that keeps the
// returned body readable after retry has ended the attempt), a copy of the
// request and a body wrapper. A retry adds a copy of the request and keeps
// the body of the retried response in memory, and a response returned after
// more than one attempt, or that the retries stopped on, carries one small
// record for AttemptsOf and StopOf; a hedged attempt adds a
// timer, a channel, and a goroutine, a context and a copy of the request per
// copy sent. With an observe.AttemptObserver set and a per-attempt
// timeout, the ctx that sends each attempt's request inside the attempt
// (see [WithObserver]) is a context.WithoutCancel and a small context
// joining it to the request's cancellation more than the per-attempt
// timeout alone costs; without a per-attempt timeout, nothing more. A budget adds a Deposit per request (two atomic operations)
// and, per retry or hedged copy, a short critical section and a clock read.
package retryhttp
