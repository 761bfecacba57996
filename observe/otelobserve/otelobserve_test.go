package otelobserve_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/memo"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/observe/otelobserve"
	"github.com/async-patterns/async/queue"
	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/retry/retryhttp"
	"github.com/async-patterns/async/taskgroup"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

var (
	errBoom = errors.New("boom")
	runs    atomic.Int32
)

func TestBreaker(t *testing.T) {
	r := install(t)
	// A breaker leaves the registry only when collected: a name of its own
	// keeps one from an earlier run (-count) out of the sums.
	name := fmt.Sprintf("t-breaker-%d", runs.Add(1))
	b := breaker.New(breaker.WithName(name), breaker.WithConsecutiveFailures(2), breaker.WithOpenTimeout(time.Hour))
	ctx := context.Background()
	fail := func(context.Context) error { return errBoom }
	for range 4 { // two failures trip it; two calls are rejected
		_ = b.Do(ctx, fail)
	}
	wantPoints(t, "async.events", r.points("async.events", otelobserve.KeyName.String(name)), map[string]int64{
		"async.event=breaker.state_change,async.kind=breaker,async.name=" + name + ",circuitbreaker.state=open":                            1,
		"async.event=breaker.rejected,async.kind=breaker,async.name=" + name + ",async.outcome=rejected,error.type=*breaker.RejectedError": 2,
	})
	wantPoints(t, "async.circuitbreaker.state", r.points("async.circuitbreaker.state", otelobserve.KeyName.String(name)), map[string]int64{
		"async.kind=breaker,async.name=" + name + ",circuitbreaker.state=closed":    0,
		"async.kind=breaker,async.name=" + name + ",circuitbreaker.state=half-open": 0,
		"async.kind=breaker,async.name=" + name + ",circuitbreaker.state=open":      1,
	})
	wantPoints(t, "async.objects", r.points("async.objects", otelobserve.KeyName.String(name)), map[string]int64{
		"async.kind=breaker,async.name=" + name + "": 1,
	})
	runtime.KeepAlive(b)
}

func TestRetryExhausted(t *testing.T) {
	r := install(t)
	ctx, parent := r.tp.Tracer("test").Start(context.Background(), "caller")
	var sawSpan atomic.Bool
	err := retry.Do(ctx, func(ctx context.Context) error {
		if s := spanOf(ctx); s.Name() == "retry.attempt" {
			sawSpan.Store(true)
		}
		return errBoom
	}, retry.WithName("fetch"), retry.WithMaxAttempts(3), retry.WithBackoff(time.Microsecond, time.Microsecond))
	parent.End()
	if err == nil {
		t.Fatal("Do() = nil; want the give-up")
	}
	if !sawSpan.Load() {
		t.Error("the attempt's ctx does not carry its retry.attempt span")
	}
	where := otelobserve.KeyName.String("fetch")
	wantPoints(t, "async.events", r.points("async.events", where), map[string]int64{
		"async.event=retry.attempt,async.kind=retry,async.name=fetch,async.outcome=failed,error.type=*errors.errorString": 3,
		"async.event=retry.give_up,async.kind=retry,async.name=fetch,async.outcome=failed,error.type=*errors.errorString": 1,
	})
	wantPoints(t, "async.attempt.duration", r.points("async.attempt.duration", where), map[string]int64{
		"async.event=retry.attempt,async.kind=retry,async.name=fetch,async.outcome=failed,error.type=*errors.errorString": 3,
	})
	spans := r.ended("retry.attempt")
	if len(spans) != 3 {
		t.Fatalf("%d retry.attempt spans; want 3", len(spans))
	}
	for i, s := range spans {
		if got, want := attr(s, "retry.attempt"), string(rune('1'+i)); got != want {
			t.Errorf("span %d: retry.attempt = %s; want %s", i, got, want)
		}
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %d: parent %v; want the caller's span %v", i, s.Parent().SpanID(), parent.SpanContext().SpanID())
		}
		if s.Status().Code != codes.Error || attr(s, "async.outcome") != "failed" || attr(s, "error.type") != "*errors.errorString" {
			t.Errorf("span %d: status %v, outcome %q, error.type %q; want Error, failed, *errors.errorString",
				i, s.Status().Code, attr(s, "async.outcome"), attr(s, "error.type"))
		}
	}
}

