package jsqueue

import (
	"context"

	"github.com/async-patterns/async/observe"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// putHeader returns the headers a Put with ctx sends: the id JetStream
// deduplicates on, if any, and what the process's observer carries across
// processes (an [observe.Propagator], such as otelobserve's, writes the
// trace context here). nil when there is nothing to send: with no
// propagator set, a Put costs one atomic load and a nil check more.
func (q *Queue[T]) putHeader(ctx context.Context, id string) nats.Header {
	var h nats.Header
	if id != "" {
		h = nats.Header{jetstream.MsgIDHeader: []string{id}}
	}
	o, ok := observe.Pick(nil).(observe.Propagator)
	if !ok {
		return h
	}
	if h == nil {
		h = nats.Header{}
	}
	observe.Inject(ctx, o, observe.Event{Kind: observe.JobPut, Source: "jsqueue", Name: q.name}, headerCarrier(h))
	if len(h) == 0 {
		return nil
	}
	return h
}

// Context returns ctx with what d's message carries from the Put that sent
// it, for work done on d's behalf: the trace context, when the process's
// observer is an [observe.Propagator] (otelobserve's is), so that spans
// started with the returned ctx join the trace of the Put, in whatever
// process it ran. [Serve] hands its handler such a ctx. With no propagator
// set, Context returns ctx.
func (d *Delivery[T]) Context(ctx context.Context) context.Context {
	o, ok := observe.Pick(nil).(observe.Propagator)
	if !ok {
		return ctx
	}
	h := d.msg.Headers()
	if len(h) == 0 {
		return ctx
	}
	return observe.Extract(ctx, o, observe.Event{
		Kind: observe.JobDelivered, Source: "jsqueue", Name: d.q.name, Attempt: d.Attempt,
	}, headerCarrier(h))
}

// headerCarrier adapts a message's headers to [observe.Carrier].
type headerCarrier nats.Header

func (h headerCarrier) Get(key string) string { return nats.Header(h).Get(key) }
func (h headerCarrier) Set(key, value string) { nats.Header(h).Set(key, value) }
func (h headerCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}
