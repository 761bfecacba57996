package breaker

import (
	"context"
	"errors"

	"github.com/async-patterns/async/observe"
)

// WithObserver makes o the observer of this breaker's events (changes of
// state, rejections, a shared store's outage and re-join), instead of the
// process's default ([observe.SetDefault]). In a [Group], every breaker
// gets it. WithObserver panics if o is nil.
func WithObserver(o observe.Observer) Option {
	if o == nil {
		panic("breaker: nil Observer passed to WithObserver")
	}
	return func(c *config) { c.obs = o }
}

// register enters b in the registry of live objects. A breaker needs no
// closing: it leaves when it is collected.
func (b *Breaker) register() {
	b.reg = observe.Register(b, "breaker", b.cfg.name, 0, (*Breaker).gauges)
}

func (b *Breaker) gauges() observe.Gauges {
	return observe.Gauges{State: b.State().String()}
}

// watchedLocked reports whether changes of state must be queued for
// delivery: for the hook, or for an observer. b.mu is held.
func (b *Breaker) watchedLocked() bool {
	return b.cfg.onStateChange != nil || observe.Pick(b.cfg.obs) != nil
}

// emitChange reports a change of state; flush calls it in order, outside
// the lock, before the hook.
func (b *Breaker) emitChange(from, to State) {
	if o := observe.Pick(b.cfg.obs); o != nil {
		observe.Emit(context.Background(), o, observe.Event{
			Kind: observe.BreakerStateChange, Source: "breaker", Name: b.cfg.name, Object: b.reg.ID(),
			From: from.String(), To: to.String(),
		})
	}
}

// noteRejected reports err if it is a rejection, and returns it.
func (b *Breaker) noteRejected(ctx context.Context, err error) error {
	if o := observe.Pick(b.cfg.obs); o != nil {
		var re *RejectedError
		if errors.As(err, &re) {
			observe.Emit(ctx, o, observe.Event{
				Kind: observe.BreakerRejected, Outcome: observe.Rejected, Source: "breaker", Name: b.cfg.name,
				Object: b.reg.ID(), Err: err, Wait: re.RetryAfter(),
			})
		}
	}
	return err
}

// emitStore reports the store failing (err not nil) or answering again.
// With no observer set it goes to log/slog's default logger
// (observe.Fallback): an outage is never silent.
func (b *Breaker) emitStore(err error) {
	e := observe.Event{Kind: observe.BreakerStoreUp, Outcome: observe.OK, Source: "breaker", Name: b.cfg.name, Object: b.reg.ID()}
	if err != nil {
		e.Kind, e.Outcome, e.Err = observe.BreakerStoreDown, observe.Failed, err
	}
	observe.Emit(context.Background(), observe.Fallback(b.cfg.obs), e)
}
