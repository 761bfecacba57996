package observe

import "context"

// Carrier holds what travels with a message across a process boundary: its
// headers. Its methods are those of OpenTelemetry's
// propagation.TextMapCarrier, so that an implementation of [Propagator] can
// hand a Carrier to an OpenTelemetry propagator as it is.
type Carrier interface {
	Get(key string) string // the value of key, or ""
	Set(key, value string) // sets key to value, replacing what it held
	Keys() []string        // the keys set
}

// Propagator is an [Observer] that also carries a call's context (a trace,
// say) from the process that sends a message to the one that handles it.
// jsqueue calls Inject on Put, with Put's ctx and an event of Kind
// [JobPut], to write into the message's headers; and Extract when it
// delivers the message, with the ctx the handler would run with and an
// event of Kind [JobDelivered], to read them back: the handler runs with
// the ctx Extract returns.
//
// Both are called synchronously and must not block. A panic in either is
// recovered and counted by [Dropped]: the message then travels (or the
// handler runs) without what the propagator would have added.
type Propagator interface {
	Observer
	Inject(ctx context.Context, e Event, c Carrier)
	Extract(ctx context.Context, e Event, c Carrier) context.Context
}

// Inject calls o.Inject(ctx, e, c) if o is a [Propagator], recovering a
// panic (counted by [Dropped]); otherwise it does nothing. o may be nil.
func Inject(ctx context.Context, o Observer, e Event, c Carrier) {
	p, ok := o.(Propagator)
	if !ok {
		return
	}
	if e.Time.IsZero() {
		e.Time = now()
	}
	safely(func() { p.Inject(ctx, e, c) })
}

// Extract calls o.Extract(ctx, e, c) if o is a [Propagator] and returns the
// ctx it returns; otherwise, or if it panics (counted by [Dropped]) or
// returns nil, it returns ctx. o may be nil.
func Extract(ctx context.Context, o Observer, e Event, c Carrier) (out context.Context) {
	p, ok := o.(Propagator)
	if !ok {
		return ctx
	}
	if e.Time.IsZero() {
		e.Time = now()
	}
	out = ctx
	defer func() {
		if recover() != nil {
			dropped.Add(1)
			out = ctx
		}
	}()
	if c := p.Extract(ctx, e, c); c != nil {
		out = c
	}
	return out
}

// Inject forwards to every one of m that is a Propagator, in turn.
func (m multi) Inject(ctx context.Context, e Event, c Carrier) {
	for _, o := range m {
		Inject(ctx, o, e, c)
	}
}

// Extract forwards to every one of m that is a Propagator, in turn, each
// getting the ctx the one before returned.
func (m multi) Extract(ctx context.Context, e Event, c Carrier) context.Context {
	for _, o := range m {
		ctx = Extract(ctx, o, e, c)
	}
	return ctx
}
