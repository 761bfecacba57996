package jsqueue

import (
	"context"
	"errors"
	"time"

	"github.com/async-patterns/async/observe"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// WithObserver makes o the observer of the queue's events, instead of the
// process's default ([observe.SetDefault]): JobPut for each Put and TryPut
// (Outcome OK, or Rejected with the error), JobDelivered for each delivery
// (with its attempt), JobDone, JobRetry (with the error and the delay) and
// JobDeadLetter (with the last error and the attempts), whether settled by
// hand or by [Serve]. WithObserver panics if o is nil, at once, as every
// package's WithObserver does.
func WithObserver(o observe.Observer) Option {
	if o == nil {
		panic("jsqueue: nil Observer passed to WithObserver")
	}
	return func(c *config) { c.obs = o }
}

// register enters q in the registry of live objects as kind "jsqueue",
// with its capacity; the depth, which takes a round trip to learn, is left
// to [Queue.Stats]. It leaves at Disconnect, or when collected.
func (q *Queue[T]) register(ctx context.Context) {
	q.reg = observe.Register(q, "jsqueue", q.name, observe.ObjectFrom(ctx), func(q *Queue[T]) observe.Gauges {
		return observe.Gauges{Capacity: q.cfg.capacity}
	})
}

// emit reports an event of q's, stamping Source, Name and Object.
func (q *Queue[T]) emit(ctx context.Context, e observe.Event) {
	if o := observe.Pick(q.cfg.obs); o != nil {
		e.Source, e.Name, e.Object = "jsqueue", q.name, q.reg.ID()
		observe.Emit(ctx, o, e)
	}
}

// putEnded reports the end of a Put or TryPut with the error it returns.
func (q *Queue[T]) putEnded(ctx context.Context, err error) {
	if observe.Pick(q.cfg.obs) == nil {
		return
	}
	out := observe.OK
	if err != nil {
		out = observe.Rejected
		if ctx.Err() != nil && errors.Is(err, context.Cause(ctx)) {
			out = observe.Cancelled
		}
	}
	q.emit(ctx, observe.Event{Kind: observe.JobPut, Outcome: out, Err: err})
}

// delivered reports d as delivered, and notes when, to time it.
func (d *Delivery[T]) delivered() {
	if observe.Pick(d.q.cfg.obs) == nil {
		return
	}
	d.at = time.Now()
	d.q.emit(d.extract(context.Background()), observe.Event{Kind: observe.JobDelivered, Attempt: d.Attempt})
}

// settled reports how d was settled (kind JobDone, JobRetry or
// JobDeadLetter), with the error of the settling (err) and the reason
// (cause) and delay of a retry or dead letter.
func (d *Delivery[T]) settled(kind observe.Kind, err, cause error, delay time.Duration) {
	if observe.Pick(d.q.cfg.obs) == nil {
		return
	}
	e := observe.Event{Kind: kind, Outcome: observe.OK, Attempt: d.Attempt, Err: cause, Wait: delay}
	if !d.at.IsZero() {
		e.Duration = time.Since(d.at)
	}
	switch {
	case err != nil:
		e.Outcome, e.Err = observe.Failed, errors.Join(cause, err)
	case kind == observe.JobRetry || kind == observe.JobDeadLetter:
		e.Outcome = observe.Failed
	}
	d.q.emit(context.Background(), e)
}

// register enters a running Serve in the registry of live objects as kind
// "jsqueue.serve", named after its queue, with its workers and the handlers
// running; it leaves when Serve returns.
func (s *serving[T]) register(ctx context.Context, workers int) {
	s.workers = workers
	s.reg = observe.Register(s, "jsqueue.serve", s.q.name, observe.ObjectFrom(ctx), func(s *serving[T]) observe.Gauges {
		return observe.Gauges{Running: int(s.running.Load()), Limit: s.workers}
	})
}

// header returns the headers of a message put with ctx: a non-empty id in
// the Nats-Msg-Id header, which JetStream deduplicates on, and what the
// observer injects when it is an observe.Propagator (a trace context); nil
// when there is neither.
func (q *Queue[T]) header(ctx context.Context, id string) nats.Header {
	var h nats.Header
	if id != "" {
		h = nats.Header{jetstream.MsgIDHeader: []string{id}}
	}
	if o := observe.Pick(q.cfg.obs); o != nil {
		if _, ok := o.(observe.Propagator); ok {
			if h == nil {
				h = nats.Header{}
			}
			observe.Inject(ctx, o, h)
			if len(h) == 0 {
				h = nil
			}
		}
	}
	return h
}

// extract returns ctx with what the observer, when it is an
// observe.Propagator, reads from d's headers (the trace context of its
// Put).
func (d *Delivery[T]) extract(ctx context.Context) context.Context {
	if o := observe.Pick(d.q.cfg.obs); o != nil {
		return observe.Extract(ctx, o, d.msg.Headers())
	}
	return ctx
}
