package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func sumOfSquares(n int64) int64 { return n * (n + 1) * (2*n + 1) / 6 }

func TestRunProcessesEveryItem(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{items: 5000, workers: 3, capacity: 8}); err != nil {
		t.Fatalf("run() = %v; want nil", err)
	}
	want := fmt.Sprintf("produced 5000, squared 5000, consumed 5000\nsum of squares: %d\nlost: 0\n", sumOfSquares(5000))
	if got := out.String(); got != want {
		t.Errorf("run printed:\n%s\nwant:\n%s", got, want)
	}
}

func TestInterruptDrainsInFlightItems(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	cfg := config{items: 1_000_000, workers: 2, capacity: 16, produced: func(n int) {
		if n == 1000 {
			cancel() // Ctrl-C part-way through
		}
	}}
	if err := run(ctx, &out, cfg); err != nil {
		t.Fatalf("run() = %v; want nil", err)
	}
	got := out.String()
	if !strings.HasPrefix(got, "interrupted: stopped producing, drained what was in flight\n") {
		t.Errorf("run printed %q; want it to report the interruption", got)
	}
	want := fmt.Sprintf("produced 1000, squared 1000, consumed 1000\nsum of squares: %d\nlost: 0\n", sumOfSquares(1000))
	if !strings.HasSuffix(got, want) {
		t.Errorf("run printed:\n%s\nwant it to end with:\n%s", got, want)
	}
}

func TestCommandRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	out, err := exec.Command("go", "run", ".", "-n", "2000", "-workers", "2").CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "produced 2000, squared 2000, consumed 2000") || !strings.Contains(string(out), "lost: 0") {
		t.Errorf("go run printed:\n%s", out)
	}
}
