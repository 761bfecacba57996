package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/async-patterns/async/retry"
)

// This example shows a flaky call that succeeds on its third try. With the
// jitter at 0 the waits are exact: 1ms, then twice that.
func ExampleDo() {
	calls := 0
	err := retry.Do(context.Background(), func(ctx context.Context) error {
		calls++
		if calls < 3 {
			return fmt.Errorf("connection reset (call %d)", calls)
		}
		return nil
	},
		retry.WithBackoff(time.Millisecond, 10*time.Millisecond),
		retry.WithMultiplier(2),
		retry.WithJitter(0),
		retry.WithOnRetry(func(attempt int, err error, wait time.Duration) {
			fmt.Printf("attempt %d failed: %v; next try in %v\n", attempt, err, wait)
		}),
	)
	fmt.Printf("calls: %d, err: %v\n", calls, err)
	// Output:
	// attempt 1 failed: connection reset (call 1); next try in 1ms
	// attempt 2 failed: connection reset (call 2); next try in 2ms
	// calls: 3, err: <nil>
}

// This example shows that a permanent error stops the retries at once, and
// that the result still matches the error the function returned.
func ExamplePermanent() {
	errNotFound := errors.New("user not found")
	calls := 0
	err := retry.Do(context.Background(), func(ctx context.Context) error {
		calls++
		return retry.Permanent(errNotFound)
	})
	fmt.Println("calls:", calls)
	fmt.Println(err)
	fmt.Println("is errNotFound:", errors.Is(err, errNotFound))
	fmt.Println("is ErrExhausted:", errors.Is(err, retry.ErrExhausted))
	// Output:
	// calls: 1
	// retry: attempt 1 failed permanently: user not found
	// is errNotFound: true
	// is ErrExhausted: false
}

// This example shows a server's Retry-After hint stretching the wait past the
// backoff: the hint is 5ms, the backoff only 1ms.
func ExampleAfter() {
	errBusy := errors.New("429 too many requests")
	calls := 0
	body, err := retry.DoValue(context.Background(), func(ctx context.Context) (string, error) {
		calls++
		if calls == 1 {
			return "", retry.After(5*time.Millisecond, errBusy)
		}
		return "hello", nil
	},
		retry.WithBackoff(time.Millisecond, time.Second),
		retry.WithJitter(0),
		retry.WithOnRetry(func(attempt int, err error, wait time.Duration) {
			fmt.Printf("attempt %d: %v; waiting %v\n", attempt, err, wait)
		}),
	)
	fmt.Println(body, err)
	// Output:
	// attempt 1: 429 too many requests; waiting 5ms
	// hello <nil>
}

// This example shows the error of a call that ran out of attempts: it carries
// the number of attempts and the last error, and matches both ErrExhausted and
// that error.
func ExampleError() {
	errDown := errors.New("service unavailable")
	err := retry.Do(context.Background(), func(ctx context.Context) error {
		return errDown
	}, retry.WithMaxAttempts(3), retry.WithBackoff(time.Millisecond, time.Millisecond))

	var re *retry.Error
	if errors.As(err, &re) {
		fmt.Println("attempts:", re.Attempts, "last:", re.Last)
	}
	fmt.Println(errors.Is(err, retry.ErrExhausted), errors.Is(err, errDown))
	fmt.Println(err)
	// Output:
	// attempts: 3 last: service unavailable
	// true true
	// retry: gave up after 3 attempts (attempt limit): service unavailable
}

// This example shows a bad option: the call returns an error naming it and
// makes no attempt.
func ExampleWithMaxAttempts_badValue() {
	calls := 0
	err := retry.Do(context.Background(), func(ctx context.Context) error {
		calls++
		return nil
	}, retry.WithMaxAttempts(0))
	fmt.Println("calls:", calls)
	fmt.Println(err)
	// Output:
	// calls: 0
	// retry: bad option WithMaxAttempts(0): the attempt limit must be at least 1
}
