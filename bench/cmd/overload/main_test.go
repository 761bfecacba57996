package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs one variant with every phase 40x shorter (1 s in all) and
// checks the report's shape, not its figures: real time on a shared machine
// decides those.
func TestSmoke(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, "500ms", 0.025); err != nil {
		t.Fatalf("run() = %v; want nil", err)
	}
	s := out.String()
	for _, want := range []string{
		"### 500ms: deadline 500ms; 250ms at 50ms, then 500ms at 200ms, then 250ms at 50ms\n",
		"| contender | phase | goodput | rejected | timed out | server full | p50 | p99 | converged in | limit (min-max) |\n",
		"Targets for ours:\n",
		"Goodput per 25ms window as a share of what the phase allows (█ = 100%):\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the report lacks %q:\n%s", want, s)
		}
	}
	row := regexp.MustCompile(`(?m)^\| (no limit|bulkhead\(12\)|failsafe-go|ours) \| (before|spike|after) \((50|200)ms\) \| -?\d+% \| \d+ \| \d+ \| \d+ \| \S+ \| \S+ \| (-|never|\S+s) \| (-|\d+-\d+) \|$`)
	if got := len(row.FindAllString(s, -1)); got != 12 {
		t.Errorf("the report has %d contender rows; want 4 contenders x 3 phases:\n%s", got, s)
	}
	chart := regexp.MustCompile(`(?m)^(no limit    |bulkhead\(12\)|failsafe-go |ours        |\(\^ = spike\) ) \|.{40}\|$`)
	if got := len(chart.FindAllString(s, -1)); got != 5 {
		t.Errorf("the chart has %d rows of 40 windows; want 5:\n%s", got, s)
	}
	targets := regexp.MustCompile(`(?m)^- (before|spike|after): goodput .* (met|MISSED)`)
	if got := len(targets.FindAllString(s, -1)); got != 3 {
		t.Errorf("the targets list %d phases; want 3:\n%s", got, s)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, "2s", 1); err == nil || !strings.Contains(err.Error(), "unknown -variant") {
		t.Errorf("run(variant 2s) = %v; want an unknown -variant error", err)
	}
	if err := run(context.Background(), &out, "1s", 0); err == nil {
		t.Error("run(scale 0) = nil; want an error")
	}
}

func TestSummarize(t *testing.T) {
	sc := scenario{
		name: "t", workers: 2, rate: 10, deadline: time.Second, window: time.Second,
		phases: []phase{
			{name: "before", length: time.Second, service: 100 * time.Millisecond},
			{name: "spike", length: 2 * time.Second, service: time.Second},
		},
	}
	schedule := []time.Duration{0, 100 * time.Millisecond, 1100 * time.Millisecond, 1200 * time.Millisecond, 1300 * time.Millisecond, 2100 * time.Millisecond}
	r := result{name: "ours", records: []record{
		{sent: 0, latency: 100 * time.Millisecond, outcome: success},
		{sent: 100 * time.Millisecond, latency: 100 * time.Millisecond, outcome: success},
		{sent: 1100 * time.Millisecond, latency: time.Second, outcome: success},
		{sent: 1200 * time.Millisecond, latency: time.Second, outcome: success},
		{sent: 1300 * time.Millisecond, latency: time.Millisecond, outcome: rejected},
		{sent: 2100 * time.Millisecond, latency: 3 * time.Second, outcome: timedOut},
	}}
	s := summarize(sc, schedule, r)
	before, spike := s.phases[0], s.phases[1]
	if before.goodput() != 1 || before.p99 != 100*time.Millisecond {
		t.Errorf("before: goodput %v p99 %v; want 1 and 100ms", before.goodput(), before.p99)
	}
	// The spike allows min(sent, 2 per second): 2 in the first window, 1 in
	// the second; 2 answered.
	if got := spike.goodput(); got != 2.0/3 {
		t.Errorf("spike goodput = %v; want 2/3", got)
	}
	if spike.rejected != 1 || spike.timedOut != 1 || spike.p99 != 3*time.Second {
		t.Errorf("spike: rejected %d timed out %d p99 %v; want 1, 1, 3s", spike.rejected, spike.timedOut, spike.p99)
	}
	if spike.converge != -1 {
		t.Errorf("spike converged in %v; want never (the last window's p99 is 3s)", spike.converge)
	}
}
