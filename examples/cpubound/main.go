// Command cpubound is the ProcessPoolExecutor example: a CPU-heavy pure
// function (counting the primes in a range by trial division) over many
// inputs, run first in a plain loop and then with executor.Map on a pool of
// GOMAXPROCS workers. It prints both times, the speed-up, and checks that
// the two runs computed the same thing.
//
// In Python the pool must be a pool of processes, because the GIL lets one
// thread run Python code at a time. Go's goroutines run on every core, so a
// pool of goroutines is all it takes; the executor bounds how many run at once
// (one per core is right for work that never waits) and keeps the input order.
//
// Then it draws a bar chart of the speed-up against the number of workers,
// from 1 to twice GOMAXPROCS, next to the ideal: one core per worker, and no
// gain past the number of cores.
//
//	go run ./examples/cpubound -n 6000000 -ranges 500
//	go run ./examples/cpubound -chart=false   # the two runs only
//
// On a terminal, a run that lasts more than a second shows a progress line;
// with the output piped, only the final lines are printed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/async-patterns/async/executor"
)

func main() {
	n := flag.Int("n", 6_000_000, "count the primes below n")
	ranges := flag.Int("ranges", 500, "how many ranges (inputs) to split [0, n) into")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "executor workers")
	chart := flag.Bool("chart", true, "chart the speed-up for 1 to 2×GOMAXPROCS workers")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := config{n: *n, ranges: *ranges, workers: *workers, chart: *chart}
	if isTerminal(os.Stdout) {
		cfg.progress = os.Stdout
	}
	if err := run(ctx, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "cpubound:", err)
		os.Exit(1)
	}
}

type config struct {
	n        int       // count the primes below n
	ranges   int       // how many inputs [0, n) is split into
	workers  int       // executor workers
	chart    bool      // draw the speed-up against 1 to 2×GOMAXPROCS workers
	progress io.Writer // when set, receives a live progress line (a terminal)
}

// span is one input: the half-open range [lo, hi).
type span struct{ lo, hi int }

// run counts the primes below cfg.n twice, sequentially and on an executor,
// and prints what it found. Lines that depend on timing start with "time:",
// and so do the rows of the chart.
func run(ctx context.Context, out io.Writer, cfg config) error {
	if cfg.n < 2 || cfg.ranges < 1 || cfg.ranges > cfg.n || cfg.workers < 1 {
		return fmt.Errorf("need n >= 2, 1 <= ranges <= n and workers >= 1; got n=%d ranges=%d workers=%d",
			cfg.n, cfg.ranges, cfg.workers)
	}
	spans := split(cfg.n, cfg.ranges)
	fmt.Fprintf(out, "counting the primes below %d in %d ranges\n", cfg.n, len(spans))
	runStart := time.Now()
	// The progress line shows once the whole run has lasted a second.
	showAfter := func() time.Duration { return progressAfter - time.Since(runStart) }

	// Sequential: one core does everything.
	var done atomic.Int64
	stopProgress := startProgress(cfg.progress, "sequential", int64(len(spans)), done.Load, showAfter())
	start := time.Now()
	seq := make([]int, len(spans))
	for i, s := range spans {
		if err := ctx.Err(); err != nil {
			stopProgress()
			return err
		}
		seq[i] = countPrimes(s)
		done.Add(1)
	}
	seqTime := time.Since(start)
	stopProgress()
	fmt.Fprintf(out, "sequential: %d primes\n", sum(seq))
	fmt.Fprintf(out, "time: sequential %v\n", seqTime.Round(time.Millisecond))

	// Parallel: the same function on the executor's workers.
	par, parTime, err := countOnExecutor(ctx, spans, cfg.workers, cfg.progress, showAfter())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "executor.Map on %d workers: %d primes\n", cfg.workers, sum(par))
	fmt.Fprintf(out, "time: parallel %v\n", parTime.Round(time.Millisecond))
	fmt.Fprintf(out, "time: speed-up %.2fx (GOMAXPROCS=%d)\n",
		seqTime.Seconds()/parTime.Seconds(), runtime.GOMAXPROCS(0))

	match := slices.Equal(seq, par)
	fmt.Fprintf(out, "results match: %t\n", match)
	if !match {
		return fmt.Errorf("the parallel counts differ from the sequential ones")
	}
	if !cfg.chart {
		return nil
	}

	// The chart: the same work on 1, 2, ... 2×GOMAXPROCS workers.
	cores := runtime.GOMAXPROCS(0)
	fmt.Fprintf(out, "speed-up against the sequential loop, by number of workers (GOMAXPROCS=%d):\n", cores)
	speedups := make([]float64, 2*cores)
	for i := range speedups {
		_, d, err := countOnExecutor(ctx, spans, i+1, cfg.progress, showAfter())
		if err != nil {
			return err
		}
		speedups[i] = seqTime.Seconds() / d.Seconds()
	}
	drawChart(out, speedups, cores)
	if note := shortfall(slices.Max(speedups), cores); note != "" {
		fmt.Fprintln(out, "time: "+note)
	}
	return nil
}

// shortfall explains a best speed-up well below the number of cores, so
// that it does not read as a bug; it returns "" when there is nothing to
// explain.
func shortfall(best float64, cores int) string {
	if cores == 1 || best >= 0.8*float64(cores) {
		return ""
	}
	load, ok := loadAverage()
	if ok && load >= float64(cores)-0.5 {
		return fmt.Sprintf("the best speed-up, %.2fx, is well below %d: the machine is busy (load average %.2f on %d cores), other programs share the cores", best, cores, load, cores)
	}
	return fmt.Sprintf("the best speed-up, %.2fx, is well below %d: other programs are probably using the cores", best, cores)
}