func TestQueueDrop(t *testing.T) {
	r := install(t)
	q := queue.New[int](1, queue.WithName("t-queue"), queue.WithOverflow(queue.DropNewest))
	ctx := context.Background()
	_ = q.Put(ctx, 1)
	_ = q.Put(ctx, 2) // dropped
	_ = q.Put(ctx, 3) // dropped
	where := otelobserve.KeyName.String("t-queue")
	wantPoints(t, "async.events", r.points("async.events", where), map[string]int64{
		"async.event=queue.drop,async.kind=queue,async.name=t-queue,async.outcome=rejected": 2,
	})
	wantPoints(t, "async.depth", r.points("async.depth", where), map[string]int64{"async.kind=queue,async.name=t-queue": 1})
	wantPoints(t, "async.capacity", r.points("async.capacity", where), map[string]int64{"async.kind=queue,async.name=t-queue": 1})
	q.Close()
	wantPoints(t, "async.events after Close", r.points("async.events", where), map[string]int64{
		"async.event=queue.close,async.kind=queue,async.name=t-queue,async.outcome=ok":      1,
		"async.event=queue.drop,async.kind=queue,async.name=t-queue,async.outcome=rejected": 2,
	})
	if got := r.points("async.depth", where); len(got) != 0 {
		t.Errorf("async.depth after Close = %v; want no point (the queue left the registry)", got)
	}
}

func TestTaskPanic(t *testing.T) {
	r := install(t, otelobserve.WithTaskSpans())
	g := taskgroup.New(context.Background(), taskgroup.WithName("t-group"))
	g.Go(func(context.Context) error { return nil })
	g.GoNamed("bad", func(context.Context) error { panic("boom") })
	if err := g.Wait(); err == nil {
		t.Fatal("Wait() = nil; want the panic")
	}
	where := otelobserve.KeyName.String("t-group")
	want := map[string]int64{
		"async.event=task.end,async.kind=taskgroup,async.name=t-group,async.outcome=ok":                                   1,
		"async.event=task.end,async.kind=taskgroup,async.name=t-group,async.outcome=panicked,error.type=*safe.PanicError": 1,
	}
	wantPoints(t, "async.events", r.points("async.events", where), want)
	wantPoints(t, "async.task.duration", r.points("async.task.duration", where), want)
	spans := r.ended("taskgroup.task")
	if len(spans) != 2 {
		t.Fatalf("%d taskgroup.task spans; want 2", len(spans))
	}
	var panicked int
	for _, s := range spans {
		if attr(s, "async.outcome") == "panicked" {
			panicked++
			if attr(s, "async.task") != "bad" || s.Status().Code != codes.Error {
				t.Errorf("panicked task span: async.task %q, status %v; want bad, Error", attr(s, "async.task"), s.Status().Code)
			}
		}
	}
	if panicked != 1 {
		t.Errorf("%d panicked task spans; want 1", panicked)
	}
}

func TestExecutorFailureAndRefusal(t *testing.T) {
	r := install(t)
	ex := executor.New(executor.WithName("t-exec"), executor.WithWorkers(1), executor.WithErrorHandler(func(error) {}))
	ctx := context.Background()
	if _, err := executor.Submit(ctx, ex, func(context.Context) (int, error) { return 0, errBoom }).Wait(ctx); !errors.Is(err, errBoom) {
		t.Fatalf("Wait() = %v; want boom", err)
	}
	where := otelobserve.KeyName.String("t-exec")
	// The worker counts itself idle just after the future resolves: read
	// the gauges that do not move.
	wantPoints(t, "async.queued", r.points("async.queued", where), map[string]int64{"async.kind=executor,async.name=t-exec": 0})
	wantPoints(t, "async.limit", r.points("async.limit", where), map[string]int64{"async.kind=executor,async.name=t-exec": 1})
	if err := ex.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
	if err := ex.Go(ctx, func(context.Context) error { return nil }); err == nil {
		t.Fatal("Go after Shutdown = nil; want a refusal")
	}
	wantPoints(t, "async.events", r.points("async.events", where), map[string]int64{
		"async.event=task.end,async.kind=executor,async.name=t-exec,async.outcome=failed,error.type=*errors.errorString":   1,
		"async.event=task.end,async.kind=executor,async.name=t-exec,async.outcome=rejected,error.type=*errors.errorString": 1,
	})
}

