package limit

import (
	"context"

	"github.com/async-patterns/async/observe"
)

// WithObserver makes o the observer of the limiter's rejections (a
// LimitRejected event each, with the *RejectedError and its RetryAfter),
// instead of the process's default ([observe.SetDefault]). It applies to
// every limiter. WithObserver panics if o is nil.
func WithObserver(o observe.Observer) Option {
	if o == nil {
		panic("limit: nil Observer passed to WithObserver")
	}
	return func(c *config) { c.obs = o; c.note("WithObserver") }
}

// observed is what a limiter needs to report itself.
type observed struct {
	reg    *observe.Entry
	obs    observe.Observer // WithObserver's, or nil for the default
	name   string
	nested bool // part of another object, which reports for it (nested.go)
}

// register enters l in the registry of live objects as kind ("limit.rate",
// ...), reading its gauges from stats. A limiter needs no closing: it
// leaves when it is collected. A nested limiter does not register.
func register[T any](l *T, ob *observed, c config, kind string, stats func(*T) Stats) {
	ob.obs, ob.name, ob.nested = c.obs, c.name, c.nested
	if c.nested {
		return
	}
	ob.reg = observe.Register(l, kind, c.name, 0, func(l *T) observe.Gauges {
		s := stats(l)
		return observe.Gauges{Limit: s.Limit, Running: s.InFlight, Queued: s.Queued}
	})
}

// rejected reports the rejection err of a caller with ctx, unless the
// limiter is nested (its owner reports it), and returns it.
func (ob *observed) rejected(ctx context.Context, err *RejectedError) error {
	if ob.nested {
		return err
	}
	if o := observe.Pick(ob.obs); o != nil {
		observe.Emit(ctx, o, observe.Event{
			Kind: observe.LimitRejected, Outcome: observe.Rejected, Source: "limit", Name: ob.name,
			Object: ob.reg.ID(), Err: err, Wait: err.RetryAfter(),
		})
	}
	return err
}
