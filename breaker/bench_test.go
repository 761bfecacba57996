package breaker_test

import (
	"context"
	"testing"

	"github.com/async-patterns/async/breaker"
	"github.com/sony/gobreaker/v2"
)

// The success path side by side: a direct call (the floor), gobreaker v2's
// Execute (the peer this package is built on) and Breaker.Do.

//go:noinline
func work(context.Context) error { return nil }

func BenchmarkSuccess(b *testing.B) {
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			work(ctx)
		}
	})
	b.Run("gobreaker.Execute", func(b *testing.B) {
		cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{})
		b.ReportAllocs()
		for b.Loop() {
			cb.Execute(func() (struct{}, error) { return struct{}{}, work(ctx) })
		}
	})
	b.Run("Breaker.Do", func(b *testing.B) {
		br := breaker.New()
		b.ReportAllocs()
		for b.Loop() {
			br.Do(ctx, work)
		}
	})
	b.Run("DoValue", func(b *testing.B) {
		br := breaker.New()
		b.ReportAllocs()
		for b.Loop() {
			breaker.DoValue(ctx, br, func(ctx context.Context) (int, error) { return 1, work(ctx) })
		}
	})
}

func BenchmarkSuccessParallel(b *testing.B) {
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				work(ctx)
			}
		})
	})
	b.Run("gobreaker.Execute", func(b *testing.B) {
		cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				cb.Execute(func() (struct{}, error) { return struct{}{}, work(ctx) })
			}
		})
	})
	b.Run("Breaker.Do", func(b *testing.B) {
		br := breaker.New()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				br.Do(ctx, work)
			}
		})
	})
}

// BenchmarkRejected is the fail-fast path of an open breaker.
func BenchmarkRejected(b *testing.B) {
	ctx := context.Background()
	b.Run("gobreaker.Execute", func(b *testing.B) {
		cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{ReadyToTrip: func(gobreaker.Counts) bool { return true }})
		cb.Execute(func() (struct{}, error) { return struct{}{}, context.DeadlineExceeded })
		b.ReportAllocs()
		for b.Loop() {
			cb.Execute(func() (struct{}, error) { return struct{}{}, work(ctx) })
		}
	})
	b.Run("Breaker.Do", func(b *testing.B) {
		br := breaker.New()
		br.Trip()
		b.ReportAllocs()
		for b.Loop() {
			br.Do(ctx, work)
		}
	})
}