func TestMemoHitMiss(t *testing.T) {
	r := install(t)
	c := memo.New(func(_ context.Context, k string) (int, error) { return len(k), nil }, memo.WithName("t-memo"))
	ctx := context.Background()
	for range 3 {
		if _, err := c.Get(ctx, "key"); err != nil {
			t.Fatalf("Get() = %v", err)
		}
	}
	where := otelobserve.KeyName.String("t-memo")
	wantPoints(t, "async.depth", r.points("async.depth", where), map[string]int64{"async.kind=memo,async.name=t-memo": 1})
	c.Close() // waits for the load, which reports its end after its waiters have their value
	wantPoints(t, "async.events", r.points("async.events", where), map[string]int64{
		"async.event=memo.hit,async.kind=memo,async.name=t-memo":                   2,
		"async.event=memo.load,async.kind=memo,async.name=t-memo,async.outcome=ok": 1,
		"async.event=memo.miss,async.kind=memo,async.name=t-memo":                  1,
	})
	wantPoints(t, "async.memo.load.duration", r.points("async.memo.load.duration", where), map[string]int64{
		"async.event=memo.load,async.kind=memo,async.name=t-memo,async.outcome=ok": 1,
	})
}

func TestRetryHTTPResend(t *testing.T) {
	// With a per-attempt timeout, retry ends each attempt's ctx when it
	// returns, so the request is sent with a ctx of its own; without one,
	// with the attempt's.
	for _, tc := range []struct {
		name string
		opts []retry.Option
	}{
		{"no attempt timeout", nil},
		{"attempt timeout", []retry.Option{retry.WithAttemptTimeout(time.Minute)}},
	} {
		t.Run(tc.name, func(t *testing.T) { testRetryHTTPResend(t, tc.opts) })
	}
}

func testRetryHTTPResend(t *testing.T, opts []retry.Option) {
	r := install(t)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	tr := retryhttp.New(retryhttp.WithRetry(append(opts, retry.WithBackoff(time.Microsecond, time.Microsecond))...))
	client := &http.Client{Transport: tr}
	ctx, parent := r.tp.Tracer("test").Start(context.Background(), "caller")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	parent.End()
	if err != nil {
		t.Fatalf("Get() = %v", err)
	}
	resp.Body.Close()
	client.CloseIdleConnections()
	u, _ := url.Parse(srv.URL)
	host := u.Host
	wantPoints(t, "async.events", r.points("async.events", otelobserve.KeyKind.String("retryhttp")), map[string]int64{
		"async.event=http.attempt,async.kind=retryhttp,async.name=" + host + ",async.outcome=failed,http.request.method=GET,http.response.status_code=503": 1,
		"async.event=http.attempt,async.kind=retryhttp,async.name=" + host + ",async.outcome=ok,http.request.method=GET,http.response.status_code=200":     1,
	})
	spans := r.ended("http.attempt")
	if len(spans) != 2 {
		t.Fatalf("%d http.attempt spans; want 2", len(spans))
	}
	if got := attr(spans[0], "http.request.resend_count"); got != "" {
		t.Errorf("first attempt: http.request.resend_count = %s; want none", got)
	}
	if got := attr(spans[1], "http.request.resend_count"); got != "1" {
		t.Errorf("second attempt: http.request.resend_count = %q; want 1", got)
	}
	if got := attr(spans[0], "http.response.status_code"); got != "503" || spans[0].Status().Code != codes.Error {
		t.Errorf("first attempt: status code %s, span status %v; want 503, Error", got, spans[0].Status().Code)
	}
	// Every retry.attempt span is this request's: WithRetry's check of its
	// options reports no attempt (retryhttp's TestOptionCheckReportsNothing).
	retries := r.ended("retry.attempt")
	if len(retries) != 2 {
		t.Fatalf("%d retry.attempt spans; want 2", len(retries))
	}
	// Each retry attempt is a child of the caller's span, and the request
	// sent in it a child of the attempt's.
	for i := range spans {
		if name := attr(retries[i], "async.name"); name != "GET "+host {
			t.Errorf("retry.attempt %d: async.name = %q; want %q", i, name, "GET "+host)
		}
		if got, want := retries[i].Parent().SpanID(), parent.SpanContext().SpanID(); got != want {
			t.Errorf("retry.attempt %d: parent %v; want the caller's span %v", i, got, want)
		}
		if got, want := spans[i].Parent().SpanID(), retries[i].SpanContext().SpanID(); got != want {
			t.Errorf("http.attempt %d: parent %v; want retry.attempt %d's span %v", i, got, i, want)
		}
		if got, want := spans[i].SpanContext().TraceID(), parent.SpanContext().TraceID(); got != want {
			t.Errorf("http.attempt %d: trace %v; want the caller's %v", i, got, want)
		}
	}
}

