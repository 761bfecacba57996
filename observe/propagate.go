package observe

import "context"

// Propagator is an [Observer] that also carries what a ctx holds (a trace
// context, say) from one process to another in a message's headers, as
// OpenTelemetry's propagators do: package jsqueue calls Inject as a value
// is put, with the Put's ctx and the headers of the message it publishes,
// and Extract as it delivers the message, with the headers it carries; a
// jsqueue.Serve handler runs with the ctx Extract returned. header is a
// nats.Header or an http.Header (both map[string][]string).
//
// A panic in either method is recovered and counted by [Dropped]: Inject
// then adds nothing more, and Extract returns the ctx it was given.
type Propagator interface {
	Observer
	Inject(ctx context.Context, header map[string][]string)
	Extract(ctx context.Context, header map[string][]string) context.Context
}

// Inject calls o.Inject(ctx, header) if o is a [Propagator], recovering a
// panic; otherwise it does nothing.
func Inject(ctx context.Context, o Observer, header map[string][]string) {
	p, ok := o.(Propagator)
	if !ok {
		return
	}
	safely(func() { p.Inject(ctx, header) })
}

// Extract returns o.Extract(ctx, header) if o is a [Propagator] (ctx if it
// panics or returns nil), and ctx otherwise.
func Extract(ctx context.Context, o Observer, header map[string][]string) (out context.Context) {
	p, ok := o.(Propagator)
	if !ok {
		return ctx
	}
	out = ctx
	safely(func() {
		if c := p.Extract(ctx, header); c != nil {
			out = c
		}
	})
	return out
}
