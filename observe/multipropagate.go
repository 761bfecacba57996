package observe

import "context"

// Inject forwards to every one of m that is a [Propagator], in turn, so
// that Multi(otelObserver, slogObserver) still carries the trace context.
func (m multi) Inject(ctx context.Context, header map[string][]string) {
	for _, o := range m {
		Inject(ctx, o, header)
	}
}

// Extract forwards to every one of m that is a [Propagator], in turn, each
// getting the ctx the one before returned.
func (m multi) Extract(ctx context.Context, header map[string][]string) context.Context {
	for _, o := range m {
		ctx = Extract(ctx, o, header)
	}
	return ctx
}
