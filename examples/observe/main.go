// Command observe shows the one call that makes every primitive of the
// module visible: otelobserve.Install on an OpenTelemetry meter provider
// whose reader is OpenTelemetry's Prometheus exporter, served at /metrics.
// It runs a small workload that goes wrong in the ways an operator wants
// to see (a breaker trips, a retry gives up, a bounded queue drops, a
// jsqueue job is dead-lettered, a task panics), then scrapes its own
// /metrics and prints the series that tell the story.
//
//	go run ./examples/observe           # run the workload, print, exit
//	go run ./examples/observe -serve    # then keep serving /metrics until Ctrl-C
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/observe/otelobserve"
	"github.com/async-patterns/async/queue"
	"github.com/async-patterns/async/queue/jsqueue"
	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/taskgroup"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "where to serve /metrics")
	serve := flag.Bool("serve", false, "keep serving /metrics after the workload, until interrupted")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *addr, *serve); err != nil {
		fmt.Fprintln(os.Stderr, "observe:", err)
		os.Exit(1)
	}
}

// app is the program's telemetry: a Prometheus registry fed by the OTel
// exporter, the providers, and the HTTP server of /metrics.
type app struct {
	URL  string // http://host:port/metrics
	mp   *sdkmetric.MeterProvider
	tp   *sdktrace.TracerProvider
	obs  *otelobserve.Observer
	srv  *http.Server
	done chan struct{}
}

// start serves /metrics on addr and installs otelobserve: the one call.
func start(addr string) (*app, error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, err
	}
	a := &app{
		mp:   sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)),
		tp:   sdktrace.NewTracerProvider(), // no exporter here: spans are made and dropped
		done: make(chan struct{}),
	}
	a.obs = otelobserve.Install(a.mp, a.tp)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		a.close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	a.URL = "http://" + ln.Addr().String() + "/metrics"
	go func() {
		defer close(a.done)
		_ = a.srv.Serve(ln)
	}()
	return a, nil
}

func (a *app) close() {
	if a.srv != nil {
		_ = a.srv.Close()
		<-a.done
	}
	_ = a.obs.Close()
	_ = a.mp.Shutdown(context.Background())
	_ = a.tp.Shutdown(context.Background())
}

func run(ctx context.Context, out io.Writer, addr string, serve bool) error {
	a, err := start(addr)
	if err != nil {
		return err
	}
	defer a.close()
	fmt.Fprintln(out, "metrics at", a.URL)

	b, err := workload(ctx, out)
	if err != nil {
		return err
	}
	lines, err := scrape(ctx, a.URL)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\nfrom /metrics:")
	for _, l := range lines {
		if interesting(l) {
			fmt.Fprintln(out, " ", l)
		}
	}
	if serve {
		fmt.Fprintln(out, "\nserving", a.URL, "until interrupted")
		<-ctx.Done()
	}
	_ = b // the breaker stays registered (its state is a gauge) until here
	return nil
}

// workload makes the primitives misbehave, once each. It returns the
// breaker, which must stay alive for its state to be read.
func workload(ctx context.Context, out io.Writer) (*breaker.Breaker, error) {
	errDown := errors.New("inventory: 503 service unavailable")

	// A breaker trips after 3 failures; the 2 calls after are rejected.
	b := breaker.New(breaker.WithName("inventory"), breaker.WithConsecutiveFailures(3), breaker.WithOpenTimeout(time.Minute))
	for range 5 {
		_ = b.Do(ctx, func(context.Context) error { return errDown })
	}
	fmt.Fprintln(out, "breaker inventory:", b.State())

	// A retry gives up after 3 attempts.
	err := retry.Do(ctx, func(context.Context) error { return errDown },
		retry.WithName("fetch-price"), retry.WithMaxAttempts(3), retry.WithBackoff(time.Millisecond, time.Millisecond))
	fmt.Fprintln(out, "retry fetch-price:", err)

	// A bounded queue that drops the newest item when full: 5 puts, room for 2.
	q := queue.New[int](2, queue.WithName("thumbnails"), queue.WithOverflow(queue.DropNewest))
	for i := range 5 {
		_ = q.Put(ctx, i)
	}
	fmt.Fprintln(out, "queue thumbnails: holds", q.Len(), "of 5 put")
	q.Close()

	// A task panics inside a taskgroup.
	g := taskgroup.New(ctx, taskgroup.WithName("resize"))
	g.Go(func(context.Context) error { return nil })
	g.GoNamed("bad-image", func(context.Context) error { panic("image: unknown format") })
	fmt.Fprintln(out, "taskgroup resize: panicked:", g.Wait() != nil)

	// A jsqueue job fails on both of its attempts and is dead-lettered.
	if err := deadLetter(ctx, out); err != nil {
		return nil, err
	}
	return b, nil
}

// deadLetter runs an embedded NATS server, puts a job, and fails it on
// each of its 2 attempts: the second failure moves it to the dead letters.
func deadLetter(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "observe-nats-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := jsqueue.StartEmbedded(dir)
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	jq, err := jsqueue.Dial[string](ctx, srv.URL, "emails", jsqueue.WithMemoryStorage(), jsqueue.WithMaxDeliver(2))
	if err != nil {
		return err
	}
	defer jq.Disconnect()
	if err := jq.Put(ctx, "welcome mail to nobody@invalid"); err != nil {
		return err
	}
	for range 2 {
		d, err := jq.Get(ctx)
		if err != nil {
			return err
		}
		_ = d.Fail(errors.New("smtp: 550 no such user"), 0)
	}
	dead, err := jq.DeadLetters(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "jsqueue emails: dead letters:", len(dead))
	return nil
}

// scrape returns the lines of the Prometheus text at url.
func scrape(ctx context.Context, url string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

// interesting picks the series the workload should have moved.
func interesting(line string) bool {
	if strings.HasPrefix(line, "#") {
		return false
	}
	switch {
	case strings.HasPrefix(line, "async_circuitbreaker_state{"):
		return true
	case strings.HasPrefix(line, "async_events_total{"):
		for _, ev := range []string{"breaker.state_change", "retry.give_up", "queue.drop", "task.end\",async_kind=\"taskgroup\",async_name=\"resize\",async_outcome=\"panicked", "job.dead_letter"} {
			if strings.Contains(line, `async_event="`+ev) {
				return true
			}
		}
	}
	return false
}
