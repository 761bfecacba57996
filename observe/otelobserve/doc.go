// Package otelobserve reports what the primitives of
// github.com/async-patterns/async do as OpenTelemetry metrics and traces,
// in one call:
//
//	obs := otelobserve.Install(meterProvider, tracerProvider)
//	defer obs.Close()
//
// It uses OpenTelemetry's API only; the program brings the SDK and its
// exporters (Prometheus, OTLP, ...).
//
// # Contract
//
//   - Counters and histograms come from events ([observe.Event]): every
//     event adds one to async.events, with async.kind (the package that
//     reported it), async.name (the object's name, when it has one),
//     async.event ("retry.attempt", "breaker.state_change",
//     "queue.drop", "job.dead_letter", ...), async.outcome (when the event
//     has one) and error.type (the Go type of the error, or
//     context.Canceled / context.DeadlineExceeded). A breaker's change adds
//     circuitbreaker.state (the new state); a retryhttp attempt adds
//     http.request.method and http.response.status_code. Durations, in
//     seconds: async.task.duration (tasks of taskgroup, gather, executor),
//     async.attempt.duration (retry and retryhttp attempts),
//     async.memo.load.duration, async.job.duration (jsqueue, delivery to
//     done).
//   - Gauges are observable instruments that read the registry of live
//     objects ([observe.Objects]) when the meter provider collects, and
//     cost nothing between collections: async.objects, async.depth,
//     async.capacity, async.running, async.queued, async.limit, and
//     async.circuitbreaker.state (per circuitbreaker.state: closed, open,
//     half-open; 1 for the state a breaker is in, 0 for the others).
//     Objects of one kind and name are summed, so unnamed objects that
//     come and go (taskgroups) do not make a series each.
//   - Spans: one per retry attempt ("retry.attempt", with retry.attempt)
//     and per retryhttp attempt ("http.attempt", client kind, with
//     http.request.resend_count from the second on), children of the
//     caller's span; what the attempt does runs under it. Failed attempts
//     get an error status and the error recorded. With [WithTaskSpans], a
//     span per task, recorded when it ends.
//   - jsqueue: a Put writes W3C Trace Context (or [WithPropagator]'s
//     format) into the message's headers, under a producer span "jsqueue
//     send"; the handler Serve runs gets it back as its remote parent, so one trace runs from the Put in
//     one process to the handler in another.
//   - Names follow open-telemetry/semantic-conventions#2355 where it names
//     a thing (circuitbreaker.state, retry.attempt), OpenTelemetry's HTTP
//     and messaging conventions for the rest, and async.* otherwise.
//   - Bad input: a nil provider given to [Install] or [New], a nil
//     propagator or a nil option, panics at once naming the function.
//   - A misbehaving observer cannot break a primitive: package observe
//     recovers a panic in Observe (the event is lost and counted by
//     observe.Dropped). otelobserve itself only records into the SDK's
//     in-memory instruments and spans, which do not block; exporting runs
//     on the SDK's own goroutines (a periodic reader, a batch span
//     processor). A span processor that exports synchronously
//     (sdktrace.WithSyncer) does block the primitive for each span it
//     ends: use a batch span processor.
//
// # Costs
//
//   - Per event: the event's attribute set, looked up in a cache under a
//     read lock (built and cached on first sight of each distinct set, up
//     to 4096 sets), then the SDK's counter Add, plus a histogram Record
//     for events with a duration.
//   - Per retry or retryhttp attempt: a span started and ended, and a
//     context holding it. Pass trace/noop's provider for metrics alone:
//     then attempts build no span at all.
//   - Per collection: one pass over the registry, grouping objects by
//     kind and name.
package otelobserve
