package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/observe/otelobserve"
	"github.com/async-patterns/async/retry"
)

// BenchmarkObserved measures what telemetry costs on the breaker and retry
// rows: ours with nothing installed ("ours"), ours with an observer that
// does nothing ("ours-nop-observer": what building and delivering the
// events costs), ours with otelobserve.Install
// on the OpenTelemetry SDK ("ours-otel": a meter provider with a manual
// reader, never collected, and a tracer provider sampling everything with no
// exporter), the same with a no-op tracer provider ("ours-otel-metrics":
// metrics only, no spans), failsafe-go without listeners ("failsafe") and failsafe-go with
// listeners that record the same facts into counters and histograms of the
// same SDK, with attribute sets built once ("failsafe-listeners": the best a
// user can write by hand, and no spans, which failsafe-go does not make).
// Each row reports events/op: how many events (ours) or listener calls
// (failsafe-go) one operation makes, so that the cost per event is the
// difference in ns/op (and allocs/op) over events/op.
//
//   - breaker-success: a closed breaker's success. Ours reports nothing for
//     a success (0 events); failsafe-go's OnSuccess listener runs (1).
//   - breaker-rejected: an open breaker's rejection: 1 event each.
//   - retry-first-try: a first-try success: 1 attempt event (and its span)
//     for ours; failsafe-go's retry policy OnSuccess listener (1).
//   - retry-3-attempts: two failures then a success, no wait: 3 attempt
//     events (and 3 spans) for ours; failsafe-go's OnRetry twice and
//     OnSuccess once (3).
func BenchmarkObserved(b *testing.B) {
	ctx := context.Background()
	errFail := errors.New("bench: fail")
	for _, row := range []struct {
		name   string
		events int                                      // events (ours) per op
		fsEv   int                                      // listener calls (failsafe-go) per op
		ours   func() func()                            // builds the op
		fs     func(m metric.Meter, listen bool) func() // builds failsafe-go's op
	}{
		{"breaker-success", 0, 1,
			func() func() {
				br := breaker.New(breaker.WithName("bench"))
				return func() { sinkErr = br.Do(ctx, work) }
			},
			func(m metric.Meter, listen bool) func() {
				bld := circuitbreaker.NewBuilder[any]()
				if listen {
					rec := newListenerRecorder(m, "circuitbreaker")
					bld = bld.OnSuccess(func(failsafe.ExecutionEvent[any]) { rec.event(ctx, rec.success) }).
						OnFailure(func(failsafe.ExecutionEvent[any]) { rec.event(ctx, rec.failure) }).
						OnStateChanged(func(circuitbreaker.StateChangedEvent) { rec.event(ctx, rec.state) })
				}
				ex := failsafe.With[any](bld.Build())
				op := func() error { return work(ctx) }
				return func() { sinkErr = ex.Run(op) }
			}},
		{"breaker-rejected", 1, 1,
			func() func() {
				br := breaker.New(breaker.WithName("bench"), breaker.WithOpenTimeout(time.Hour))
				br.Trip()
				return func() { sinkErr = br.Do(ctx, work) }
			},
			func(m metric.Meter, listen bool) func() {
				cb := circuitbreaker.NewBuilder[any]().WithDelay(time.Hour).Build()
				cb.Open()
				ex := failsafe.With[any](cb)
				if listen {
					rec := newListenerRecorder(m, "circuitbreaker")
					ex = ex.OnFailure(func(failsafe.ExecutionDoneEvent[any]) { rec.event(ctx, rec.failure) })
				}
				op := func() error { return work(ctx) }
				return func() { sinkErr = ex.Run(op) }
			}},
		{"retry-first-try", 1, 1,
			func() func() {
				return func() { sinkErr = retry.Do(ctx, work, retry.WithName("bench")) }
			},
			func(m metric.Meter, listen bool) func() {
				bld := retrypolicy.NewBuilder[any]()
				if listen {
					rec := newListenerRecorder(m, "retry")
					bld = bld.OnSuccess(func(e failsafe.ExecutionEvent[any]) { rec.attempt(ctx, rec.success, e.ElapsedAttemptTime()) }).
						OnRetry(func(e failsafe.ExecutionEvent[any]) { rec.attempt(ctx, rec.failure, e.ElapsedAttemptTime()) })
				}
				ex := failsafe.With[any](bld.Build())
				op := func() error { return work(ctx) }
				return func() { sinkErr = ex.Run(op) }
			}},
		{"retry-3-attempts", 3, 3,
			func() func() {
				return func() {
					n := 0
					sinkErr = retry.Do(ctx, func(context.Context) error {
						if n++; n < 3 {
							return errFail
						}
						return nil
					}, retry.WithName("bench"), retry.WithBackoff(0, 0))
				}
			},
			func(m metric.Meter, listen bool) func() {
				bld := retrypolicy.NewBuilder[any]().WithDelay(0).WithMaxAttempts(3)
				if listen {
					rec := newListenerRecorder(m, "retry")
					bld = bld.OnSuccess(func(e failsafe.ExecutionEvent[any]) { rec.attempt(ctx, rec.success, e.ElapsedAttemptTime()) }).
						OnRetry(func(e failsafe.ExecutionEvent[any]) { rec.attempt(ctx, rec.failure, e.ElapsedAttemptTime()) })
				}
				ex := failsafe.With[any](bld.Build())
				return func() {
					n := 0
					sinkErr = ex.Run(func() error {
						if n++; n < 3 {
							return errFail
						}
						return nil
					})
				}
			}},
	} {
		b.Run(row.name, func(b *testing.B) {
			run := func(b *testing.B, op func(), events int) {
				b.ReportAllocs()
				for b.Loop() {
					op()
				}
				b.ReportMetric(float64(events), "events/op")
			}
			b.Run("ours", func(b *testing.B) { run(b, row.ours(), row.events) })
			b.Run("ours-nop-observer", func(b *testing.B) {
				observe.SetDefault(observe.ObserverFunc(func(context.Context, observe.Event) {}))
				defer observe.SetDefault(observe.Discard)
				run(b, row.ours(), row.events)
			})
			b.Run("ours-otel", func(b *testing.B) {
				mp, tp := sdkProviders()
				obs := otelobserve.Install(mp, tp)
				defer shutdown(obs, mp, tp)
				run(b, row.ours(), row.events)
			})
			b.Run("ours-otel-metrics", func(b *testing.B) {
				mp, _ := sdkProviders()
				obs := otelobserve.Install(mp, tracenoop.NewTracerProvider())
				defer shutdown(obs, mp, nil)
				run(b, row.ours(), row.events)
			})
			b.Run("failsafe", func(b *testing.B) { run(b, row.fs(nil, false), 0) })
			b.Run("failsafe-listeners", func(b *testing.B) {
				mp, tp := sdkProviders()
				defer shutdown(nil, mp, tp)
				run(b, row.fs(mp.Meter("bench"), true), row.fsEv)
			})
		})
	}
}

