package otelobserve_test

import (
	"context"
	"testing"
	"time"

	"github.com/async-patterns/async/queue/jsqueue"
	"go.opentelemetry.io/otel/trace"
)

// One trace runs from a Put on one connection to the handler Serve runs on
// another, through the W3C trace context in the message's headers.
func TestJSQueueTraceAcrossConnections(t *testing.T) {
	r := install(t)
	srv, err := jsqueue.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatalf("StartEmbedded() = %v", err)
	}
	defer srv.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	producer, err := jsqueue.Dial[string](ctx, srv.URL, "traced", jsqueue.WithMemoryStorage())
	if err != nil {
		t.Fatalf("Dial(producer) = %v", err)
	}
	defer producer.Disconnect()
	consumer, err := jsqueue.Dial[string](ctx, srv.URL, "traced", jsqueue.WithMemoryStorage())
	if err != nil {
		t.Fatalf("Dial(consumer) = %v", err)
	}
	defer consumer.Disconnect()

	tracer := r.tp.Tracer("test")
	pctx, request := tracer.Start(ctx, "request")
	if err := producer.Put(pctx, "job"); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	request.End()

	handled := make(chan trace.SpanContext, 1)
	sctx, stop := context.WithCancel(ctx)
	err = jsqueue.Serve(sctx, consumer, 1, func(ctx context.Context, v string) error {
		_, s := tracer.Start(ctx, "handle")
		s.End()
		handled <- s.SpanContext()
		stop()
		return nil
	})
	if err != nil && sctx.Err() == nil {
		t.Fatalf("Serve() = %v", err)
	}
	var h trace.SpanContext
	select {
	case h = <-handled:
	default:
		t.Fatal("the handler did not run")
	}

	sends := r.ended("jsqueue send")
	if len(sends) != 1 {
		t.Fatalf("%d send spans; want 1", len(sends))
	}
	send := sends[0]
	if send.SpanKind() != trace.SpanKindProducer || send.Parent().SpanID() != request.SpanContext().SpanID() {
		t.Errorf("send span: kind %v, parent %v; want producer, child of request %v", send.SpanKind(), send.Parent().SpanID(), request.SpanContext().SpanID())
	}
	handles := r.ended("handle")
	if len(handles) != 1 {
		t.Fatalf("%d handle spans; want 1", len(handles))
	}
	hs := handles[0]
	if h.TraceID() != request.SpanContext().TraceID() {
		t.Errorf("handler's trace %v; want the Put's %v", h.TraceID(), request.SpanContext().TraceID())
	}
	if !hs.Parent().IsRemote() || hs.Parent().SpanID() != send.SpanContext().SpanID() {
		t.Errorf("handle span: parent %v (remote %v); want the send span %v, remote", hs.Parent().SpanID(), hs.Parent().IsRemote(), send.SpanContext().SpanID())
	}
}
