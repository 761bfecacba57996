package otelobserve_test

import (
	"context"
	"errors"
	"testing"

	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/observe/otelobserve"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkObserve measures Observe alone, metrics only: a rejection (a
// counter) and an attempt's end (a counter and a histogram).
func BenchmarkObserve(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	o := otelobserve.New(mp, noop.NewTracerProvider())
	defer o.Close()
	ctx := context.Background()
	err := errors.New("x")
	for _, e := range []observe.Event{
		{Kind: observe.BreakerRejected, Outcome: observe.Rejected, Source: "breaker", Name: "b", Err: err},
		{Kind: observe.RetryAttempt, Outcome: observe.OK, Source: "retry", Name: "r", Attempt: 1},
	} {
		b.Run(e.Kind.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				o.Observe(ctx, e)
			}
		})
	}
	b.Run("AttemptStart", func(b *testing.B) {
		e := observe.Event{Kind: observe.RetryAttempt, Source: "retry", Name: "r", Attempt: 1}
		b.ReportAllocs()
		for b.Loop() {
			_ = o.AttemptStart(ctx, e)
		}
	})
}
