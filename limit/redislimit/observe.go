package redislimit

import (
	"context"
	"errors"

	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/observe"
)

// register enters the limiter l in the registry of live objects as kind
// ("redislimit.rate" or "redislimit.semaphore"), reading its gauges from
// stats: Limit, Running (the permits held) and State ("shared" while it
// decides on Redis, "local" on its local share). It leaves at Close.
func register[T any](l *T, ln *link, kind string, stats func(*T) limit.Stats) {
	ln.reg = observe.Register(l, kind, ln.name, 0, func(l *T) observe.Gauges {
		s := stats(l)
		state := "local"
		if ln.shared() {
			state = "shared"
		}
		return observe.Gauges{Limit: s.Limit, Running: s.InFlight, State: state}
	})
}

// rejected reports the refusal err of a caller with ctx (a LimitRejected
// event), and returns it.
func (l *link) rejected(ctx context.Context, err error) error {
	if o := observe.Pick(l.obs); o != nil {
		var re *limit.RejectedError
		if errors.As(err, &re) {
			observe.Emit(ctx, o, observe.Event{
				Kind: observe.LimitRejected, Outcome: observe.Rejected, Source: "redislimit", Name: l.name,
				Object: l.reg.ID(), Err: err, Wait: re.RetryAfter(),
			})
		}
	}
	return err
}

// emit reports the change of status r: a LimitSharedDown or a
// LimitSharedUp event, to the observer, or with none set (and no
// [WithLogger]) to log/slog's default logger (observe.Fallback).
func (l *link) emit(r report) {
	e := observe.Event{Kind: observe.LimitSharedUp, Outcome: observe.OK, Source: "redislimit", Name: l.name, Object: l.reg.ID()}
	if r.down {
		e.Kind, e.Outcome, e.Err = observe.LimitSharedDown, observe.Failed, r.err
	}
	o := observe.Pick(l.obs)
	if l.logger == nil {
		o = observe.Fallback(l.obs)
	}
	if o != nil {
		observe.Emit(context.Background(), o, e)
	}
}
