package breaker

import (
	"context"

	"github.com/async-patterns/async/internal/safe"
)

// call is one call of [Breaker.Do] on its way through gobreaker's Execute.
// It lives on Do's stack, and the closure Do hands to Execute captures only
// a pointer to it and fn: a success costs Do no more than building that
// closure, two open-coded defers and the call of fn. (fn stays out of call:
// escape analysis would see it leak with c's other contents, and
// DoValue's closure would then be allocated.)
//
// A Goexit in fn cannot be stopped, and gobreaker would not count it at all
// (its recover sees nothing), which would leave a half-open probe permit
// taken for good. So catch turns it into a panic of errGoexit, which
// gobreaker counts as a failure and panics again, and unwind, deferred by
// Do, recovers it, letting the Goexit go on. A panic in fn is recovered by
// catch, as a *PanicError, so that gobreaker counts a failure and Do
// returns it as fn's error.
type call struct {
	b        *Breaker
	ctx      context.Context
	err      error // what Do returns: fn's error, or its panic as a *PanicError
	returned bool  // fn returned
	goexit   bool  // fn called runtime.Goexit: errGoexit is crossing Execute
}

// catch is deferred by the function Execute runs, around fn: if fn
// panicked, the call is a failure and Do returns the panic as an error;
// if fn called runtime.Goexit, it panics errGoexit for gobreaker to count.
func (c *call) catch(verdict *error) {
	if c.returned {
		return
	}
	r := recover()
	c.err = safe.Recovered(r)
	if r == nil {
		c.goexit = true
		panic(errGoexit)
	}
	*verdict = errFailure
}

// unwind is deferred by Do: it stops the errGoexit panic catch started
// once gobreaker has counted it (the Goexit goes on), and runs the hook for
// the changes that failure made.
func (c *call) unwind() {
	if c.goexit {
		recover()
		c.b.flush()
	}
}

// outcome is what gobreaker is told of fn's non-nil error c.err: a
// failure, a success, or excluded ([Exclude]'s mark is taken off c.err).
func (c *call) outcome() error {
	if e, ok := c.err.(*excludedError); ok {
		c.err = e.err
		return errExcluded
	}
	return c.b.verdict(c.ctx, c.err)
}
