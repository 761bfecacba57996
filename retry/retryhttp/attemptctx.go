package retryhttp

import (
	"context"
	"time"
)

// The ctx of a request sent in an observed retry attempt: the attempt's
// values (its span) with the caller's cancellation (see call.prepare).

// inAttempt returns the ctx of a request sent in an observed attempt whose
// ctx, actx, retry ends when the attempt returns (it has a deadline of its
// own), and the func that ends it, which must be called. That ctx has
// actx's values, so that what the request does (its HTTPAttempt span, an
// instrumented base's) sits inside the retry attempt's span; actx's
// deadline (the earlier of the attempt's and c.ctx's), so that its Err is
// context.DeadlineExceeded when either passes; and c.ctx's cancellation,
// with its cause. It is not ended by the end of the attempt, since the body
// of the response it gets must stay readable after that.
func (c *call) inAttempt(actx context.Context) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(actx)
	dl, hasDL := actx.Deadline()
	if pdl, ok := c.ctx.Deadline(); ok && (!hasDL || pdl.Before(dl)) {
		dl, hasDL = pdl, true // an AttemptStart's ctx may not say c.ctx's deadline
	}
	var endDL context.CancelFunc
	if hasDL {
		ctx, endDL = context.WithDeadline(ctx, dl)
	}
	if c.ctx.Done() == nil { // c.ctx is never cancelled
		if endDL == nil {
			return context.WithCancel(ctx)
		}
		return ctx, endDL
	}
	ctx, cancel := context.WithCancelCause(ctx)
	req := c.ctx
	stop := context.AfterFunc(req, func() {
		if hasDL && req.Err() == context.DeadlineExceeded &&
			context.Cause(req) == context.DeadlineExceeded && !time.Now().Before(dl) {
			// c.ctx's deadline, which ctx has too, passed: ctx's own
			// timer ends it at the same instant, as DeadlineExceeded
			// (a cancel here would make its Err Canceled).
			return
		}
		cancel(context.Cause(req))
	})
	if !hasDL {
		return ctx, func() {
			stop()
			cancel(nil)
		}
	}
	// Once the deadline has passed, nothing can end ctx any more: stop
	// watching c.ctx then too, so that a body its caller never closes keeps
	// nothing on c.ctx (a long-lived one) past the deadline, as a request
	// sent without an observer keeps nothing. stopAtDL runs only if ctx
	// ends (its deadline, c.ctx's cancellation) before the closure below.
	stopAtDL := context.AfterFunc(ctx, func() { stop() })
	return ctx, func() {
		stopAtDL()
		stop()
		cancel(nil)
		endDL()
	}
}
