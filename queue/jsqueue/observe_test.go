package jsqueue_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/async-patterns/async/internal/observetest"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/queue/jsqueue"
)

func TestObserve(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	rec := &observetest.Recorder{}
	q := newQueue[int](t, js, "observed", jsqueue.WithMaxDeliver(2), jsqueue.WithObserver(rec))

	if err := q.Put(ctx, 1); err != nil {
		t.Fatal(err)
	}
	d, err := q.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d.Retry(0)
	if d, err = q.Get(ctx); err != nil {
		t.Fatal(err)
	}
	d.Fail(errors.New("bad job"), 0) // the last attempt: dead-lettered
	q.Put(ctx, 2)
	if d, err = q.Get(ctx); err != nil {
		t.Fatal(err)
	}
	d.Done()
	if err := q.Close(ctx); err != nil {
		t.Fatal(err)
	}
	q.TryPut(3)

	got := observetest.Briefs(rec.Events())
	want := []string{
		"job.put outcome=ok source=jsqueue name=observed",
		"job.delivered source=jsqueue name=observed attempt=1",
		"job.retry outcome=failed source=jsqueue name=observed attempt=1",
		"job.delivered source=jsqueue name=observed attempt=2",
		`job.dead_letter outcome=failed source=jsqueue name=observed attempt=2 err="bad job"`,
		"job.put outcome=ok source=jsqueue name=observed",
		"job.delivered source=jsqueue name=observed attempt=1",
		"job.done outcome=ok source=jsqueue name=observed attempt=1",
		`job.put outcome=rejected source=jsqueue name=observed err="queue: closed"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestObserveServe(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[int](t, js, "observedserve")
	q.Put(ctx, 1)
	listed := make(chan observe.Object, 1)
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- jsqueue.Serve(sctx, q, 3, func(ctx context.Context, v int) error {
			for o := range observe.Objects() {
				if o.Kind == "jsqueue.serve" && o.Name == "observedserve" {
					listed <- o
				}
			}
			return nil
		})
	}()
	o := <-listed
	stop()
	<-served
	if o.Gauges.Limit != 3 || o.Gauges.Running != 1 {
		t.Errorf("Serve listed as %+v; want 3 workers, 1 handler running", o)
	}
	for x := range observe.Objects() {
		if x.ID == o.ID {
			t.Error("Serve is still listed after it returned")
		}
	}
	found := false
	for x := range observe.Objects() {
		if x.Kind == "jsqueue" && x.Name == "observedserve" {
			found = x.Gauges.Capacity == jsqueue.DefaultCapacity
		}
	}
	if !found {
		t.Error("the queue handle is not listed with its capacity")
	}
}

type traceKey struct{}

// tracer carries a ctx value across the queue in a header, as an
// OpenTelemetry propagator carries a trace context.
type tracer struct{ observetest.Recorder }

func (*tracer) Inject(ctx context.Context, h map[string][]string) {
	if v, ok := ctx.Value(traceKey{}).(string); ok {
		h["X-Trace"] = []string{v}
	}
}

func (*tracer) Extract(ctx context.Context, h map[string][]string) context.Context {
	if v := h["X-Trace"]; len(v) == 1 {
		return context.WithValue(ctx, traceKey{}, v[0])
	}
	return ctx
}

func TestObservePropagates(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	tr := &tracer{}
	q := newQueue[int](t, js, "traced", jsqueue.WithObserver(tr))
	if err := q.Put(context.WithValue(ctx, traceKey{}, "trace-1"), 1); err != nil {
		t.Fatal(err)
	}
	got := make(chan any, 1)
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- jsqueue.Serve(sctx, q, 1, func(ctx context.Context, v int) error {
			got <- ctx.Value(traceKey{})
			return nil
		})
	}()
	v := <-got
	stop()
	<-served
	if v != "trace-1" {
		t.Errorf("the handler's ctx carries %v; want trace-1, put by the Put's ctx", v)
	}
}
