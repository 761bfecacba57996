package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/retry"
)

var errRefused = errors.New("connection refused")

// This example shows a breaker tripping after three failures in a row: the
// fourth call is rejected at once, without reaching the dependency.
func Example() {
	ctx := context.Background()
	b := breaker.New(
		breaker.WithName("db"),
		breaker.WithConsecutiveFailures(3),
		breaker.WithOnStateChange(func(name string, from, to breaker.State) {
			fmt.Printf("hook: %s %v -> %v\n", name, from, to)
		}),
	)
	calls := 0
	query := func(context.Context) error {
		calls++
		return errRefused
	}
	for i := 1; i <= 4; i++ {
		err := b.Do(ctx, query)
		fmt.Printf("call %d: open=%v err=%v\n", i, errors.Is(err, breaker.ErrOpen), errors.Is(err, errRefused))
	}
	fmt.Println("the dependency saw", calls, "calls; state:", b.State())
	// Output:
	// call 1: open=false err=true
	// call 2: open=false err=true
	// hook: db closed -> open
	// call 3: open=false err=true
	// call 4: open=true err=false
	// the dependency saw 3 calls; state: open
}

// This example shows a rejection saying when to come back: the time left in
// the open state, rounded up past the moment the breaker half-opens.
func ExampleRejectedError_RetryAfter() {
	b := breaker.New(breaker.WithOpenTimeout(time.Minute))
	b.Trip()
	err := b.Do(context.Background(), func(context.Context) error { return nil })
	var re *breaker.RejectedError
	if errors.As(err, &re) {
		wait := re.RetryAfter()
		fmt.Println("state:", re.State)
		fmt.Println("within the open timeout:", wait > 59*time.Second && wait <= time.Minute+time.Millisecond)
		fmt.Println("whole milliseconds:", wait%time.Millisecond == 0)
	}
	// Output:
	// state: open
	// within the open timeout: true
	// whole milliseconds: true
}

// This example shows recovery: once the open timeout has passed, the
// breaker half-opens and admits a probe, and a successful probe closes it.
// retry.Do does the waiting: the rejection's RetryAfter is rounded up past
// the moment the breaker half-opens, so the retry after it is always
// admitted as the probe.
func Example_halfOpen() {
	ctx := context.Background()
	b := breaker.New(
		breaker.WithOpenTimeout(20*time.Millisecond),
		breaker.WithOnStateChange(func(_ string, from, to breaker.State) {
			fmt.Printf("hook: %v -> %v\n", from, to)
		}),
	)
	b.Trip()
	probe := func(context.Context) error {
		fmt.Println("probe runs")
		return nil
	}
	err := retry.Do(ctx, func(ctx context.Context) error { return b.Do(ctx, probe) },
		retry.WithMaxAttempts(2),
		retry.WithBackoff(time.Millisecond, time.Millisecond), // the hint sets the wait
		retry.WithOnRetry(func(attempt int, err error, _ time.Duration) {
			fmt.Println("rejected while open:", errors.Is(err, breaker.ErrOpen))
		}),
	)
	fmt.Println("probe:", err, "state:", b.State())
	// Output:
	// hook: closed -> open
	// rejected while open: true
	// hook: open -> half-open
	// probe runs
	// hook: half-open -> closed
	// probe: <nil> state: closed
}

// This example shows one breaker per host: a failing host is cut off while
// the others are still called.
func ExampleGroup() {
	ctx := context.Background()
	hosts := breaker.NewGroup(
		breaker.WithConsecutiveFailures(2),
		breaker.WithOnStateChange(func(host string, from, to breaker.State) {
			fmt.Printf("hook: %s %v -> %v\n", host, from, to)
		}),
	)
	fetch := func(host string) error {
		return hosts.Get(host).Do(ctx, func(context.Context) error {
			if host == "b.example" {
				return errRefused
			}
			return nil
		})
	}
	for range 3 {
		for _, host := range []string{"a.example", "b.example"} {
			if err := fetch(host); err != nil {
				fmt.Printf("%s: open=%v\n", host, errors.Is(err, breaker.ErrOpen))
			}
		}
	}
	fmt.Println("a.example:", hosts.Get("a.example").State())
	fmt.Println("b.example:", hosts.Get("b.example").State())
	// Output:
	// b.example: open=false
	// hook: b.example closed -> open
	// b.example: open=false
	// b.example: open=true
	// a.example: closed
	// b.example: open
}

// This example shows retry.Do around a breaker: the rejection's RetryAfter
// makes the retry wait out the open state instead of hammering it, and the
// probe after the wait succeeds.
func Example_retry() {
	ctx := context.Background()
	b := breaker.New(breaker.WithOpenTimeout(20 * time.Millisecond))
	b.Trip()
	calls := 0
	err := retry.Do(ctx, func(ctx context.Context) error {
		return b.Do(ctx, func(context.Context) error {
			calls++
			return nil
		})
	},
		retry.WithMaxAttempts(3),
		retry.WithBackoff(time.Millisecond, time.Millisecond),
		retry.WithOnRetry(func(attempt int, err error, wait time.Duration) {
			var re *breaker.RejectedError
			fmt.Printf("attempt %d rejected (open=%v); waiting out the open state: %v\n",
				attempt, errors.As(err, &re), wait >= re.RetryAfter())
		}),
	)
	fmt.Println("err:", err, "dependency calls:", calls)
	// Output:
	// attempt 1 rejected (open=true); waiting out the open state: true
	// err: <nil> dependency calls: 1
}
