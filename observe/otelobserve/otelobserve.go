package otelobserve

import (
	"context"
	"sync"

	"github.com/async-patterns/async/observe"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of the meter and the tracer an
// [Observer] gets from its providers.
const ScopeName = "github.com/async-patterns/async/observe/otelobserve"

// Observer turns the events of every primitive into OpenTelemetry metrics
// and spans, and reads the registry of live objects ([observe.Objects])
// into observable gauges when its meter provider collects. It is an
// [observe.Observer], an [observe.AttemptObserver] (a span per retry
// attempt and per retryhttp attempt) and an [observe.Propagator] (the trace
// context in jsqueue's message headers).
//
// Make one with [Install] (it becomes the process's observer) or [New]
// (give it to a primitive's WithObserver). The zero value is not usable.
// It is safe for concurrent use. [Observer.Close] unregisters its gauges.
//
// Cost per event: a lookup of the event's attribute set in a cache (a read
// lock; the set is built once per distinct set), then the SDK's own cost
// of a counter Add (and a histogram Record for events that carry a
// duration). A retry or HTTP attempt also starts and ends a span.
type Observer struct {
	spans     bool // tp makes spans: not trace/noop's provider
	tracer    trace.Tracer
	prop      propagation.TextMapPropagator
	taskSpans bool

	events     metric.Int64Counter
	taskDur    metric.Float64Histogram
	attemptDur metric.Float64Histogram
	loadDur    metric.Float64Histogram
	jobDur     metric.Float64Histogram
	gauges     gauges
	reg        metric.Registration // the gauges' callback; nil if registering failed
	closeOnce  sync.Once

	attrs attrCache
}

// Option configures an [Observer].
type Option func(*config)

type config struct {
	prop      propagation.TextMapPropagator
	taskSpans bool
}

// WithPropagator sets the propagator that writes the trace context into
// jsqueue's message headers and reads it back. The default is W3C Trace
// Context (propagation.TraceContext), whatever the global propagator is
// (whose default propagates nothing). WithPropagator panics if p is nil.
func WithPropagator(p propagation.TextMapPropagator) Option {
	if p == nil {
		panic("otelobserve: nil TextMapPropagator passed to WithPropagator")
	}
	return func(c *config) { c.prop = p }
}

// WithTaskSpans records a span for each task of a taskgroup, gather call
// or executor, from its start to its end, as a child of the span in the
// ctx it was spawned with. The span is recorded when the task ends, from
// its event, so spans the task starts itself are not its children. Off by
// default: a busy executor makes many short spans.
func WithTaskSpans() Option {
	return func(c *config) { c.taskSpans = true }
}

// Install makes a new [Observer] on mp and tp the process's observer
// ([observe.SetDefault]): from then on every primitive reports to them,
// and the registry's gauges are read at each collection of mp. This is the
// one call a program makes:
//
//	obs := otelobserve.Install(meterProvider, tracerProvider)
//	defer obs.Close()
//
// Install panics, naming the argument, if mp or tp is nil; pass
// otel.GetMeterProvider() and otel.GetTracerProvider() for the globals
// ([InstallGlobal] does). An error of mp making an instrument goes to
// otel.Handle, as OpenTelemetry's instrumentation libraries do, and that
// instrument records nothing.
func Install(mp metric.MeterProvider, tp trace.TracerProvider, opts ...Option) *Observer {
	o := newObserver("Install", mp, tp, opts)
	observe.SetDefault(o)
	return o
}

// InstallGlobal is [Install] on OpenTelemetry's global providers
// (otel.GetMeterProvider and otel.GetTracerProvider). Those delegate to
// whatever providers are set later with otel.SetMeterProvider and
// otel.SetTracerProvider, so InstallGlobal may run before they are set.
func InstallGlobal(opts ...Option) *Observer {
	return Install(otel.GetMeterProvider(), otel.GetTracerProvider(), opts...)
}

// New returns an [Observer] on mp and tp without installing it: give it to
// a primitive's WithObserver option, or to observe.Multi. Its gauges are
// registered at once (they read the whole registry, not only the objects
// that report to it). New panics, naming the argument, if mp or tp is nil.
func New(mp metric.MeterProvider, tp trace.TracerProvider, opts ...Option) *Observer {
	return newObserver("New", mp, tp, opts)
}

func newObserver(fn string, mp metric.MeterProvider, tp trace.TracerProvider, opts []Option) *Observer {
	if mp == nil {
		panic("otelobserve: nil MeterProvider passed to " + fn + " (use otel.GetMeterProvider() for the global one)")
	}
	if tp == nil {
		panic("otelobserve: nil TracerProvider passed to " + fn + " (use otel.GetTracerProvider() for the global one)")
	}
	c := config{prop: propagation.TraceContext{}}
	for _, opt := range opts {
		if opt == nil {
			panic("otelobserve: nil Option passed to " + fn)
		}
		opt(&c)
	}
	o := &Observer{
		spans:     !isNoop(tp),
		tracer:    tp.Tracer(ScopeName),
		prop:      c.prop,
		taskSpans: c.taskSpans,
	}
	m := mp.Meter(ScopeName)
	o.makeInstruments(m)
	return o
}

// Close unregisters o's gauges, so that they stop reading the registry,
// and, if o is the process's observer, turns reporting off
// (observe.SetDefault(observe.Discard)). It does not shut the providers
// down: their owner does. Close may be called more than once.
func (o *Observer) Close() error {
	if observe.Default() == observe.Observer(o) {
		observe.SetDefault(observe.Discard)
	}
	var err error
	o.closeOnce.Do(func() {
		if o.reg != nil {
			err = o.reg.Unregister()
		}
	})
	return err
}

// Observe records e: one on the async.events counter, its duration on the
// histogram of its kind, and, for the end of a retry or HTTP attempt, the
// end of the attempt's span.
func (o *Observer) Observe(ctx context.Context, e observe.Event) {
	m := o.attrs.get(e)
	switch e.Kind {
	case observe.RetryAttempt, observe.HTTPAttempt:
		o.attemptDur.Record(ctx, e.Duration.Seconds(), m.record...)
		endAttempt(ctx, e)
	case observe.TaskEnd:
		o.taskDur.Record(ctx, e.Duration.Seconds(), m.record...)
		if o.taskSpans {
			o.taskSpan(ctx, e)
		}
	case observe.MemoLoad:
		o.loadDur.Record(ctx, e.Duration.Seconds(), m.record...)
	case observe.JobDone:
		o.jobDur.Record(ctx, e.Duration.Seconds(), m.record...)
	}
	o.events.Add(ctx, 1, m.add...)
}

var (
	_ observe.AttemptObserver = (*Observer)(nil)
	_ observe.Propagator      = (*Observer)(nil)
)

// isNoop reports whether tp is OpenTelemetry's no-op tracer provider, with
// which attempts skip building the attributes of spans that would be
// dropped.
func isNoop(tp trace.TracerProvider) bool {
	_, ok := tp.(noop.TracerProvider)
	return ok
}
