package otelobserve

import (
	"context"
	"errors"
	"reflect"
	"sync"

	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/retry"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The attribute keys. async.* are this library's; circuitbreaker.state
// and retry.attempt follow the names proposed in
// open-telemetry/semantic-conventions#2355; error.type and the http.* and
// server.address keys are OpenTelemetry's general and HTTP conventions.
const (
	KeyKind         = attribute.Key("async.kind")    // the package that reports, or the object's kind: "retry", "breaker", "queue", "executor", ...
	KeyName         = attribute.Key("async.name")    // the object's or operation's name, when it has one
	KeyEvent        = attribute.Key("async.event")   // the event: "retry.attempt", "breaker.state_change", ... (observe.Kind's String)
	KeyOutcome      = attribute.Key("async.outcome") // "ok", "failed", "panicked", "cancelled", "rejected"
	KeyErrorType    = attribute.Key("error.type")
	KeyBreakerState = attribute.Key("circuitbreaker.state") // "closed", "open", "half-open"
	KeyRetryAttempt = attribute.Key("retry.attempt")        // spans only: the 1-based attempt
)

// The buckets of the duration histograms, in seconds: 100µs to 60s.
var durationBuckets = []float64{0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

func (o *Observer) makeInstruments(m metric.Meter) {
	var err error
	o.events, err = m.Int64Counter("async.events", metric.WithUnit("{event}"),
		metric.WithDescription("Events reported by the async primitives, by kind, name, event, outcome and error type."))
	handle(err)
	hist := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(durationBuckets...))
		handle(err)
		return h
	}
	o.taskDur = hist("async.task.duration", "How long tasks of taskgroups, gather calls and executors ran, by outcome.")
	o.attemptDur = hist("async.attempt.duration", "How long each attempt of a retry loop or a retryhttp request took, by outcome.")
	o.loadDur = hist("async.memo.load.duration", "How long memo loads took, by outcome.")
	o.jobDur = hist("async.job.duration", "How long jsqueue jobs took from delivery to done.")
	o.makeGauges(m)
}

func handle(err error) {
	if err != nil {
		otel.Handle(err)
	}
}

// attrKey is what an event's attribute set depends on.
type attrKey struct {
	kind    observe.Kind
	outcome observe.Outcome
	source  string
	name    string
	errType string
	state   string // BreakerStateChange: To
	method  string // HTTPAttempt
	status  int    // HTTPAttempt
}

// maxCachedSets bounds the cache: past it, sets are built for each event
// (names from user input could otherwise grow it without end).
const maxCachedSets = 4096

// attrCache keeps the measurement options of each distinct attrKey, so
// that an event costs a map lookup rather than building a set and its
// options (which would allocate each time).
type attrCache struct {
	mu   sync.RWMutex
	sets map[attrKey]*measure // protected by mu
}

// measure is what recording an event's measurements takes, built once per
// attribute set: the option slices are passed as they are (add...), so the
// call allocates none.
type measure struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

func newMeasure(set attribute.Set) *measure {
	opt := metric.WithAttributeSet(set)
	return &measure{add: []metric.AddOption{opt}, record: []metric.RecordOption{opt}}
}

func (c *attrCache) get(e observe.Event) *measure {
	k := attrKey{kind: e.Kind, outcome: e.Outcome, source: e.Source, name: e.Name}
	if e.Err != nil {
		k.errType = errorType(e.Err)
	}
	switch e.Kind {
	case observe.BreakerStateChange:
		k.state = e.To
	case observe.HTTPAttempt:
		k.method, k.status = e.Method, e.Status
	}
	c.mu.RLock()
	s, ok := c.sets[k]
	c.mu.RUnlock()
	if ok {
		return s
	}
	s = newMeasure(k.set())
	c.mu.Lock()
	if c.sets == nil {
		c.sets = make(map[attrKey]*measure)
	}
	if len(c.sets) < maxCachedSets {
		c.sets[k] = s
	}
	c.mu.Unlock()
	return s
}

func (k attrKey) set() attribute.Set {
	kv := make([]attribute.KeyValue, 0, 8)
	kv = append(kv, KeyKind.String(k.source), KeyEvent.String(k.kind.String()))
	if k.name != "" {
		kv = append(kv, KeyName.String(k.name))
	}
	if k.outcome != observe.OutcomeNone {
		kv = append(kv, KeyOutcome.String(k.outcome.String()))
	}
	if k.errType != "" {
		kv = append(kv, KeyErrorType.String(k.errType))
	}
	if k.state != "" {
		kv = append(kv, KeyBreakerState.String(k.state))
	}
	if k.method != "" {
		kv = append(kv, attribute.String("http.request.method", k.method))
	}
	if k.status != 0 {
		kv = append(kv, attribute.Int("http.response.status_code", k.status))
	}
	return attribute.NewSet(kv...)
}

// errorType returns the error.type of err: "context.Canceled" or
// "context.DeadlineExceeded" when err is (or wraps) one of those, else the
// Go type of the innermost error of its chain that is not a plain
// errors.New or fmt.Errorf string ("*net.OpError", "*breaker.RejectedError");
// for a retry's *retry.Error, that of its last attempt's error. Types, not messages: their
// number is bounded, as a metric attribute must be.
func errorType(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "context.Canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "context.DeadlineExceeded"
	}
	if re := retryError(err); re != nil && re.Last != nil {
		err = re.Last // the give-up's type says nothing: the last attempt's does
	}
	t := typeName(err)
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		if n := typeName(e); !plain(n) {
			t = n
		}
	}
	return t
}

func typeName(err error) string { return reflect.TypeOf(err).String() }

// plain reports whether n is the type of errors.New's or fmt.Errorf's
// errors, which say nothing by their type.
func plain(n string) bool {
	switch n {
	case "*errors.errorString", "*fmt.wrapError", "*fmt.wrapErrors", "*errors.joinError":
		return true
	}
	return false
}

// retryError finds a *retry.Error in err's chain of single wraps, as
// errors.As would, without its allocation.
func retryError(err error) *retry.Error {
	for ; err != nil; err = errors.Unwrap(err) {
		if re, ok := err.(*retry.Error); ok {
			return re
		}
	}
	return nil
}
