package otelobserve

import (
	"context"
	"sync/atomic"

	"github.com/async-patterns/async/observe"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// attemptKey finds, in an attempt's ctx, the span AttemptStart started for
// it.
type attemptKey struct{}

// attemptSpan is an attempt's span and the kind of attempt it is, so that
// only the event that ends that attempt ends it, once. It is also the
// attempt's ctx (the one tracer.Start returned, under the span), so that
// finding it costs no context of its own.
type attemptSpan struct {
	context.Context
	span  trace.Span
	kind  observe.Kind
	ended atomic.Bool
}

// Value returns the attemptSpan itself for attemptKey.
func (a *attemptSpan) Value(key any) any {
	if key == (attemptKey{}) {
		return a
	}
	return a.Context.Value(key)
}

var (
	internalSpan = trace.WithSpanKind(trace.SpanKindInternal)
	clientSpan   = trace.WithSpanKind(trace.SpanKindClient)
)

// AttemptStart starts the span of a retry attempt ("retry.attempt", with
// retry.attempt) or of a retryhttp attempt ("http.attempt", with
// http.request.method, server.address and, from the second attempt on,
// http.request.resend_count), a child of ctx's span. The attempt runs with
// the ctx returned, so that spans it starts are the attempt's children; the
// event that reports its end ends the span.
func (o *Observer) AttemptStart(ctx context.Context, e observe.Event) context.Context {
	if !o.spans || (e.Kind != observe.RetryAttempt && e.Kind != observe.HTTPAttempt) {
		return ctx
	}
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs, KeyKind.String(e.Source))
	if e.Name != "" {
		attrs = append(attrs, KeyName.String(e.Name))
	}
	kind := internalSpan
	if e.Kind == observe.RetryAttempt {
		attrs = append(attrs, KeyRetryAttempt.Int(e.Attempt))
	} else {
		kind = clientSpan
		attrs = append(attrs, attribute.String("http.request.method", e.Method), attribute.String("server.address", e.Host))
		if e.Attempt > 1 {
			attrs = append(attrs, attribute.Int("http.request.resend_count", e.Attempt-1))
		}
	}
	sctx, span := o.tracer.Start(ctx, e.Kind.String(), kind, trace.WithAttributes(attrs...))
	if !span.IsRecording() {
		return ctx // not sampled, or a no-op tracer: nothing to end
	}
	return &attemptSpan{Context: sctx, span: span, kind: e.Kind}
}

// endAttempt ends the span AttemptStart started for the attempt e reports,
// with e's outcome.
func endAttempt(ctx context.Context, e observe.Event) {
	as, _ := ctx.Value(attemptKey{}).(*attemptSpan)
	if as == nil || as.kind != e.Kind || as.ended.Swap(true) {
		return
	}
	s := as.span
	if e.Status != 0 {
		s.SetAttributes(KeyOutcome.String(e.Outcome.String()), attribute.Int("http.response.status_code", e.Status))
	} else {
		s.SetAttributes(KeyOutcome.String(e.Outcome.String()))
	}
	if e.Err != nil {
		s.SetAttributes(KeyErrorType.String(errorType(e.Err)))
		s.RecordError(e.Err)
	}
	if e.Outcome != observe.OK {
		desc := ""
		if e.Err != nil {
			desc = e.Err.Error()
		}
		s.SetStatus(codes.Error, desc)
	}
	s.End()
}

// taskSpan records a task's run as a span, from its TaskEnd event.
func (o *Observer) taskSpan(ctx context.Context, e observe.Event) {
	name := e.Source + ".task"
	attrs := []attribute.KeyValue{KeyKind.String(e.Source), KeyOutcome.String(e.Outcome.String())}
	if e.Name != "" {
		attrs = append(attrs, KeyName.String(e.Name))
	}
	if e.Task != "" {
		attrs = append(attrs, attribute.String("async.task", e.Task))
	}
	_, s := o.tracer.Start(ctx, name, trace.WithTimestamp(e.Time.Add(-e.Duration)), trace.WithAttributes(attrs...))
	if e.Err != nil {
		s.SetAttributes(KeyErrorType.String(errorType(e.Err)))
		s.RecordError(e.Err)
	}
	if e.Outcome != observe.OK {
		s.SetStatus(codes.Error, e.Outcome.String())
	}
	s.End(trace.WithTimestamp(e.Time))
}

// Inject writes the trace context of a jsqueue Put into its message's
// headers: that of a "jsqueue send" span (kind producer) started as a
// child of ctx's span and ended at once, so that the trace shows the Put
// even when ctx carried no span.
func (o *Observer) Inject(ctx context.Context, header map[string][]string) {
	ctx, s := o.tracer.Start(ctx, "jsqueue send", producerSpan, trace.WithAttributes(sendAttrs...))
	o.prop.Inject(ctx, propagation.HeaderCarrier(header))
	s.End()
}

var (
	producerSpan = trace.WithSpanKind(trace.SpanKindProducer)
	sendAttrs    = []attribute.KeyValue{
		KeyKind.String("jsqueue"),
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.operation.type", "send"),
	}
)

// Extract reads the trace context a jsqueue message carries from its Put
// and returns ctx with it as the remote parent: spans the handler starts
// with that ctx join the Put's trace.
func (o *Observer) Extract(ctx context.Context, header map[string][]string) context.Context {
	return o.prop.Extract(ctx, propagation.HeaderCarrier(header))
}
