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
//	go run ./examples/cpubound -n 6000000 -ranges 500
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"time"

	"github.com/async-patterns/async/executor"
)

func main() {
	n := flag.Int("n", 6_000_000, "count the primes below n")
	ranges := flag.Int("ranges", 500, "how many ranges (inputs) to split [0, n) into")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "executor workers")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, config{n: *n, ranges: *ranges, workers: *workers}); err != nil {
		fmt.Fprintln(os.Stderr, "cpubound:", err)
		os.Exit(1)
	}
}

type config struct {
	n       int // count the primes below n
	ranges  int // how many inputs [0, n) is split into
	workers int // executor workers
}

// span is one input: the half-open range [lo, hi).
type span struct{ lo, hi int }

// run counts the primes below cfg.n twice, sequentially and on an executor,
// and prints what it found. Lines that depend on timing start with "time:".
func run(ctx context.Context, out io.Writer, cfg config) error {
	if cfg.n < 2 || cfg.ranges < 1 || cfg.ranges > cfg.n || cfg.workers < 1 {
		return fmt.Errorf("need n >= 2, 1 <= ranges <= n and workers >= 1; got n=%d ranges=%d workers=%d",
			cfg.n, cfg.ranges, cfg.workers)
	}
	spans := split(cfg.n, cfg.ranges)
	fmt.Fprintf(out, "counting the primes below %d in %d ranges\n", cfg.n, len(spans))

	// Sequential: one core does everything.
	start := time.Now()
	seq := make([]int, len(spans))
	for i, s := range spans {
		if err := ctx.Err(); err != nil {
			return err
		}
		seq[i] = countPrimes(s)
	}
	seqTime := time.Since(start)
	fmt.Fprintf(out, "sequential: %d primes\n", sum(seq))
	fmt.Fprintf(out, "time: sequential %v\n", seqTime.Round(time.Millisecond))

	// Parallel: the same function on the executor's workers. Map keeps the
	// input order, so par[i] is the count for spans[i], as in the loop.
	ex := executor.New(executor.WithWorkers(cfg.workers))
	start = time.Now()
	par, err := executor.Map(ctx, ex, spans, func(ctx context.Context, s span) (int, error) {
		return countPrimes(s), nil
	})
	parTime := time.Since(start)
	// Shutdown ends the workers; nothing is queued any more, so it is quick.
	if serr := ex.Shutdown(context.Background()); err == nil {
		err = serr
	}
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
	return nil
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
