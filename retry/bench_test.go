package retry_test

import (
	"context"
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
