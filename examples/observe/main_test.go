package main

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The workload's failures show in the Prometheus text at /metrics: the
// breaker's state gauge, and the counters of its trip, the queue's drops,
// the retry's give-up, the task's panic and the job's dead letter.
func TestMetricsEndpoint(t *testing.T) {
	collectEarlierBreakers()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("start() = %v", err)
	}
	defer a.close()
	var out bytes.Buffer
	b, err := workload(ctx, &out)
	if err != nil {
		t.Fatalf("workload() = %v", err)
	}
	lines, err := scrape(ctx, a.URL)
	if err != nil {
		t.Fatalf("scrape(%s) = %v", a.URL, err)
	}
	runtime.KeepAlive(b)
	series := map[string]string{}
	for _, l := range lines {
		if i := strings.LastIndexByte(l, ' '); i > 0 && !strings.HasPrefix(l, "#") {
			series[l[:i]] = l[i+1:]
		}
	}
	for s, want := range map[string]string{
		`async_circuitbreaker_state{async_kind="breaker",async_name="inventory",circuitbreaker_state="open"}`:                                                                   "1",
		`async_circuitbreaker_state{async_kind="breaker",async_name="inventory",circuitbreaker_state="closed"}`:                                                                 "0",
		`async_events_total{async_event="breaker.state_change",async_kind="breaker",async_name="inventory",circuitbreaker_state="open"}`:                                        "1",
		`async_events_total{async_event="breaker.rejected",async_kind="breaker",async_name="inventory",async_outcome="rejected",error_type="*breaker.RejectedError"}`:           "2",
		`async_events_total{async_event="queue.drop",async_kind="queue",async_name="thumbnails",async_outcome="rejected"}`:                                                      "3",
		`async_events_total{async_event="retry.give_up",async_kind="retry",async_name="fetch-price",async_outcome="failed",error_type="*errors.errorString"}`:                   "1",
		`async_events_total{async_event="task.end",async_kind="taskgroup",async_name="resize",async_outcome="panicked",error_type="*safe.PanicError"}`:                          "1",
		`async_events_total{async_event="job.dead_letter",async_kind="jsqueue",async_name="emails",async_outcome="failed",error_type="*errors.errorString"}`:                    "1",
		`async_attempt_duration_seconds_count{async_event="retry.attempt",async_kind="retry",async_name="fetch-price",async_outcome="failed",error_type="*errors.errorString"}`: "3",
	} {
		if got, ok := series[s]; !ok {
			t.Errorf("/metrics has no series %s", s)
		} else if got != want {
			t.Errorf("%s = %s; want %s", s, got, want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", strings.Join(lines, "\n"))
	}
}

// The program prints what the workload did and the series that tell it.
func TestRun(t *testing.T) {
	collectEarlierBreakers()
	var out bytes.Buffer
	if err := run(context.Background(), &out, "127.0.0.1:0", false); err != nil {
		t.Fatalf("run() = %v", err)
	}
	for _, want := range []string{
		"breaker inventory: open\n",
		"retry fetch-price: retry: gave up after 3 attempts (attempt limit): inventory: 503 service unavailable\n",
		"queue thumbnails: holds 2 of 5 put\n",
		"taskgroup resize: panicked: true\n",
		"jsqueue emails: dead letters: 1\n",
		`  async_circuitbreaker_state{async_kind="breaker",async_name="inventory",circuitbreaker_state="open"} 1` + "\n",
		`  async_events_total{async_event="queue.drop",async_kind="queue",async_name="thumbnails",async_outcome="rejected"} 3` + "\n",
		`  async_events_total{async_event="job.dead_letter",async_kind="jsqueue",async_name="emails",async_outcome="failed",error_type="*errors.errorString"} 1` + "\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run printed no line %q; it printed:\n%s", want, out.String())
		}
	}
}

// collectEarlierBreakers lets the collector take the "inventory" breaker of
// a test run before: the registry holds breakers by weak reference, and
// the state gauge sums the breakers of one name.
func collectEarlierBreakers() { runtime.GC() }
