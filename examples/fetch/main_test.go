package main

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

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

// What run prints for 8 URLs, timing lines aside. The attempt timeout in the
// tests is generous, so that a loaded machine cannot make an ordinary page
// time out; api.test/slow hangs until the client gives up, however long.
const want8 = `sequential: 8 URLs, one at a time, fresh breakers
  api.test/users/1     ok      200 after 1 attempt
  api.test/flaky       ok      200 after 2 attempts
  down.test/status     failed  503 after 1 attempt
  api.test/slow        ok      200 after 2 attempts
  down.test/feed       failed  503 after 1 attempt
  api.test/missing     failed  404 after 1 attempt
  down.test/search     failed  503 after 1 attempt
  cdn.test/img/1.png   ok      200 after 1 attempt
  4 ok, 4 failed, 10 attempts
  breaker down.test: closed -> open
  then down.test/status again: circuit open, not sent

concurrent: 8 URLs, gather.Map with WithLimit(3), fresh breakers
  api.test/users/1     ok      200 after 1 attempt
  api.test/flaky       ok      200 after 2 attempts
  down.test/status     failed  503 after 1 attempt
  api.test/slow        ok      200 after 2 attempts
  down.test/feed       failed  503 after 1 attempt
  api.test/missing     failed  404 after 1 attempt
  down.test/search     failed  503 after 1 attempt
  cdn.test/img/1.png   ok      200 after 1 attempt
  4 ok, 4 failed, 10 attempts
  breaker down.test: closed -> open
  then down.test/status again: circuit open, not sent
`

func TestRunReportsEveryURLInOrder(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{urls: 8, limit: 3, attemptTimeout: 500 * time.Millisecond}); err != nil {
		t.Fatalf("run() = %v; want nil", err)
	}
	if got := withoutTimes(out.String()); got != want8 {
		t.Errorf("run printed:\n%s\nwant (timing lines aside):\n%s", out.String(), want8)
	}
	for _, prefix := range []string{"time: sequential ", "time: concurrent ", "time: speed-up "} {
		if !strings.Contains(out.String(), "\n"+prefix) {
			t.Errorf("run printed:\n%s\nwant a line starting with %q", out.String(), prefix)
		}
	}
}

// Issue 18, point 3: the concurrent pass used to inherit the breaker the
// first pass had opened, so it rejected down.test at once, said "no breaker
// changed state", and its speed-up compared 10 attempts with 12.
func TestEachPassStartsWithFreshBreakersAndDoesTheSameWork(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{urls: 20, limit: 5, attemptTimeout: 500 * time.Millisecond}); err != nil {
		t.Fatalf("run() = %v; want nil", err)
	}
	seq, con, found := strings.Cut(out.String(), "\nconcurrent:")
	if !found {
		t.Fatalf("run printed:\n%s\nwant a concurrent pass", out.String())
	}
	tally := regexp.MustCompile(`(?m)^  (\d+) ok, (\d+) failed, (\d+) attempts$`)
	var tallies [2][]string
	for i, pass := range []string{seq, con} {
		if !strings.Contains(pass, "\n  breaker down.test: closed -> open\n") {
			t.Errorf("pass %d printed:\n%s\nwant down.test's fresh breaker to open in it", i+1, pass)
		}
		if tallies[i] = tally.FindStringSubmatch(pass); tallies[i] == nil {
			t.Fatalf("pass %d printed:\n%s\nwant a tally line", i+1, pass)
		}
	}
	if tallies[0][0] != tallies[1][0] {
		t.Errorf("tallies = %q and %q; want the same work in both passes", tallies[0][0], tallies[1][0])
	}
	if want := "for the same work\n"; !strings.HasSuffix(out.String(), want) {
		t.Errorf("run printed:\n%s\nwant the speed-up line to end with %q", out.String(), want)
	}
}

func TestMakeURLsIncludesEverySpecialOnce(t *testing.T) {
	for _, n := range []int{len(specials), 7, 20, 51} {
		urls := makeURLs(n)
		if len(urls) != n {
			t.Fatalf("len(makeURLs(%d)) = %d; want %d", n, len(urls), n)
		}
		sorted := slices.Sorted(slices.Values(urls))
		if len(slices.Compact(sorted)) != n {
			t.Errorf("makeURLs(%d) = %v; want no duplicates", n, urls)
		}
		for _, s := range specials {
			if !slices.Contains(urls, s) {
				t.Errorf("makeURLs(%d) = %v; want it to include %s", n, urls, s)
			}
		}
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	for _, cfg := range []config{
		{urls: len(specials) - 1, limit: 1, attemptTimeout: 500 * time.Millisecond},
		{urls: 10, limit: 0, attemptTimeout: 500 * time.Millisecond},
		{urls: 10, limit: 1, attemptTimeout: 0},
	} {
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
	if err := run(ctx, &out, config{urls: 8, limit: 3, attemptTimeout: 500 * time.Millisecond}); err != context.Canceled {
		t.Errorf("run() with a cancelled ctx = %v; want context.Canceled", err)
	}
}

func TestCommandRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	out, err := exec.Command("go", "run", ".", "-n", "8", "-limit", "3", "-timeout", "500ms").CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	if got := withoutTimes(string(out)); got != want8 {
		t.Errorf("go run printed:\n%s\nwant (timing lines aside):\n%s", out, want8)
	}
}