// loadAverage returns the one-minute load average on Linux (the number of
// threads running or waiting to run), and false elsewhere.
func loadAverage() (float64, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	var load float64
	if _, err := fmt.Sscan(string(b), &load); err != nil {
		return 0, false
	}
	return load, true
}

// countOnExecutor counts the primes in every span with executor.Map on a
// pool of the given number of workers, and returns the counts in input
// order and how long Map took.
func countOnExecutor(ctx context.Context, spans []span, workers int, progress io.Writer, showAfter time.Duration) ([]int, time.Duration, error) {
	var done atomic.Int64
	label := fmt.Sprintf("executor.Map, %d workers", workers)
	stopProgress := startProgress(progress, label, int64(len(spans)), done.Load, showAfter)
	defer stopProgress()
	ex := executor.New(executor.WithWorkers(workers))
	start := time.Now()
	// Map keeps the input order, so counts[i] is the count for spans[i],
	// as in the loop.
	counts, err := executor.Map(ctx, ex, spans, func(ctx context.Context, s span) (int, error) {
		n := countPrimes(s)
		done.Add(1)
		return n, nil
	})
	took := time.Since(start)
	// Shutdown ends the workers; nothing is queued any more, so it is quick.
	if serr := ex.Shutdown(context.Background()); err == nil {
		err = serr
	}
	return counts, took, err
}

// chartWidth is the width, in characters, of the longest bar of the chart.
const chartWidth = 40

// drawChart draws two bars for each number of workers w = 1, 2, ...:
// speedups[w-1], as measured, and the ideal, min(w, cores): one core per
// worker, and nothing more past the number of cores. Every row starts with
// "time:", since the measured bars change from run to run.
func drawChart(out io.Writer, speedups []float64, cores int) {
	top := float64(min(len(speedups), cores))
	for _, x := range speedups {
		top = max(top, x)
	}
	for i, x := range speedups {
		w := i + 1
		ideal := float64(min(w, cores))
		label := fmt.Sprintf("%d workers", w)
		if w == 1 {
			label = "1 worker"
		}
		fmt.Fprintf(out, "time: %10s  measured %-*s %5.2fx\n", label, chartWidth, bar(x/top*chartWidth, '█'), x)
		fmt.Fprintf(out, "time: %10s  ideal    %-*s %5.2fx\n", "", chartWidth, bar(ideal/top*chartWidth, '░'), ideal)
	}
}

// bar returns a bar n characters long, in eighths of a character for the
// solid glyph and whole characters for any other.
func bar(n float64, glyph rune) string {
	if glyph != '█' {
		return strings.Repeat(string(glyph), int(math.Round(n)))
	}
	eighths := int(math.Round(n * 8))
	partial := []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}
	return strings.Repeat("█", eighths/8) + partial[eighths%8]
}

// isTerminal reports whether f is a terminal (a character device), the only
// place a progress line that rewrites itself belongs.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Progress line timing: shown once a run has lasted progressAfter, then
// refreshed every progressEvery.
const (
	progressAfter = time.Second
	progressEvery = 200 * time.Millisecond
)

// startProgress shows "label: done/total ranges, rate ranges/s" on w,
// rewriting one line, from after on. The returned stop erases the line and
// returns when the goroutine that draws it has ended. A nil w shows nothing.
func startProgress(w io.Writer, label string, total int64, done func() int64, after time.Duration) (stop func()) {
	if w == nil {
		return func() {}
	}
	start := time.Now()
	quit := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		wait := time.NewTimer(max(after, 0))
		defer wait.Stop()
		select {
		case <-quit:
			return
		case <-wait.C:
		}
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		for {
			d := done()
			rate := float64(d) / time.Since(start).Seconds()
			fmt.Fprintf(w, "\r\033[K%s: %d/%d ranges, %.0f ranges/s", label, d, total, rate)
			select {
			case <-quit:
				fmt.Fprint(w, "\r\033[K") // erase: the final lines follow
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(quit)
		<-exited
	}
}

// split cuts [0, n) into k contiguous ranges whose sizes differ by at most one.
func split(n, k int) []span {
	spans := make([]span, k)
	for i := range spans {
		spans[i] = span{lo: i * n / k, hi: (i + 1) * n / k}
	}
	return spans
}

// countPrimes counts the primes in [s.lo, s.hi) by trial division: slow on
// purpose, pure, and heavier for larger numbers, so the inputs are uneven.
func countPrimes(s span) int {
	count := 0
	for v := s.lo; v < s.hi; v++ {
		if isPrime(v) {
			count++
		}
	}
	return count
}

// isPrime reports whether v is prime, trying 2, 3 and then every 6k±1 up to √v.
func isPrime(v int) bool {
	if v < 4 {
		return v >= 2
	}
	if v%2 == 0 || v%3 == 0 {
		return false
	}
	for d := 5; d*d <= v; d += 6 {
		if v%d == 0 || v%(d+2) == 0 {
			return false
		}
	}
	return true
}

func sum(counts []int) int {
	total := 0
	for _, c := range counts {
		total += c
	}
	return total
}