func sdkProviders() (*sdkmetric.MeterProvider, *sdktrace.TracerProvider) {
	return sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader())),
		sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
}

func shutdown(obs *otelobserve.Observer, mp *sdkmetric.MeterProvider, tp *sdktrace.TracerProvider) {
	if obs != nil {
		_ = obs.Close()
	}
	_ = mp.Shutdown(context.Background())
	if tp != nil {
		_ = tp.Shutdown(context.Background())
	}
}

// listenerRecorder is what a failsafe-go user writes to get the metrics
// otelobserve records: a counter of events and a histogram of attempt
// durations, with attribute sets built once.
type listenerRecorder struct {
	events                  metric.Int64Counter
	attempts                metric.Float64Histogram
	success, failure, state metric.MeasurementOption
}

func newListenerRecorder(m metric.Meter, kind string) *listenerRecorder {
	ev, _ := m.Int64Counter("failsafe.events")
	at, _ := m.Float64Histogram("failsafe.attempt.duration")
	set := func(kv ...attribute.KeyValue) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(append(kv, attribute.String("async.kind", kind), attribute.String("async.name", "bench"))...))
	}
	return &listenerRecorder{
		events: ev, attempts: at,
		success: set(attribute.String("async.outcome", "ok")),
		failure: set(attribute.String("async.outcome", "failed")),
		state:   set(attribute.String("async.event", "state_change")),
	}
}

func (r *listenerRecorder) event(ctx context.Context, o metric.MeasurementOption) {
	r.events.Add(ctx, 1, o)
}

func (r *listenerRecorder) attempt(ctx context.Context, o metric.MeasurementOption, d time.Duration) {
	r.attempts.Record(ctx, d.Seconds(), o)
	r.events.Add(ctx, 1, o)
}
