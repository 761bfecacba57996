package retryhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/retry"
)

// AttemptsOf returns how many attempts of the retry policy it took to get
// resp from a [Transport]: 1 for the first. It is what a caller logs when
// the retries ran out on a status and RoundTrip returned the last response.
// A hedged attempt counts once. A response that did not come through a
// Transport reports 1; a nil response 0.
//
// The count rides on the context of resp.Request, which the Transport sets
// to the request of the attempt that got resp (as http.Transport does), so
// it survives http.Client, which returns the RoundTripper's response with
// its body wrapped but resp.Request untouched.
func AttemptsOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	if info := infoOf(resp); info != nil {
		return info.attempts
	}
	return 1
}

// StopOf returns why the retries ended on resp, when RoundTrip returned a
// response that the retry policy would have retried (a 503, say): the
// *retry.Error the retry loop ended with, whose message says why and after
// how many attempts. It matches the last attempt's [*StatusError]; it
// matches retry.ErrExhausted when a bound of the policy ended the retries
// (the attempt limit, the time budget, or a wait that would pass the ctx's
// deadline); and it holds a [*HintError] (errors.As) when the server's
// Retry-After did: a wait longer than [WithMaxRetryAfter], or one past the
// deadline. StopOf returns nil for a response that was not to be retried (a
// success, a 404), for a response that did not come through a Transport,
// and for a nil response. It rides on resp.Request's context, as
// [AttemptsOf] does.
func StopOf(resp *http.Response) error {
	if info := infoOf(resp); info != nil {
		return info.stop
	}
	return nil
}

// callKey is the context key of a *callInfo on the Request of a response
// that took more than one attempt or that the retries stopped on.
type callKey struct{}

// callInfo is what AttemptsOf and StopOf report.
type callInfo struct {
	attempts int
	stop     error // the retry loop's error when it ended on this response; else nil
}

// infoOf returns the callInfo on resp.Request's context, or nil.
func infoOf(resp *http.Response) *callInfo {
	if resp == nil || resp.Request == nil {
		return nil
	}
	info, _ := resp.Request.Context().Value(callKey{}).(*callInfo)
	return info
}

// call is the state of one RoundTrip. It lives on RoundTrip's stack and is
// used by RoundTrip's goroutine only.
type call struct {
	t        *Transport
	req      *http.Request
	ctx      context.Context // req's: bounds the whole
	n        int             // attempts started
	bodyUsed bool            // req.Body has been handed on (to the base, or to a breaker that may reject it)
	won      outcome         // the outcome to return, once an attempt is not retried
	last     outcome         // the last attempt's response, when it was retried (its body read into memory)
}

// outcome is what one request sent to the base transport came back with.
type outcome struct {
	resp   *http.Response
	err    error
	req    *http.Request      // the request as sent
	ownReq bool               // req is a copy of the caller's, made for this outcome
	ctx    context.Context    // req's ctx
	cancel context.CancelFunc // ends ctx; nil when ctx is the caller's
}

// release cancels o's context and closes its body, if any.
func (o *outcome) release() {
	if o.resp != nil {
		o.resp.Body.Close()
		o.resp = nil
	}
	if o.cancel != nil {
		o.cancel()
		o.cancel = nil
	}
}

// attempt is the function retry.Do calls: one attempt, hedged or not. actx
// is the ctx retry gives it: the caller's, or a child with the attempt's
// deadline, which retry cancels when attempt returns.
func (c *call) attempt(actx context.Context) error {
	c.n++
	c.last.release()
	if c.t.hedge > 0 && isHTTP(c.req.URL.Scheme) {
		return c.hedged(actx)
	}
	o, err := c.send(actx, false)
	if err != nil {
		return err
	}
	return c.judge(actx, o)
}

// send builds the request of one attempt and sends it. The request's ctx is
// the caller's, or, when the attempt has its own deadline or own is set, a
// child of it that send's caller must cancel. The attempt's deadline is
// copied rather than inherited from actx, which retry cancels when the
// attempt returns, because a response's body must stay readable after that.
// With an observe.AttemptObserver set, the request's ctx also carries
// actx's values (the attempt's span; see inAttempt).
func (c *call) send(actx context.Context, own bool) (outcome, error) {
	o, err := c.prepare(actx, own)
	if err != nil {
		return o, err
	}
	c.t.exchange(c.n, &o)
	return o, nil
}

