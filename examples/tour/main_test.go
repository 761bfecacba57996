package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// want is what the tour prints, minus the lines that carry a measured time.
const want = `== 1. gather: run three 200 ms calls at once
one after another: user ada, user bob, user cy
gather.All (input order kept): user ada, user bob, user cy

== 2. taskgroup: a failing task cancels its siblings
Wait returned: row 3 is malformed
the long task ended cancelled (context canceled), not counted as a failure
a panicking task came back as an error: panic value "oops"

== 3. queue: a producer and two consumers on a bounded queue
20 items through a queue of capacity 4, 2 consumers
received 20 items, sum 210 (want 210): nothing lost, nothing twice
priority queue order: 1 urgent | 1 also urgent | 2 normal | 3 low

== 4. retry: a flaky call made reliable
attempt 1 failed: connection reset (call 1); waiting 10ms
attempt 2 failed: connection reset (call 2); waiting 20ms
result: "200 OK", err: <nil>, after 3 calls
a permanent error is not retried: retry: attempt 1 failed permanently: 401 unauthorized

== 5. breaker: a circuit trips and recovers
call 1: the service failed: 503 service unavailable
call 2: the service failed: 503 service unavailable
call 3: the service failed: 503 service unavailable
  state change: payments closed -> open
call 4: rejected, the service was not called: errors.Is(err, breaker.ErrOpen) = true; retry after <= 250ms
the service recovers; after the open timeout a probe goes through: err = <nil>
  state change: payments open -> half-open
  state change: payments half-open -> closed
state now: closed

== 6. executor: CPU-bound work on a worker pool
counted the primes below each of 64 numbers on a pool of GOMAXPROCS workers
results match the sequential loop: true

== 7. memo: a cached lookup that concurrent callers share
10 concurrent Gets: 10 x "user ada" from 1 lookup (9 callers joined it)
a later Get is a hit: "user ada", <nil>; lookups still 1
a panicking lookup comes back as an error: true, panic value "driver bug"

== 8. guard: retry, budget, breaker and fallback around a flaky call
10 requests while the service is up: price 120, 1 attempt each
the service goes down (4 attempts per request, so without a budget each request would make 4):
  request 11: 4 attempts; fallback served 120 (the retries ran out); breaker closed
  request 12: 1 attempt; fallback served 120 (the budget refused a retry); breaker open
  request 13: 0 attempts; fallback served 120 (the breaker is open); breaker open
  request 14: 0 attempts; fallback served 120 (the breaker is open); breaker open
  request 15: 0 attempts; fallback served 120 (the breaker is open); breaker open
5 requests in the outage made 5 attempts, not 20: the budget allowed 3 retries and refused 1
the service recovers; after the open timeout a request goes through: 120, err <nil>; breaker closed

`

// untimed drops the lines that carry a measured time.
func untimed(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(line, "time:") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func TestTourPrintsEveryPart(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, ""); err != nil {
		t.Fatalf("run() = %v; want nil", err)
	}
	if got := untimed(out.String()); got != want {
		t.Errorf("the tour printed:\n%s\nwant:\n%s", got, want)
	}
	if n := strings.Count(out.String(), "\ntime:"); n != 3 {
		t.Errorf("the tour printed %d timing lines; want 3 (gather twice, executor once)", n)
	}
	cores := fmt.Sprintf(" speed-up on %d cores", runtime.GOMAXPROCS(0))
	if runtime.GOMAXPROCS(0) == 1 {
		cores = " on 1 core (GOMAXPROCS=1)"
	}
	if !strings.Contains(out.String(), "\ntime: sequential ") || !strings.Contains(out.String(), cores) {
		t.Errorf("the tour printed:\n%s\nwant the executor's timing line to say %q", out.String(), cores)
	}
}

func TestSpeedupLine(t *testing.T) {
	for _, tc := range []struct {
		name     string
		x        float64
		cores    int
		load     float64
		haveLoad bool
		want     string
	}{
		{"a speed-up near the ideal names the cores and nothing more", 1.93, 2, 3.5, true,
			"1.93x speed-up on 2 cores"},
		{"a low speed-up on a loaded machine says the machine is busy", 0.96, 2, 3.5, true,
			"0.96x speed-up on 2 cores, below the ideal 2.00x: the machine is busy (load average 3.50 on 2 cores), other programs share the cores"},
		{"a low speed-up with no load average still says why", 0.96, 4, 0, false,
			"0.96x speed-up on 4 cores, below the ideal 4.00x: other programs are probably using the cores"},
		{"a low speed-up on an idle machine does not blame the load", 0.96, 2, 0.1, true,
			"0.96x speed-up on 2 cores, below the ideal 2.00x: other programs are probably using the cores"},
		{"one core explains that no speed-up is possible", 1.01, 1, 0, false,
			"1.01x on 1 core (GOMAXPROCS=1): no speed-up is possible"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := speedup(tc.x, tc.cores, tc.load, tc.haveLoad); got != tc.want {
				t.Errorf("speedup(%v, %d, %v, %t) = %q; want %q", tc.x, tc.cores, tc.load, tc.haveLoad, got, tc.want)
			}
		})
	}
}

func TestOnePart(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, "retry"); err != nil {
		t.Fatalf("run(retry) = %v; want nil", err)
	}
	if got := out.String(); !strings.HasPrefix(got, "== 4. retry") || strings.Contains(got, "== 1.") {
		t.Errorf("run(retry) printed:\n%s\nwant the retry part alone", got)
	}
	if err := run(context.Background(), &out, "nope"); err == nil || !strings.Contains(err.Error(), `unknown part "nope"`) {
		t.Errorf("run(nope) = %v; want an unknown-part error", err)
	}
}

func TestCommandRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	out, err := exec.Command("go", "run", ".", "-part", "queue").CombinedOutput()
	if err != nil {
		t.Fatalf("go run . -part queue: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "received 20 items, sum 210") {
		t.Errorf("go run . -part queue printed:\n%s", out)
	}
}

func TestMemoPart(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, "memo"); err != nil {
		t.Fatalf("run(memo) = %v; want nil", err)
	}
	if got := out.String(); !strings.Contains(got, "from 1 lookup (9 callers joined it)") || strings.Contains(got, "== 1.") {
		t.Errorf("run(memo) printed:\n%s\nwant the memo part alone, with one shared lookup", got)
	}
}

func TestGuardPart(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, "guard"); err != nil {
		t.Fatalf("run(guard) = %v; want nil", err)
	}
	got := out.String()
	for _, line := range []string{
		"(the budget refused a retry)",
		"fallback served 120 (the breaker is open); breaker open",
		"made 5 attempts, not 20",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("run(guard) printed:\n%s\nwant a line with %q", got, line)
		}
	}
	if strings.Contains(got, "== 1.") {
		t.Errorf("run(guard) printed other parts:\n%s", got)
	}
}
