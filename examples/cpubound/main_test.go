package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
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
	cmd := exec.Command("go", "run", ".", "-n", "200000", "-ranges", "50", "-workers", "2")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output() // a pipe: no progress line
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, stderr.String())
	}
	// π(200000) = 17984.
	want := "counting the primes below 200000 in 50 ranges\n" +
		"sequential: 17984 primes\n" +
		"executor.Map on 2 workers: 17984 primes\n" +
		"results match: true\n" +
		fmt.Sprintf("speed-up against the sequential loop, by number of workers (GOMAXPROCS=%d):\n", runtime.GOMAXPROCS(0))
	if got := withoutTimes(string(out)); got != want {
		t.Errorf("go run printed:\n%s\nwant (timing lines aside):\n%s", out, want)
	}
	if strings.Contains(string(out), "\r") {
		t.Errorf("go run printed %q; want no progress line when piped", out)
	}
}

func TestRunDrawsTheChart(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{n: 20_000, ranges: 16, workers: 2, chart: true}); err != nil {
		t.Fatalf("run() = %v; want nil", err)
	}
	_, chart, ok := strings.Cut(out.String(), "by number of workers")
	if !ok {
		t.Fatalf("run printed:\n%s\nwant a chart", out.String())
	}
	cores := runtime.GOMAXPROCS(0)
	rows := strings.Split(strings.TrimSuffix(chart, "\n"), "\n")[1:]
	if last := rows[len(rows)-1]; strings.HasPrefix(last, "time: the best speed-up") {
		rows = rows[:len(rows)-1] // the note on a busy machine
	}
	if len(rows) != 2*2*cores {
		t.Fatalf("the chart has %d rows:\n%s\nwant two (measured, ideal) for each of 1..%d workers", len(rows), chart, 2*cores)
	}
	for i, row := range rows {
		w := i/2 + 1
		kind := "measured"
		if i%2 == 1 {
			kind = "ideal"
			if want := fmt.Sprintf("%.2fx", float64(min(w, cores))); !strings.HasSuffix(row, want) {
				t.Errorf("ideal row for %d workers = %q; want it to end with %s", w, row, want)
			}
		} else if label := fmt.Sprintf(" %d worker", w); !strings.Contains(row, label) {
			t.Errorf("row %d = %q; want it labelled %q", i, row, label)
		}
		if !strings.HasPrefix(row, "time: ") || !strings.Contains(row, kind) {
			t.Errorf("row %d = %q; want a %q row starting with \"time: \"", i, row, kind)
		}
	}
}

func TestDrawChart(t *testing.T) {
	var out bytes.Buffer
	drawChart(&out, []float64{1, 1.9, 1.95, 2.5}, 2)
	// The longest bar, 2.50x, is 40 characters wide.
	want := "" +
		"time:   1 worker  measured ████████████████                          1.00x\n" +
		"time:             ideal    ░░░░░░░░░░░░░░░░                          1.00x\n" +
		"time:  2 workers  measured ██████████████████████████████▍           1.90x\n" +
		"time:             ideal    ░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░          2.00x\n" +
		"time:  3 workers  measured ███████████████████████████████▎          1.95x\n" +
		"time:             ideal    ░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░          2.00x\n" +
		"time:  4 workers  measured ████████████████████████████████████████  2.50x\n" +
		"time:             ideal    ░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░          2.00x\n"
	if got := out.String(); got != want {
		t.Errorf("drawChart printed:\n%s\nwant:\n%s", got, want)
	}
}

func TestShortfall(t *testing.T) {
	if got := shortfall(1.9, 2); got != "" {
		t.Errorf("shortfall(1.9, 2) = %q; want nothing to explain", got)
	}
	if got := shortfall(1, 1); got != "" {
		t.Errorf("shortfall(1, 1) = %q; want nothing to explain", got)
	}
	if got := shortfall(0.96, 2); !strings.HasPrefix(got, "the best speed-up, 0.96x, is well below 2: ") ||
		!strings.Contains(got, "other programs") {
		t.Errorf("shortfall(0.96, 2) = %q; want it to say other programs take the cores", got)
	}
}

func TestBar(t *testing.T) {
	for _, tc := range []struct {
		n     float64
		glyph rune
		want  string
	}{
		{0, '█', ""},
		{2.5, '█', "██▌"},
		{0.125, '█', "▏"},
		{2.5, '░', "░░░"},
		{2.4, '░', "░░"},
	} {
		if got := bar(tc.n, tc.glyph); got != tc.want {
			t.Errorf("bar(%v, %q) = %q; want %q", tc.n, tc.glyph, got, tc.want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestProgress(t *testing.T) {
	t.Run("nothing is shown before the delay", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var w syncBuffer
			stop := startProgress(&w, "sequential", 100, func() int64 { return 5 }, time.Second)
			time.Sleep(time.Second - time.Millisecond)
			stop()
			if got := w.String(); got != "" {
				t.Errorf("progress printed %q; want nothing", got)
			}
		})
	})
	t.Run("after the delay a line shows done/total and the rate, and stop erases it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var w syncBuffer
			var done atomic.Int64
			done.Store(50)
			stop := startProgress(&w, "executor.Map, 2 workers", 200, done.Load, 500*time.Millisecond)
			time.Sleep(500 * time.Millisecond)
			synctest.Wait()
			if got, want := w.String(), "\r\033[Kexecutor.Map, 2 workers: 50/200 ranges, 100 ranges/s"; got != want {
				t.Errorf("progress printed %q; want %q", got, want)
			}
			stop()
			if got := w.String(); !strings.HasSuffix(got, "ranges/s\r\033[K") {
				t.Errorf("progress printed %q; want the line erased at the end", got)
			}
		})
	})
	t.Run("a delay already past shows the line at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var w syncBuffer
			stop := startProgress(&w, "sequential", 10, func() int64 { return 0 }, -time.Second)
			synctest.Wait()
			stop()
			if got := w.String(); !strings.HasPrefix(got, "\r\033[Ksequential: 0/10 ranges") {
				t.Errorf("progress printed %q; want the line at once", got)
			}
		})
	})
}
