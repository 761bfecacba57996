package guard_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/guard"
	"github.com/async-patterns/async/retry"
)

// This example shows a guard around a flaky call: retries drawn from a
// budget shared by every caller, a breaker, and a fallback that serves the
// last good price. When the service goes down, the budget refuses the
// retries that would multiply the outage, the breaker opens, and the
// fallback answers while it is open.
func Example() {
	budget := retry.NewBudget(0.1, 0.1, 10*time.Second) // 1 retry per 10 requests, floor: 1 per 10s
	b := breaker.New(breaker.WithName("prices"), breaker.WithConsecutiveFailures(3))
	lastGood, served := 0, ""
	g := guard.New(
		guard.WithRetry(retry.WithMaxAttempts(4), retry.WithBackoff(0, 0),
			// An open breaker's rejection goes straight to the fallback
			// rather than waiting for the breaker to half-open.
			retry.WithRetryIf(func(err error) bool { return !errors.Is(err, breaker.ErrOpen) })),
		guard.WithBudget(budget),
		guard.WithBreaker(b),
		guard.WithFallback(func(ctx context.Context, err error) (int, error) {
			switch {
			case errors.Is(err, retry.ErrBudgetExhausted):
				served = "fallback: the budget refused a retry"
			case errors.Is(err, breaker.ErrOpen):
				served = "fallback: the breaker is open"
			}
			return lastGood, nil
		}),
	)

	up, attempts := true, 0
	getPrice := func(ctx context.Context) (int, error) {
		attempts++
		if !up {
			return 0, errors.New("connection refused")
		}
		return 120, nil
	}
	for i := range 5 {
		if i == 1 {
			up = false
			fmt.Println("the service goes down")
		}
		attempts, served = 0, "served"
		price, err := guard.DoValue(context.Background(), g, getPrice)
		if err == nil && up {
			lastGood = price
		}
		fmt.Printf("call %d: %d (%s) after %d attempts, err %v; breaker %v\n", i+1, price, served, attempts, err, b.State())
	}
	s := budget.Stats()
	fmt.Printf("budget: %d retries spent, %d refused\n", s.Spent, s.Refused)
	// Output:
	// call 1: 120 (served) after 1 attempts, err <nil>; breaker closed
	// the service goes down
	// call 2: 120 (fallback: the budget refused a retry) after 2 attempts, err <nil>; breaker closed
	// call 3: 120 (fallback: the budget refused a retry) after 1 attempts, err <nil>; breaker open
	// call 4: 120 (fallback: the breaker is open) after 0 attempts, err <nil>; breaker open
	// call 5: 120 (fallback: the breaker is open) after 0 attempts, err <nil>; breaker open
	// budget: 1 retries spent, 2 refused
}

// This example shows a hedge: when the first copy of an idempotent call
// has not answered after the delay, a second is sent; the first success
// wins and the slow copy is cancelled and awaited.
func ExampleWithHedge() {
	g := guard.New(guard.WithHedge(time.Millisecond, 2))
	var copies atomic.Int32
	v, err := guard.DoValue(context.Background(), g, func(ctx context.Context) (string, error) {
		if copies.Add(1) == 1 {
			<-ctx.Done() // a replica that hangs
			return "", ctx.Err()
		}
		return "answer from the second copy", nil
	})
	fmt.Println(v, err)
	// Output:
	// answer from the second copy <nil>
}
