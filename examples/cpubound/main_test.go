package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// withoutTimes drops the lines that depend on timing.
func withoutTimes(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(line, "time:") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func TestRunCountsPrimesBothWays(t *testing.T) {
	var out bytes.Buffer
	// π(100000) = 9592.
	if err := run(context.Background(), &out, config{n: 100_000, ranges: 37, workers: 3}); err != nil {
		t.Fatalf("run() = %v; want nil", err)
	}
	want := "counting the primes below 100000 in 37 ranges\n" +
		"sequential: 9592 primes\n" +
		"executor.Map on 3 workers: 9592 primes\n" +
		"results match: true\n"
	if got := withoutTimes(out.String()); got != want {
		t.Errorf("run printed:\n%s\nwant (timing lines aside):\n%s", out.String(), want)
	}
	for _, prefix := range []string{"time: sequential ", "time: parallel ", "time: speed-up "} {
		if !strings.Contains(out.String(), "\n"+prefix) {
			t.Errorf("run printed:\n%s\nwant a line starting with %q", out.String(), prefix)
		}
	}
}

func TestCountPrimesAgreesWithASieve(t *testing.T) {
	const n = 10_000
	// below[v] is the number of primes below v, from a sieve of Eratosthenes.
	composite := make([]bool, n)
	below := make([]int, n+1)
	for v := 0; v < n; v++ {
		below[v+1] = below[v]
		if v >= 2 && !composite[v] {
			below[v+1]++
			for m := v * v; m < n; m += v {
				composite[m] = true
			}
		}
	}
	for _, s := range []span{{0, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 4}, {0, 5}, {0, 25}, {2, 3}, {4, 5}, {90, 98}, {1000, 5000}, {0, n}} {
		if got, want := countPrimes(s), below[s.hi]-below[s.lo]; got != want {
			t.Errorf("countPrimes(%v) = %d; want %d", s, got, want)
		}
	}
}

func TestSplitCoversTheRangeOnce(t *testing.T) {
	for _, tc := range []struct{ n, k int }{{10, 1}, {10, 3}, {10, 10}, {1_000_003, 7}} {
		spans := split(tc.n, tc.k)
		if len(spans) != tc.k {
			t.Fatalf("len(split(%d, %d)) = %d; want %d", tc.n, tc.k, len(spans), tc.k)
		}
		next := 0
		for i, s := range spans {
			if s.lo != next || s.hi <= s.lo {
				t.Fatalf("split(%d, %d)[%d] = %v; want a non-empty range starting at %d", tc.n, tc.k, i, s, next)
			}
			next = s.hi
		}
		if next != tc.n {
			t.Errorf("split(%d, %d) ends at %d; want %d", tc.n, tc.k, next, tc.n)
		}
	}
}

func TestRunRejectsBadSizes(t *testing.T) {
	for _, cfg := range []config{{n: 1, ranges: 1, workers: 1}, {n: 10, ranges: 0, workers: 1}, {n: 10, ranges: 11, workers: 1}, {n: 10, ranges: 2, workers: 0}} {
		var out bytes.Buffer
		if err := run(context.Background(), &out, cfg); err == nil {
			t.Errorf("run(%+v) = nil; want an error", cfg)
		}
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, config{n: 1000, ranges: 10, workers: 2}); err != context.Canceled {
		t.Errorf("run() with a cancelled ctx = %v; want context.Canceled", err)
	}
}

func TestCommandRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	out, err := exec.Command("go", "run", ".", "-n", "200000", "-ranges", "50", "-workers", "2").CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	// π(200000) = 17984.
	want := "counting the primes below 200000 in 50 ranges\n" +
		"sequential: 17984 primes\n" +
		"executor.Map on 2 workers: 17984 primes\n" +
		"results match: true\n"
	if got := withoutTimes(string(out)); got != want {
		t.Errorf("go run printed:\n%s\nwant (timing lines aside):\n%s", out, want)
	}
}
