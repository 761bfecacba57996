package bench

import (
	"context"
	"testing"

	retrygo "github.com/avast/retry-go/v5"
	backoffv4 "github.com/cenkalti/backoff/v4"
	backoffv5 "github.com/cenkalti/backoff/v5"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/retrypolicy"

	"github.com/async-patterns/async/retry"
)

// work is the guarded operation of the retry and breaker benchmarks: it
// succeeds at once. It is not inlined, so the direct call is a real call.
//
//go:noinline
func work(context.Context) error { return nil }

var sinkErr error

// BenchmarkRetry measures a first-try success: what retrying costs when
// nothing fails. The floor is a direct call. Each peer is called the cheapest
// way its documentation allows: backoff v4's Retry with a new
// ExponentialBackOff (it is not safe to share), backoff v5's Retry, a
// retry-go Retrier and a failsafe-go executor with a retry policy, both built
// once and reused. Every contender runs with its defaults. The peers take a
// func() error, built once before the timer starts; ours takes work itself.
func BenchmarkRetry(b *testing.B) {
	ctx := context.Background()
	op := func() error { return work(ctx) }
	b.Run("first-try", func(b *testing.B) {
		b.Run("direct", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkErr = work(ctx)
			}
		})
		b.Run("backoffV4", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkErr = backoffv4.Retry(op, backoffv4.NewExponentialBackOff())
			}
		})
		b.Run("backoffV5", func(b *testing.B) {
			op5 := func() (struct{}, error) { return struct{}{}, work(ctx) }
			b.ReportAllocs()
			for b.Loop() {
				_, sinkErr = backoffv5.Retry(ctx, op5)
			}
		})
		b.Run("retrygo", func(b *testing.B) {
			r := retrygo.New(retrygo.Context(ctx))
			b.ReportAllocs()
			for b.Loop() {
				sinkErr = r.Do(op)
			}
		})
		b.Run("failsafe", func(b *testing.B) {
			ex := failsafe.With(retrypolicy.NewWithDefaults[any]())
			b.ReportAllocs()
			for b.Loop() {
				sinkErr = ex.Run(op)
			}
		})
		b.Run("ours", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkErr = retry.Do(ctx, work)
			}
		})
	})
}
