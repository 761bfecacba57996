package retry

import (
	"context"
	"time"

	"github.com/async-patterns/async/observe"
)

// WithObserver makes o the observer of this call's events (each attempt's
// end, and the give-up), instead of the process's default
// ([observe.SetDefault]). WithObserver panics if o is nil, at once, as
// every package's WithObserver does: a nil observer is a bug at the place
// the observer is installed, not in some later call.
func WithObserver(o observe.Observer) Option {
	if o == nil {
		panic("retry: nil Observer passed to WithObserver")
	}
	return func(c *config) { c.obs = o }
}

// WithName names the operation retried in its events ("fetch prices",
// "GET api.example.com"); retryhttp names its retries after the request's
// method and host.
func WithName(name string) Option {
	return func(c *config) { c.name = name }
}

// observed is do's path when an observer is set: the same attempts and
// decisions, with each attempt reported as it ends (a RetryAttempt event,
// whose Wait is the wait before the next attempt, 0 for the last) and a
// RetryGiveUp event when the call fails. With an observe.AttemptObserver,
// each attempt runs with the ctx its AttemptStart returned.
func observed(ctx context.Context, fn func(context.Context) error, c *config, o observe.Observer) error {
	st := &attemptLog{o: o, name: c.name, start: time.Now()}
	cc := *c
	onRetry := c.onRetry
	cc.onRetry = func(n int, err error, wait time.Duration) {
		st.report(observe.Failed, err, wait)
		st.waited += wait
		if onRetry != nil {
			onRetry(n, err, wait)
		}
	}
	wfn := func(ctx context.Context) error { return st.attempt(ctx, fn) }
	timedOut, err := attempt(ctx, cc.attemptTimeout, wfn)
	if err != nil {
		err = retryLoop(ctx, &cc, wfn, st.start, timedOut, err)
	}
	if err == nil {
		return nil
	}
	last := err
	if e, ok := err.(*Error); ok {
		last = e.Last
	}
	out := observe.Failed
	if isPanic(last) {
		out = observe.Panicked
	}
	st.report(out, last, 0) // the last attempt, if not reported yet
	give := out
	if ctx.Err() != nil {
		give = observe.Cancelled
	}
	observe.Emit(ctx, o, observe.Event{
		Kind: observe.RetryGiveUp, Outcome: give, Source: "retry", Name: c.name,
		Attempt: st.n, Err: err, Duration: time.Since(st.start), Wait: st.waited,
	})
	return err
}

// attemptLog follows the attempts of one observed call.
type attemptLog struct {
	o      observe.Observer
	name   string
	start  time.Time     // the call's
	waited time.Duration // between attempts so far

	n       int             // attempts begun
	actx    context.Context // the running or last attempt's ctx, as AttemptStart returned it
	began   time.Time       // when it began
	took    time.Duration   // how long it took, once it ended
	pending bool            // it ended and is not reported yet
}

// attempt makes attempt n+1 with fn, reporting it at once if it succeeds.
func (st *attemptLog) attempt(ctx context.Context, fn func(context.Context) error) error {
	st.n++
	st.actx = observe.StartAttempt(ctx, st.o, observe.Event{
		Kind: observe.RetryAttempt, Source: "retry", Name: st.name, Attempt: st.n,
	})
	st.began = time.Now()
	st.pending = false
	defer func() {
		st.took = time.Since(st.began)
		st.pending = true
	}()
	err := fn(st.actx)
	if err == nil {
		st.took = time.Since(st.began)
		st.pending = true
		st.report(observe.OK, nil, 0)
	}
	return err
}

// report reports the attempt that ended last, once.
func (st *attemptLog) report(out observe.Outcome, err error, wait time.Duration) {
	if !st.pending {
		return
	}
	st.pending = false
	observe.Emit(st.actx, st.o, observe.Event{
		Kind: observe.RetryAttempt, Outcome: out, Source: "retry", Name: st.name,
		Attempt: st.n, Err: err, Duration: st.took, Wait: wait,
	})
}