// A panicking observer beside otelobserve loses its events, not
// otelobserve's: observe.Multi recovers each.
func TestPanickingNeighbour(t *testing.T) {
	r := install(t)
	t.Cleanup(func() { observe.SetDefault(observe.Discard) })
	observe.SetDefault(observe.Multi(observe.ObserverFunc(func(context.Context, observe.Event) { panic("observer bug") }), r.obs))
	before := observe.Dropped()
	q := queue.New[int](1, queue.WithName("t-neighbour"), queue.WithOverflow(queue.DropNewest))
	_ = q.TryPut(1)
	_ = q.TryPut(2) // dropped
	q.Close()
	if got := observe.Dropped() - before; got != 2 {
		t.Errorf("Dropped() rose by %d; want 2 (the panicking observer's drop and close)", got)
	}
	wantPoints(t, "async.events", r.points("async.events", otelobserve.KeyName.String("t-neighbour")), map[string]int64{
		"async.event=queue.close,async.kind=queue,async.name=t-neighbour,async.outcome=ok":      1,
		"async.event=queue.drop,async.kind=queue,async.name=t-neighbour,async.outcome=rejected": 1,
	})
}

func TestBadInput(t *testing.T) {
	mp := sdkmetric.NewMeterProvider()
	tp := sdktrace.NewTracerProvider()
	for _, tc := range []struct {
		name, want string
		f          func()
	}{
		{"nil meter provider to Install", "otelobserve: nil MeterProvider passed to Install", func() { otelobserve.Install(nil, tp) }},
		{"nil tracer provider to Install", "otelobserve: nil TracerProvider passed to Install", func() { otelobserve.Install(mp, nil) }},
		{"nil meter provider to New", "otelobserve: nil MeterProvider passed to New", func() { otelobserve.New(nil, tp) }},
		{"nil propagator", "otelobserve: nil TextMapPropagator passed to WithPropagator", func() { otelobserve.WithPropagator(nil) }},
		{"nil option", "otelobserve: nil Option passed to New", func() { otelobserve.New(mp, tp, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				got, _ := recover().(string)
				if len(got) < len(tc.want) || got[:len(tc.want)] != tc.want {
					t.Errorf("panic %q; want one starting %q", got, tc.want)
				}
			}()
			tc.f()
		})
	}
	if observe.Default() != nil {
		t.Errorf("a failed Install left observer %v installed", observe.Default())
	}
}

func spanOf(ctx context.Context) sdktrace.ReadOnlySpan {
	s, _ := spanFromContext(ctx).(sdktrace.ReadOnlySpan)
	if s == nil {
		return noSpan{}
	}
	return s
}

func TestTaskgroupGauges(t *testing.T) {
	r := install(t)
	g := taskgroup.New(context.Background(), taskgroup.WithName("t-limited"), taskgroup.WithLimit(3))
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(2)
	for range 2 {
		g.Go(func(context.Context) error { started.Done(); <-release; return nil })
	}
	started.Wait()
	where := otelobserve.KeyName.String("t-limited")
	wantPoints(t, "async.running", r.points("async.running", where), map[string]int64{"async.kind=taskgroup,async.name=t-limited": 2})
	wantPoints(t, "async.limit", r.points("async.limit", where), map[string]int64{"async.kind=taskgroup,async.name=t-limited": 3})
	close(release)
	if err := g.Wait(); err != nil {
		t.Fatalf("Wait() = %v", err)
	}
	if got := r.points("async.objects", where); len(got) != 0 {
		t.Errorf("async.objects after Wait = %v; want no point (the group left the registry)", got)
	}
}

