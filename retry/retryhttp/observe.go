package retryhttp

import (
	"net/http"
	"time"

	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/retry"
)

// WithObserver makes o the observer of this transport's events, instead of
// the process's default ([observe.SetDefault]): an HTTPAttempt event for
// each request sent to the base (its method, host, status, attempt number,
// error and duration), and the events of each request's retry loop
// (RetryAttempt and RetryGiveUp, named "METHOD host"). Its breakers report
// to their own observer (breaker.WithObserver) or the default. With an
// observe.AttemptObserver (a tracer), each request is sent inside its retry
// attempt: its ctx carries the values of the attempt's ctx (the
// retry.attempt span), then those AttemptStart added for the HTTP attempt,
// so that the HTTP attempt's span is a child of the retry attempt's, and
// what the base does (an instrumented transport's span, say) a child of
// the HTTP attempt's. That ctx keeps the caller's cancellation (with its
// cause) and deadline and the attempt's own deadline, and outlives the
// retry attempt, as the body of the response returned must. WithObserver
// panics if o is nil.
func WithObserver(o observe.Observer) Option {
	if o == nil {
		panic("retryhttp: nil Observer passed to WithObserver")
	}
	return func(c *config) { c.obs = o }
}

// retryOptions returns the options of req's retry loop: opts, and when an
// observer is set, that observer and a name for the loop.
func (t *Transport) retryOptions(req *http.Request, opts []retry.Option) []retry.Option {
	o := observe.Pick(t.obs)
	if o == nil {
		return opts
	}
	return append(opts[:len(opts):len(opts)], retry.WithObserver(o), retry.WithName(req.Method+" "+req.URL.Host))
}

// exchange sends o.req through the base (see roundTrip) and sets o.resp
// and o.err. With an observer set it reports the exchange as attempt n.
func (t *Transport) exchange(n int, o *outcome) {
	obs := observe.Pick(t.obs)
	if obs == nil {
		o.resp, o.err = t.roundTrip(o.ctx, o.req)
		return
	}
	e := observe.Event{
		Kind: observe.HTTPAttempt, Source: "retryhttp", Name: o.req.URL.Host,
		Method: o.req.Method, Host: o.req.URL.Host, Attempt: n,
	}
	ctx := observe.StartAttempt(o.ctx, obs, e)
	if ctx != o.ctx {
		if o.ownReq {
			*o.req = *o.req.WithContext(ctx) // a copy prepare made: reused
		} else {
			o.req = o.req.WithContext(ctx)
		}
	}
	start := time.Now()
	o.resp, o.err = t.roundTrip(ctx, o.req)
	e.Duration = time.Since(start)
	e.Outcome, e.Err = observe.OK, o.err
	if o.resp != nil {
		e.Status = o.resp.StatusCode
	}
	if o.err != nil || e.Status >= 500 || e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests {
		e.Outcome = observe.Failed
	}
	observe.Emit(ctx, obs, e)
}
