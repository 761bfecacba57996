package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var phaseLine = regexp.MustCompile(`^time:   (before|spike |after ) goodput +(\d+)%  p99 \S+ +sent (\d+): (\d+) ok, (\d+) shed \(503\), (\d+) timed out, (\d+) failed$`)

func TestRunPrintsBothServersPerPhase(t *testing.T) {
	cfg := config{
		workers: 4, rate: 100, service: 10 * time.Millisecond, deadline: 200 * time.Millisecond,
		phases: [3]time.Duration{200 * time.Millisecond, 600 * time.Millisecond, 200 * time.Millisecond},
	}
	var out bytes.Buffer
	if err := run(context.Background(), &out, cfg); err != nil {
		t.Fatalf("run() = %v; want nil", err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	want := []string{
		"4 workers, service 10ms (40ms in the spike), 100 requests/s, deadline 200ms",
		"phases: before 200ms, spike 600ms, after 200ms",
	}
	if len(lines) != 2+2*4+1+6 {
		t.Fatalf("run printed %d lines:\n%s\nwant 17", len(lines), out.String())
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("line %d = %q; want %q", i, lines[i], w)
		}
	}
	// The stream: one request every 10 ms, counted in the phase it was sent in.
	wantSent := []int{20, 60, 20}
	for s, name := range []string{"no limit:", "adaptive limit:"} {
		at := 2 + 4*s
		if lines[at] != name {
			t.Fatalf("line %d = %q; want %q", at, lines[at], name)
		}
		for p := range 3 {
			m := phaseLine.FindStringSubmatch(lines[at+1+p])
			if m == nil {
				t.Fatalf("line %q does not read as a phase's tally", lines[at+1+p])
			}
			n := make([]int, 6)
			for k := range n {
				n[k], _ = strconv.Atoi(m[k+2])
			}
			goodput, sent, ok, shed, timedOut, failed := n[0], n[1], n[2], n[3], n[4], n[5]
			if sent != wantSent[p] || ok+shed+timedOut+failed != sent {
				t.Errorf("%s %s: sent %d = %d ok + %d shed + %d timed out + %d failed; want %d sent, all accounted for",
					name, m[1], sent, ok, shed, timedOut, failed, wantSent[p])
			}
			if s == 0 && shed != 0 {
				t.Errorf("no limit %s: %d shed; want 0 (nothing in front of the server sheds)", m[1], shed)
			}
			// Goodput is ok over the lesser of sent and capacity (4 workers:
			// 400/s outside the spike, 100/s in it).
			capacity := []float64{80, 60, 80}[p]
			if want := fmt.Sprintf("%.0f", 100*float64(ok)/math.Min(float64(sent), capacity)); m[2] != want {
				t.Errorf("%s %s: goodput %d%% with %d ok of %d sent; want %s%%", name, m[1], goodput, ok, sent, want)
			}
		}
	}
	chart := lines[2+2*4:]
	if chart[0] != "goodput by phase (█ adaptive limit, ░ no limit; a full bar is all the phase allows):" {
		t.Errorf("chart title = %q", chart[0])
	}
	for i, l := range chart[1:] {
		label := ""
		if i%2 == 0 {
			label = []string{"before", "spike", "after"}[i/2]
		}
		if !strings.HasPrefix(l, fmt.Sprintf("time: %-6s ", label)) || !strings.HasSuffix(l, "%") {
			t.Errorf("chart line %q; want it to start with %q and end with a share", l, "time: "+label)
		}
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{workers: 0, rate: 1, service: 1, deadline: 1, phases: [3]time.Duration{0, 1, 0}}); err == nil {
		t.Error("run(workers 0) = nil; want an error")
	}
}
