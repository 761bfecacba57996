package otelobserve_test

import (
	"context"
	"testing"
	"time"

	"github.com/async-patterns/async/observe/otelobserve"
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

	// Serve acked the job after the handler returned: it may not have
	// reported it yet, so the job's duration is read once Serve returned.
	wantPoints(t, "async.job.duration", r.points("async.job.duration", otelobserve.KeyName.String("traced")), map[string]int64{
		"async.event=job.done,async.kind=jsqueue,async.name=traced,async.outcome=ok": 1,
	})
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

// A job that fails on both of its attempts is retried once, then
// dead-lettered; each step is counted, and the queue's depth is a gauge.
func TestJSQueueDeadLetter(t *testing.T) {
	r := install(t)
	srv, err := jsqueue.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatalf("StartEmbedded() = %v", err)
	}
	defer srv.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q, err := jsqueue.Dial[string](ctx, srv.URL, "dl", jsqueue.WithMemoryStorage(), jsqueue.WithMaxDeliver(2))
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	defer q.Disconnect()
	if err := q.Put(ctx, "a"); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	where := otelobserve.KeyName.String("dl")
	// A jsqueue's depth takes a round trip to learn: the registry has the
	// queue, not its depth (Stats has it).
	wantPoints(t, "async.objects", r.points("async.objects", where), map[string]int64{"async.kind=jsqueue,async.name=dl": 1})
	wantPoints(t, "async.depth", r.points("async.depth", where), map[string]int64{})
	for attempt := 1; attempt <= 2; attempt++ {
		d, err := q.Get(ctx)
		if err != nil {
			t.Fatalf("Get() = %v", err)
		}
		if d.Attempt != attempt {
			t.Fatalf("Get() delivered attempt %d; want %d", d.Attempt, attempt)
		}
		if err := d.Fail(errBoom, 0); err != nil { // the second: dead-lettered
			t.Fatalf("Fail() on attempt %d = %v", attempt, err)
		}
	}
	if dead, err := q.DeadLetters(ctx); err != nil || len(dead) != 1 {
		t.Fatalf("DeadLetters() = %d, %v; want 1", len(dead), err)
	}
	wantPoints(t, "async.events", r.points("async.events", where), map[string]int64{
		"async.event=job.dead_letter,async.kind=jsqueue,async.name=dl,async.outcome=failed,error.type=*errors.errorString": 1,
		"async.event=job.delivered,async.kind=jsqueue,async.name=dl":                                                       2,
		"async.event=job.put,async.kind=jsqueue,async.name=dl,async.outcome=ok":                                            1,
		"async.event=job.retry,async.kind=jsqueue,async.name=dl,async.outcome=failed,error.type=*errors.errorString":       1,
	})
}
