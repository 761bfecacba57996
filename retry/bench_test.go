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

// BenchmarkOverhead measures what retry.Do adds to a first-try success in a
// way that survives a busy machine: it alternates blocks of direct calls and
// blocks of retry.Do calls, so that both see the same load, and reports the
// per-call cost of each and their difference (added-ns/call).
func BenchmarkOverhead(b *testing.B) {
	ctx := context.Background()
	contenders := map[string]func(){
		"no-options":     func() { sink = retry.Do(ctx, op) },
		"shared-options": func() { sink = retry.Do(ctx, op, sharedOpts...) },
		"inline-options": func() {
			sink = retry.Do(ctx, op,
				retry.WithMaxAttempts(3),
				retry.WithBackoff(10*time.Millisecond, time.Second),
				retry.WithJitter(0.2),
				retry.WithOnRetry(func(int, error, time.Duration) {}))
		},
		"DoValue": func() {
			_, sink = retry.DoValue(ctx, func(ctx context.Context) (int, error) { return 1, op(ctx) })
		},
		"backoff.v4.Retry": func() {
			sink = backoff.Retry(func() error { return op(ctx) }, backoff.NewExponentialBackOff())
		},
	}
	for _, name := range []string{"no-options", "shared-options", "inline-options", "DoValue", "backoff.v4.Retry"} {
		contender := contenders[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			const block = 256
			var direct, with time.Duration
			calls := 0
			for b.Loop() {
				t0 := time.Now()
				for range block {
					sink = op(ctx)
				}
				t1 := time.Now()
				for range block {
					contender()
				}
				t2 := time.Now()
				direct += t1.Sub(t0)
				with += t2.Sub(t1)
				calls += block
			}
			d := float64(direct.Nanoseconds()) / float64(calls)
			w := float64(with.Nanoseconds()) / float64(calls)
			b.ReportMetric(d, "direct-ns/call")
			b.ReportMetric(w, "ns/call")
			b.ReportMetric(w-d, "added-ns/call")
		})
	}
}