func TestClose(t *testing.T) {
	r := install(t)
	q := queue.New[int](4, queue.WithName("t-close"))
	defer q.Close()
	where := otelobserve.KeyName.String("t-close")
	if got := r.points("async.depth", where); len(got) != 1 {
		t.Fatalf("async.depth before Close = %v; want one point", got)
	}
	if err := r.obs.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if observe.Default() != nil {
		t.Errorf("after Close the default observer is %v; want none", observe.Default())
	}
	if got := r.points("async.depth", where); len(got) != 0 {
		t.Errorf("async.depth after Close = %v; want none (the gauges are unregistered)", got)
	}
	if err := r.obs.Close(); err != nil {
		t.Errorf("second Close() = %v; want nil", err)
	}
}

func TestLimiterRejection(t *testing.T) {
	r := install(t)
	name := fmt.Sprintf("t-bulkhead-%d", runs.Add(1)) // a limiter leaves only when collected
	b := limit.NewBulkhead(1, limit.WithName(name), limit.WithMaxWaiting(0))
	ctx := context.Background()
	p, err := b.Acquire(ctx)
	if err != nil {
		t.Fatalf("Acquire() = %v", err)
	}
	for range 2 {
		if _, err := b.Acquire(ctx); err == nil {
			t.Fatal("Acquire() with no slot free = nil; want a rejection")
		}
	}
	where := otelobserve.KeyName.String(name)
	wantPoints(t, "async.events", r.points("async.events", where), map[string]int64{
		"async.event=limit.rejected,async.kind=limit,async.name=" + name + ",async.outcome=rejected,error.type=*limit.RejectedError": 2,
	})
	gauge := map[string]int64{"async.kind=limit.bulkhead,async.name=" + name: 1}
	wantPoints(t, "async.running", r.points("async.running", where), gauge)
	wantPoints(t, "async.limit", r.points("async.limit", where), gauge)
	wantPoints(t, "async.queued", r.points("async.queued", where), map[string]int64{"async.kind=limit.bulkhead,async.name=" + name: 0})
	b.Release(p, limit.Success)
	runtime.KeepAlive(b)
}

// New makes an observer for one object's WithObserver; the process's
// default stays unset.
func TestNewForOneObject(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	o := otelobserve.New(mp, sdktrace.NewTracerProvider())
	defer o.Close()
	r := &rig{t: t, reader: reader}
	q := queue.New[int](1, queue.WithName("t-own"), queue.WithOverflow(queue.DropNewest), queue.WithObserver(o))
	_ = q.TryPut(1)
	_ = q.TryPut(2)
	q.Close()
	if observe.Default() != nil {
		t.Errorf("New installed itself: default observer %v", observe.Default())
	}
	wantPoints(t, "async.events", r.points("async.events", otelobserve.KeyName.String("t-own")), map[string]int64{
		"async.event=queue.close,async.kind=queue,async.name=t-own,async.outcome=ok":      1,
		"async.event=queue.drop,async.kind=queue,async.name=t-own,async.outcome=rejected": 1,
	})
}

// InstallGlobal reports through OpenTelemetry's global providers, set
// after it was called.
func TestInstallGlobal(t *testing.T) {
	o := otelobserve.InstallGlobal()
	defer o.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	otel.SetMeterProvider(mp)
	r := &rig{t: t, reader: reader}
	q := queue.New[int](1, queue.WithName("t-global"), queue.WithOverflow(queue.DropNewest))
	_ = q.TryPut(1)
	_ = q.TryPut(2)
	q.Close()
	wantPoints(t, "async.events", r.points("async.events", otelobserve.KeyName.String("t-global")), map[string]int64{
		"async.event=queue.close,async.kind=queue,async.name=t-global,async.outcome=ok":      1,
		"async.event=queue.drop,async.kind=queue,async.name=t-global,async.outcome=rejected": 1,
	})
}