// prepare builds the request of one attempt, with its ctx (see send).
func (c *call) prepare(actx context.Context, own bool) (outcome, error) {
	o := outcome{ctx: c.ctx}
	base := c.ctx // what the request's ctx derives from
	if actx != c.ctx {
		if _, ok := observe.Pick(c.t.obs).(observe.AttemptObserver); ok {
			if actx.Done() == c.ctx.Done() {
				// actx is c.ctx with values (the attempt's span, as
				// AttemptStart made it): its cancellation is c.ctx's,
				// and retry does not end it when the attempt returns.
				base = actx
			} else {
				o.ctx, o.cancel = c.inAttempt(actx)
			}
		}
	}
	if o.cancel == nil {
		o.ctx = base
		if dl, ok := actx.Deadline(); ok && actx != c.ctx {
			if pdl, pok := c.ctx.Deadline(); !pok || dl.Before(pdl) {
				o.ctx, o.cancel = context.WithDeadline(base, dl)
			}
		}
		if own && o.cancel == nil {
			o.ctx, o.cancel = context.WithCancel(base)
		}
	}
	r := c.req
	if o.ctx != c.ctx {
		r = r.WithContext(o.ctx)
	}
	if c.bodyUsed && r.Body != nil && r.Body != http.NoBody {
		body, err := c.req.GetBody()
		if err != nil {
			o.release()
			return o, retry.Permanent(fmt.Errorf("retryhttp: rewinding the request body: req.GetBody: %w", err))
		}
		if r == c.req {
			r = r.WithContext(o.ctx)
		}
		r.Body = body
	}
	c.bodyUsed = true
	o.req, o.ownReq = r, r != c.req
	return o, nil
}

// retries reports whether the retry policy would want another attempt
// after o. If the classifier panics, o is released (and retry.Do reports
// the panic).
func (c *call) retries(o *outcome) (again bool) {
	returned := false
	defer func() {
		if !returned {
			o.release()
		}
	}()
	if o.err != nil {
		var p *PanicError
		again = !errors.As(o.err, &p) && c.t.retryIf(nil, o.err)
	} else {
		again = c.t.retryIf(o.resp, nil)
	}
	returned = true
	return again
}

// judge turns the outcome of an attempt into what retry.Do sees: nil for a
// response not to be retried (kept in c.won), the error for a retryable
// failure (a response kept in c.last, its body read into memory), or a
// Permanent error.
func (c *call) judge(actx context.Context, o outcome) error {
	if o.err != nil {
		if o.cancel != nil {
			if o.ctx.Err() == context.DeadlineExceeded && c.ctx.Err() == nil {
				// The attempt's own deadline passed. retry.Do retries such
				// an attempt if it sees actx done, which it is at the same
				// instant; wait for its timer to have fired.
				<-actx.Done()
			}
			o.cancel()
		}
		if !c.retries(&o) {
			return retry.Permanent(o.err)
		}
		return c.limitHint(o.err)
	}
	if o.resp.Request == nil {
		o.resp.Request = o.req
	}
	if !c.retries(&o) {
		c.won = o
		return nil
	}
	c.hold(&o)
	c.last = o
	err := error(statusError(o.resp))
	if d, ok := parseRetryAfter(o.resp.Header.Get("Retry-After"), time.Now()); ok {
		err = retry.After(d, err)
	}
	return c.limitHint(err)
}

// finish turns the end of the retry loop into RoundTrip's result.
func (c *call) finish(err error) (*http.Response, error) {
	if !c.bodyUsed {
		closeBody(c.req)
	}
	o := c.won
	if err != nil {
		if c.last.resp == nil || c.ctx.Err() != nil {
			c.last.release()
			return nil, err
		}
		// The retries ran out on a response: it is the answer.
		o, c.last = c.last, outcome{}
	}
	resp := o.resp
	if c.n > 1 || err != nil {
		r := resp.Request
		resp.Request = r.WithContext(context.WithValue(r.Context(), callKey{}, &callInfo{attempts: c.n, stop: err}))
	}
	if o.cancel != nil {
		resp.Body = cancelOnClose(resp.Body, o.cancel)
	}
	return resp, nil
}
