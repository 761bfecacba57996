// Command tour is a guided walk through the packages of
// github.com/async-patterns/async, in a few seconds:
//
//	go run ./examples/tour             # every part
//	go run ./examples/tour -part retry # one part: gather, taskgroup, queue, retry, breaker, executor, memo, guard
//
// Each part prints what happens. Lines that carry a measured time start
// with "time:"; everything else prints the same on every run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/gather"
	"github.com/async-patterns/async/memo"
	"github.com/async-patterns/async/queue"
	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/taskgroup"
)

// part is one stop of the tour.
type part struct {
	name, title string
	run         func(ctx context.Context, out io.Writer) error
}

var parts = []part{
	{"gather", "gather: run three 200 ms calls at once", tourGather},
	{"taskgroup", "taskgroup: a failing task cancels its siblings", tourTaskgroup},
	{"queue", "queue: a producer and two consumers on a bounded queue", tourQueue},
	{"retry", "retry: a flaky call made reliable", tourRetry},
	{"breaker", "breaker: a circuit trips and recovers", tourBreaker},
	{"executor", "executor: CPU-bound work on a worker pool", tourExecutor},
	{"memo", "memo: a cached lookup that concurrent callers share", tourMemo},
	{"guard", "guard: retry, budget, breaker and fallback around a flaky call", tourGuard},
}

func main() {
	only := flag.String("part", "", "run one part only: "+strings.Join(names(), ", "))
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *only); err != nil {
		fmt.Fprintln(os.Stderr, "tour:", err)
		os.Exit(1)
	}
}

func names() []string {
	var ns []string
	for _, p := range parts {
		ns = append(ns, p.name)
	}
	return ns
}

// run runs every part, or only the one named by only.
func run(ctx context.Context, out io.Writer, only string) error {
	if only != "" && !slices.Contains(names(), only) {
		return fmt.Errorf("unknown part %q; want one of %s", only, strings.Join(names(), ", "))
	}
	for i, p := range parts {
		if only != "" && p.name != only {
			continue
		}
		fmt.Fprintf(out, "== %d. %s\n", i+1, p.title)
		if err := p.run(ctx, out); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		fmt.Fprintln(out)
	}
	return nil
}

// fetchUser stands in for a network call that takes 200 ms.
func fetchUser(name string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		select {
		case <-time.After(200 * time.Millisecond):
			return "user " + name, nil
		case <-ctx.Done():
			return "", context.Cause(ctx)
		}
	}
}

func tourGather(ctx context.Context, out io.Writer) error {
	calls := []func(context.Context) (string, error){fetchUser("ada"), fetchUser("bob"), fetchUser("cy")}

	start := time.Now()
	var seq []string
	for _, call := range calls {
		v, err := call(ctx)
		if err != nil {
			return err
		}
		seq = append(seq, v)
	}
	sequential := time.Since(start)
	fmt.Fprintf(out, "one after another: %s\n", strings.Join(seq, ", "))
	fmt.Fprintf(out, "time: sequential %v\n", sequential.Round(10*time.Millisecond))

	start = time.Now()
	all, err := gather.All(ctx, calls...)
	if err != nil {
		return err
	}
	concurrent := time.Since(start)
	fmt.Fprintf(out, "gather.All (input order kept): %s\n", strings.Join(all, ", "))
	fmt.Fprintf(out, "time: gather.All %v, %.1fx faster\n", concurrent.Round(10*time.Millisecond), float64(sequential)/float64(concurrent))
	return nil
}

func tourTaskgroup(ctx context.Context, out io.Writer) error {
	errBadRow := errors.New("row 3 is malformed")
	g := taskgroup.New(ctx)
	started := make(chan struct{})
	// A long job that honours cancellation.
	long := taskgroup.Spawn(g, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		return 0, ctx.Err()
	})
	<-started
	// A job that fails: the group cancels the long one with this cause.
	g.Go(func(ctx context.Context) error { return errBadRow })
	err := g.Wait()
	fmt.Fprintf(out, "Wait returned: %v\n", err)
	_, lerr := long.Wait(ctx)
	fmt.Fprintf(out, "the long task ended %v (%v), not counted as a failure\n", long.State(), lerr)

	// Panics become errors instead of crashing the program.
	g = taskgroup.New(ctx)
	g.Go(func(ctx context.Context) error { panic("oops") })
	var pe *taskgroup.PanicError
	if err := g.Wait(); errors.As(err, &pe) {
		fmt.Fprintf(out, "a panicking task came back as an error: panic value %q\n", pe.Value)
	}
	return nil
}

