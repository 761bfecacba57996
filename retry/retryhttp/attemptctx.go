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
// instrumented base's) sits inside the retry attempt's span; c.ctx's
// cancellation and deadline, with their Err and cause, as a child of c.ctx
// has; and the attempt's deadline when it is the earlier, ending it as
// context.DeadlineExceeded. It is not ended by the end of the attempt,
// since the body of the response it gets must stay readable after that.
//
// It is a child, made by package context, of an inAttemptCtx: package
// context links it to c.ctx's cancellation as it would a child of c.ctx
// (in c.ctx's children, or with a context.AfterFunc for a ctx it cannot see
// into), and unlinks it when it ends, by its cancel or its own deadline.
func (c *call) inAttempt(actx context.Context) (context.Context, context.CancelFunc) {
	p := &inAttemptCtx{Context: context.WithoutCancel(actx), req: c.ctx}
	if dl, ok := actx.Deadline(); ok {
		if pdl, pok := c.ctx.Deadline(); !pok || dl.Before(pdl) {
			return context.WithDeadline(p, dl)
		}
	}
	return context.WithCancel(p)
}

// inAttemptCtx has the values of an attempt's ctx (Context, which is never
// cancelled) and the cancellation and deadline of req, the caller's ctx.
type inAttemptCtx struct {
	context.Context // context.WithoutCancel of the attempt's ctx
	req             context.Context
}

func (p *inAttemptCtx) Deadline() (time.Time, bool) { return p.req.Deadline() }
func (p *inAttemptCtx) Done() <-chan struct{}       { return p.req.Done() }
func (p *inAttemptCtx) Err() error                  { return p.req.Err() }

// Value is the attempt ctx's value for key, or, where it has none, req's.
// The second is how package context finds req's cancellation, and its
// cause, for p (context.WithoutCancel hides the attempt's); for any other
// key, the attempt's ctx, derived from req, has req's values already.
func (p *inAttemptCtx) Value(key any) any {
	if v := p.Context.Value(key); v != nil {
		return v
	}
	return p.req.Value(key)
}

// AfterFunc lets package context watch req for p's children without a
// goroutine of its own when req is a ctx it cannot see into.
func (p *inAttemptCtx) AfterFunc(f func()) func() bool { return context.AfterFunc(p.req, f) }
