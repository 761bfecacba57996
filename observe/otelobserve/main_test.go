package otelobserve_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/observe/otelobserve"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// rig is a real SDK: a manual metric reader and a span recorder, with an
// Observer installed on them for the length of a test.
type rig struct {
	t      *testing.T
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	obs    *otelobserve.Observer
}

func install(t *testing.T, opts ...otelobserve.Option) *rig {
	t.Helper()
	r := &rig{t: t, reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	r.obs = otelobserve.Install(mp, r.tp, opts...)
	t.Cleanup(func() {
		if err := r.obs.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
		_ = mp.Shutdown(context.Background())
		_ = r.tp.Shutdown(context.Background())
	})
	return r
}

// collect reads every metric now.
func (r *rig) collect() metricdata.ResourceMetrics {
	r.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		r.t.Fatalf("Collect() = %v", err)
	}
	return rm
}

// points returns the points of the named metric whose attributes include
// where (key=value pairs), keyed by all their attributes ("k=v,k=v", keys
// sorted) and valued by the sum (counters, gauges) or the count
// (histograms).
func (r *rig) points(name string, where ...attribute.KeyValue) map[string]int64 {
	r.t.Helper()
	out := map[string]int64{}
	for _, sm := range r.collect().ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			add := func(set attribute.Set, v int64) {
				for _, w := range where {
					if got, ok := set.Value(w.Key); !ok || got != w.Value {
						return
					}
				}
				out[key(set)] += v
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, int64(p.Count))
				}
			default:
				r.t.Fatalf("metric %s has data %T", name, m.Data)
			}
		}
	}
	return out
}

func key(set attribute.Set) string {
	var kv []string
	for _, a := range set.ToSlice() {
		kv = append(kv, string(a.Key)+"="+a.Value.String())
	}
	slices.Sort(kv)
	return strings.Join(kv, ",")
}

// wantPoints fails the test unless got is exactly want.
func wantPoints(t *testing.T, what string, got, want map[string]int64) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s points:\n got  %v\n want %v", what, got, want)
	}
}

// ended returns the recorded spans named name.
func (r *rig) ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, k string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == k {
			return a.Value.String()
		}
	}
	return ""
}

var _ observe.Observer = (*otelobserve.Observer)(nil)

func spanFromContext(ctx context.Context) any { return trace.SpanFromContext(ctx) }

// noSpan stands for "no SDK span" in spanOf.
type noSpan struct{ sdktrace.ReadOnlySpan }

func (noSpan) Name() string { return "" }
