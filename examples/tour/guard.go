package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/guard"
	"github.com/async-patterns/async/retry"
)

// tourGuard shows one guard around a flaky price service: retries drawn
// from a shared budget, a breaker inside them, and a fallback that serves
// the last good price when the call fails for good.
func tourGuard(ctx context.Context, out io.Writer) error {
	const openFor = 100 * time.Millisecond
	budget := retry.NewBudget(0.2, 0.1, 10*time.Second) // 1 retry per 5 requests; floor: 1 per 10s
	b := breaker.New(breaker.WithName("prices"), breaker.WithConsecutiveFailures(5), breaker.WithOpenTimeout(openFor))
	lastGood, why := 0, ""
	g := guard.New(
		guard.WithRetry(retry.WithMaxAttempts(4), retry.WithBackoff(0, 0),
			// An open breaker's rejection goes to the fallback at once,
			// instead of waiting for the breaker to half-open.
			retry.WithRetryIf(func(err error) bool { return !errors.Is(err, breaker.ErrOpen) })),
		guard.WithBudget(budget),
		guard.WithBreaker(b),
		guard.WithFallback(func(ctx context.Context, err error) (int, error) {
			switch {
			case errors.Is(err, retry.ErrBudgetExhausted):
				why = "the budget refused a retry"
			case errors.Is(err, breaker.ErrOpen):
				why = "the breaker is open"
			case errors.Is(err, retry.ErrExhausted):
				why = "the retries ran out"
			}
			return lastGood, nil // stale, but an answer
		}),
	)
	up, attempts := true, 0
	price := func(ctx context.Context) (int, error) {
		attempts++
		if !up {
			return 0, errors.New("connection refused")
		}
		return 120, nil
	}
	call := func() (int, error) {
		attempts, why = 0, ""
		v, err := guard.DoValue(ctx, g, price)
		if err == nil && why == "" {
			lastGood = v
		}
		return v, err
	}
	for range 10 {
		if _, err := call(); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "10 requests while the service is up: price %d, 1 attempt each\n", lastGood)
	up = false
	fmt.Fprintln(out, "the service goes down (4 attempts per request, so without a budget each request would make 4):")
	total := 0
	for i := 11; i <= 15; i++ {
		v, err := call()
		if err != nil {
			return err
		}
		total += attempts
		fmt.Fprintf(out, "  request %d: %s; fallback served %d (%s); breaker %v\n", i, plural(attempts, "attempt"), v, why, b.State())
	}
	s := budget.Stats()
	fmt.Fprintf(out, "5 requests in the outage made %d attempts, not 20: the budget allowed %d retries and refused %d\n", total, s.Spent, s.Refused)
	up = true
	time.Sleep(openFor + 10*time.Millisecond)
	v, err := call()
	fmt.Fprintf(out, "the service recovers; after the open timeout a request goes through: %d, err %v; breaker %v\n", v, err, b.State())
	return nil
}

// plural returns "1 attempt", "0 attempts", "4 attempts".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