func tourQueue(ctx context.Context, out io.Writer) error {
	q := queue.New[int](4) // bounded: the producer waits when it is full
	g := taskgroup.New(ctx)
	g.Go(func(ctx context.Context) error {
		defer q.Close() // graceful: consumers drain what is left
		for i := 1; i <= 20; i++ {
			if err := q.Put(ctx, i); err != nil {
				return err
			}
		}
		return nil
	})
	sums := make([]int, 2)
	counts := make([]int, 2)
	for c := range 2 {
		g.Go(func(ctx context.Context) error {
			for v := range q.All(ctx) { // ends when the queue is closed and drained
				sums[c] += v
				counts[c]++
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	fmt.Fprintf(out, "20 items through a queue of capacity %d, 2 consumers\n", q.Cap())
	fmt.Fprintf(out, "received %d items, sum %d (want 210): nothing lost, nothing twice\n", counts[0]+counts[1], sums[0]+sums[1])

	pq := queue.NewPriority(8, func(a, b string) bool { return a[0] < b[0] })
	for _, job := range []string{"3 low", "1 urgent", "2 normal", "1 also urgent"} {
		_ = pq.TryPut(job)
	}
	pq.Close()
	var order []string
	for job := range pq.All(ctx) {
		order = append(order, job)
	}
	fmt.Fprintf(out, "priority queue order: %s\n", strings.Join(order, " | "))
	return nil
}

func tourRetry(ctx context.Context, out io.Writer) error {
	calls := 0
	flaky := func(ctx context.Context) (string, error) {
		calls++
		if calls < 3 {
			return "", fmt.Errorf("connection reset (call %d)", calls)
		}
		return "200 OK", nil
	}
	v, err := retry.DoValue(ctx, flaky,
		retry.WithMaxAttempts(5),
		retry.WithBackoff(10*time.Millisecond, 100*time.Millisecond),
		retry.WithJitter(0), // no randomness, so the waits print the same every time
		retry.WithOnRetry(func(attempt int, err error, wait time.Duration) {
			fmt.Fprintf(out, "attempt %d failed: %v; waiting %v\n", attempt, err, wait)
		}),
	)
	fmt.Fprintf(out, "result: %q, err: %v, after %d calls\n", v, err, calls)

	err = retry.Do(ctx, func(ctx context.Context) error {
		return retry.Permanent(errors.New("401 unauthorized"))
	})
	fmt.Fprintf(out, "a permanent error is not retried: %v\n", err)
	return nil
}

func tourBreaker(ctx context.Context, out io.Writer) error {
	// Long enough that call 4 comes while the breaker is still open even
	// on a busy machine, short enough not to hold up the tour.
	const openFor = 250 * time.Millisecond
	// The hook runs on the goroutine of the call that changed the state,
	// before that call returns: keep the changes and print them after the
	// line that reports the call, so the output reads in cause-then-effect
	// order.
	var changes []string
	printChanges := func() {
		for _, c := range changes {
			fmt.Fprintln(out, c)
		}
		changes = changes[:0]
	}
	b := breaker.New(
		breaker.WithName("payments"),
		breaker.WithConsecutiveFailures(3),
		breaker.WithOpenTimeout(openFor),
		breaker.WithOnStateChange(func(name string, from, to breaker.State) {
			changes = append(changes, fmt.Sprintf("  state change: %s %v -> %v", name, from, to))
		}),
	)
	healthy := false
	call := func(ctx context.Context) error {
		if !healthy {
			return errors.New("503 service unavailable")
		}
		return nil
	}
	for i := 1; i <= 4; i++ {
		err := b.Do(ctx, call)
		var rej *breaker.RejectedError
		if errors.As(err, &rej) {
			fmt.Fprintf(out, "call %d: rejected, the service was not called: errors.Is(err, breaker.ErrOpen) = %t; retry after <= %v\n",
				i, errors.Is(err, breaker.ErrOpen), openFor)
		} else {
			fmt.Fprintf(out, "call %d: the service failed: %v\n", i, err)
		}
		printChanges()
	}
	healthy = true
	// retry waits out the open state using the rejection's RetryAfter hint.
	err := retry.Do(ctx, func(ctx context.Context) error { return b.Do(ctx, call) },
		retry.WithBackoff(time.Millisecond, time.Millisecond))
	fmt.Fprintf(out, "the service recovers; after the open timeout a probe goes through: err = %v\n", err)
	printChanges()
	fmt.Fprintf(out, "state now: %v\n", b.State())
	return nil
}

// work is a CPU-bound function: it counts the primes below n.
func work(ctx context.Context, n int) (int, error) {
	count := 0
	for i := 2; i < n; i++ {
		prime := true
		for d := 2; d*d <= i; d++ {
			if i%d == 0 {
				prime = false
				break
			}
		}
		if prime {
			count++
		}
	}
	return count, nil
}

func tourExecutor(ctx context.Context, out io.Writer) error {
	inputs := make([]int, 64)
	for i := range inputs {
		inputs[i] = 60_000 + i
	}
	start := time.Now()
	seq := make([]int, len(inputs))
	for i, n := range inputs {
		seq[i], _ = work(ctx, n)
	}
	sequential := time.Since(start)

	ex := executor.New(executor.WithWorkers(runtime.GOMAXPROCS(0)))
	start = time.Now()
	par, err := executor.Map(ctx, ex, inputs, work)
	parallel := time.Since(start)
	if serr := ex.Shutdown(ctx); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "counted the primes below each of %d numbers on a pool of GOMAXPROCS workers\n", len(inputs))
	fmt.Fprintf(out, "results match the sequential loop: %v\n", slices.Equal(seq, par))
	load, haveLoad := loadAverage()
	fmt.Fprintf(out, "time: sequential %v, executor.Map %v: %s\n",
		sequential.Round(time.Millisecond), parallel.Round(time.Millisecond),
		speedup(float64(sequential)/float64(parallel), runtime.GOMAXPROCS(0), load, haveLoad))
	return nil
}

// speedup describes a measured speed-up of work spread over one worker per
// core: it names the core count, and when the speed-up falls well short of
// the ideal (one per core) it says why that is likely, so that 0.96x on a
// busy machine does not read as a bug.
func speedup(x float64, cores int, load float64, haveLoad bool) string {
	s := fmt.Sprintf("%.2fx speed-up on %d cores", x, cores)
	switch {
	case cores == 1:
		return fmt.Sprintf("%.2fx on 1 core (GOMAXPROCS=1): no speed-up is possible", x)
	case x >= 0.8*float64(cores):
		return s
	case haveLoad && load >= float64(cores)-0.5:
		return fmt.Sprintf("%s, below the ideal %d.00x: the machine is busy (load average %.2f on %d cores), other programs share the cores", s, cores, load, cores)
	default:
		return fmt.Sprintf("%s, below the ideal %d.00x: other programs are probably using the cores", s, cores)
	}
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

func tourMemo(ctx context.Context, out io.Writer) error {
	var loads atomic.Int64
	users := memo.New(func(ctx context.Context, name string) (string, error) {
		loads.Add(1)
		if name == "mallory" {
			panic("driver bug")
		}
		select { // a 200 ms lookup
		case <-time.After(200 * time.Millisecond):
			return "user " + name, nil
		case <-ctx.Done():
			return "", context.Cause(ctx)
		}
	}, memo.WithTTL(time.Minute), memo.WithMaxEntries(1000))
	defer users.Close()

	// Ten requests for one user arrive together: they share one lookup.
	get := func(ctx context.Context) (string, error) { return users.Get(ctx, "ada") }
	all, err := gather.All(ctx, slices.Repeat([]func(context.Context) (string, error){get}, 10)...)
	if err != nil {
		return err
	}
	s := users.Stats()
	fmt.Fprintf(out, "10 concurrent Gets: %d x %q from %d lookup (%d callers joined it)\n", len(all), all[0], loads.Load(), s.Coalesced)

	v, err := users.Get(ctx, "ada")
	fmt.Fprintf(out, "a later Get is a hit: %q, %v; lookups still %d\n", v, err, loads.Load())

	_, err = users.Get(ctx, "mallory")
	var pe *memo.PanicError
	fmt.Fprintf(out, "a panicking lookup comes back as an error: %v, panic value %q\n", errors.As(err, &pe), pe.Value)
	return nil
}
