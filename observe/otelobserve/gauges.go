package otelobserve

import (
	"context"
	"strings"

	"github.com/async-patterns/async/observe"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// gauges are the observable instruments that read the registry of live
// objects when the meter provider collects: nothing is counted between
// collections.
type gauges struct {
	objects  metric.Int64ObservableGauge // live objects
	depth    metric.Int64ObservableGauge // items held
	capacity metric.Int64ObservableGauge // bound on items held
	running  metric.Int64ObservableGauge // tasks (loads, permits) running
	queued   metric.Int64ObservableGauge // tasks (callers) waiting
	limit    metric.Int64ObservableGauge // how many may run at once
	state    metric.Int64ObservableGauge // breakers in each state
}

func (o *Observer) makeGauges(m metric.Meter) {
	g := &o.gauges
	gauge := func(name, unit, desc string) metric.Int64ObservableGauge {
		i, err := m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		handle(err)
		return i
	}
	g.objects = gauge("async.objects", "{object}", "Live objects of the async primitives, by kind and name.")
	g.depth = gauge("async.depth", "{item}", "Items held by queues, and entries held by caches.")
	g.capacity = gauge("async.capacity", "{item}", "Bound on the items held: a queue's capacity, a cache's max entries, an executor's queue size.")
	g.running = gauge("async.running", "{task}", "Tasks running in taskgroups and executors, loads running in caches, permits held in limiters.")
	g.queued = gauge("async.queued", "{task}", "Tasks waiting for a worker in executors, callers waiting in limiters.")
	g.limit = gauge("async.limit", "{task}", "How many may run at once: a taskgroup's limit, an executor's workers, a limiter's limit.")
	g.state = gauge("async.circuitbreaker.state", "{breaker}",
		"Breakers in each state (circuitbreaker.state: closed, open, half-open): 1 for the state a named breaker is in, 0 for the others.")
	reg, err := m.RegisterCallback(o.observeRegistry, g.objects, g.depth, g.capacity, g.running, g.queued, g.limit, g.state)
	handle(err)
	o.reg = reg
}

// objKey groups live objects: those of one kind and name are summed
// (unnamed taskgroups come and go; a series per object would not end).
type objKey struct{ kind, name string }

type objSum struct {
	n                                        int64
	depth, capacity, running, queued, limit  int64
	closed, open, halfOpen                   int64
	hasDepth, hasRunning, hasQueued, breaker bool
}

var breakerStates = [...]string{"closed", "open", "half-open"}

// observeRegistry reads every live object once per collection.
func (o *Observer) observeRegistry(_ context.Context, ob metric.Observer) error {
	sums := make(map[objKey]*objSum)
	var order []objKey
	for obj := range observe.Objects() {
		k := objKey{obj.Kind, obj.Name}
		s := sums[k]
		if s == nil {
			s = &objSum{}
			sums[k] = s
			order = append(order, k)
		}
		g := obj.Gauges
		s.n++
		s.depth += int64(g.Depth)
		s.capacity += int64(g.Capacity)
		s.running += int64(g.Running)
		s.queued += int64(g.Queued)
		s.limit += int64(g.Limit)
		s.hasDepth = s.hasDepth || g.Depth != 0 || hasDepth(obj.Kind)
		s.hasRunning = s.hasRunning || g.Running != 0 || hasRunning(obj.Kind)
		s.hasQueued = s.hasQueued || g.Queued != 0 || hasQueued(obj.Kind)
		switch g.State {
		case "closed":
			s.closed++
			s.breaker = true
		case "open":
			s.open++
			s.breaker = true
		case "half-open":
			s.halfOpen++
			s.breaker = true
		}
	}
	for _, k := range order {
		s := sums[k]
		kv := []attribute.KeyValue{KeyKind.String(k.kind)}
		if k.name != "" {
			kv = append(kv, KeyName.String(k.name))
		}
		opt := metric.WithAttributeSet(attribute.NewSet(kv...))
		ob.ObserveInt64(o.gauges.objects, s.n, opt)
		if s.hasDepth {
			ob.ObserveInt64(o.gauges.depth, s.depth, opt)
		}
		if s.capacity > 0 {
			ob.ObserveInt64(o.gauges.capacity, s.capacity, opt)
		}
		if s.hasRunning {
			ob.ObserveInt64(o.gauges.running, s.running, opt)
		}
		if s.hasQueued {
			ob.ObserveInt64(o.gauges.queued, s.queued, opt)
		}
		if s.limit > 0 {
			ob.ObserveInt64(o.gauges.limit, s.limit, opt)
		}
		if s.breaker {
			for i, n := range [...]int64{s.closed, s.open, s.halfOpen} {
				ob.ObserveInt64(o.gauges.state, n, metric.WithAttributeSet(attribute.NewSet(append(kv[:len(kv):len(kv)], KeyBreakerState.String(breakerStates[i]))...)))
			}
		}
	}
	return nil
}

// The kinds whose gauges are reported even when 0 (an empty queue has a
// depth; a queue has no running tasks). Other kinds report what is not 0.
// A jsqueue's depth is not among them: it takes a round trip to learn, so
// the registry does not have it (its Stats method does).
func hasDepth(kind string) bool {
	return kind == "queue" || kind == "memo"
}

func hasRunning(kind string) bool {
	return kind == "taskgroup" || kind == "executor" || kind == "memo" || kind == "jsqueue.serve" || strings.HasPrefix(kind, "limit")
}

func hasQueued(kind string) bool {
	return kind == "executor" || strings.HasPrefix(kind, "limit")
}
