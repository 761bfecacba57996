package retry_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/async-patterns/async/retry"
)

// op is the operation of every contender. It is a package-level variable so
// that no contender, the direct call included, can have it inlined away.
var op = func(context.Context) error { return nil }

var sink error

var sharedOpts = []retry.Option{
	retry.WithMaxAttempts(3),
	retry.WithBackoff(10*time.Millisecond, time.Second),
	retry.WithJitter(0.2),
	retry.WithOnRetry(func(int, error, time.Duration) {}),
}

// BenchmarkFirstTrySuccess compares, in one run, the cost of a first-try
// success: a direct call (the floor), retry.Do without and with options, and
// backoff/v4's Retry as it is usually called.
func BenchmarkFirstTrySuccess(b *testing.B) {
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = op(ctx)
		}
	})
	b.Run("retry.Do", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = retry.Do(ctx, op)
		}
	})
	b.Run("retry.Do/inline-options", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = retry.Do(ctx, op,
				retry.WithMaxAttempts(3),
				retry.WithBackoff(10*time.Millisecond, time.Second),
				retry.WithJitter(0.2),
				retry.WithOnRetry(func(int, error, time.Duration) {}))
		}
	})
	b.Run("retry.Do/shared-options", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = retry.Do(ctx, op, sharedOpts...)
		}
	})
	b.Run("retry.DoValue", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, sink = retry.DoValue(ctx, func(ctx context.Context) (int, error) { return 1, op(ctx) })
		}
	})
	b.Run("retry.Do/max-elapsed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = retry.Do(ctx, op, retry.WithMaxElapsed(time.Second))
		}
	})
	b.Run("backoff.v4.Retry", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = backoff.Retry(func() error { return op(ctx) }, backoff.NewExponentialBackOff())
		}
	})
	b.Run("backoff.v4.Retry/WithContext", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = backoff.Retry(func() error { return op(ctx) },
				backoff.WithContext(backoff.WithMaxRetries(backoff.NewExponentialBackOff(), 2), ctx))
		}
	})
}

// BenchmarkBudget measures, in one run, a first-try success with and
// without a budget (the budget's cost: one Deposit), and, per request of
// 4 attempts without waits, the attempts made and the success rate in a
// total outage and at 10% random failures, with and without
// NewBudget(0.15, 1, 10s). At the rate a benchmark loop sends, the floor is
// nothing and the bound is the ratio.
func BenchmarkBudget(b *testing.B) {
	ctx := context.Background()
	b.Run("first-try/none", func(b *testing.B) {
		b.ReportAllocs()
		opts := []retry.Option{retry.WithMaxAttempts(4)}
		for b.Loop() {
			sink = retry.Do(ctx, op, opts...)
		}
	})
	b.Run("first-try/budget", func(b *testing.B) {
		b.ReportAllocs()
		opts := []retry.Option{retry.WithMaxAttempts(4), retry.WithBudget(retry.NewBudget(0.15, 1, 10*time.Second))}
		for b.Loop() {
			sink = retry.Do(ctx, op, opts...)
		}
	})
	for _, fail := range []float64{1, 0.1} {
		for _, budget := range []bool{false, true} {
			name := fmt.Sprintf("fail=%g%%/budget=%v", 100*fail, budget)
			b.Run(name, func(b *testing.B) {
				opts := []retry.Option{retry.WithMaxAttempts(4), retry.WithBackoff(0, 0)}
				if budget {
					opts = append(opts, retry.WithBudget(retry.NewBudget(0.15, 1, 10*time.Second)))
				}
				rng := rand.New(rand.NewPCG(1, 2))
				attempts, ok := 0, 0
				errDown := errors.New("down")
				fn := func(context.Context) error {
					attempts++
					if rng.Float64() < fail {
						return errDown
					}
					return nil
				}
				for b.Loop() {
					if retry.Do(ctx, fn, opts...) == nil {
						ok++
					}
				}
				b.ReportMetric(float64(attempts)/float64(b.N), "attempts/req")
				b.ReportMetric(100*float64(ok)/float64(b.N), "success%")
			})
		}
	}
}
