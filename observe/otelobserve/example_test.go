package otelobserve_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/observe/otelobserve"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// This example shows the one call that reports every primitive through
// OpenTelemetry: a breaker trips, and the next collection has its state
// change counted and its state as a gauge.
func ExampleInstall() {
	reader := sdkmetric.NewManualReader() // a real program uses the Prometheus or OTLP exporter
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tp := sdktrace.NewTracerProvider()
	defer mp.Shutdown(context.Background())
	defer tp.Shutdown(context.Background())

	obs := otelobserve.Install(mp, tp)
	defer obs.Close()

	b := breaker.New(breaker.WithName("payments"), breaker.WithConsecutiveFailures(1), breaker.WithOpenTimeout(time.Minute))
	_ = b.Do(context.Background(), func(context.Context) error { return errors.New("payments: 503") })

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			for _, p := range d.DataPoints {
				ev, _ := p.Attributes.Value("async.event")
				st, _ := p.Attributes.Value("circuitbreaker.state")
				fmt.Println(m.Name, ev.String(), st.String(), p.Value)
			}
		case metricdata.Gauge[int64]:
			if m.Name != "async.circuitbreaker.state" {
				continue
			}
			for _, p := range d.DataPoints {
				if name, _ := p.Attributes.Value("async.name"); name.String() != "payments" {
					continue
				}
				if st, _ := p.Attributes.Value("circuitbreaker.state"); p.Value == 1 {
					fmt.Println(m.Name, st.String(), p.Value)
				}
			}
		}
	}
	runtime.KeepAlive(b)
	// Output:
	// async.events breaker.state_change open 1
	// async.circuitbreaker.state open 1
}
