package breaker_test

import (
	"context"
	"testing"
	"time"

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

// BenchmarkOverheadPaired measures what Breaker.Do adds to gobreaker's
// Execute on a shared, noisy machine: it alternates blocks of the two calls
// inside one loop, so both see the same load, and reports the fastest block
// of each (per call), which preemption and other processes cannot inflate,
// and their difference.
func BenchmarkOverheadPaired(b *testing.B) {
	ctx := context.Background()
	cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{})
	br := breaker.New()
	const block = 128
	raw, ours := time.Duration(1<<62), time.Duration(1<<62)
	b.ReportAllocs()
	for n := 0; n < b.N; n += block {
		t0 := time.Now()
		for range block {
			cb.Execute(func() (struct{}, error) { return struct{}{}, work(ctx) })
		}
		t1 := time.Now()
		for range block {
			br.Do(ctx, work)
		}
		t2 := time.Now()
		raw = min(raw, t1.Sub(t0))
		ours = min(ours, t2.Sub(t1))
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(raw.Nanoseconds())/block, "gobreaker-ns/call")
	b.ReportMetric(float64(ours.Nanoseconds())/block, "Do-ns/call")
	b.ReportMetric(float64((ours-raw).Nanoseconds())/block, "overhead-ns/call")
}
