package bench

import (
	"context"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/guard"
	"github.com/async-patterns/async/retry"
)

// value is the guarded function of BenchmarkGuard: it succeeds at once
// with a value. It is not inlined, so every contender makes a real call.
//
//go:noinline
func value(context.Context) (int, error) { return 42, nil }

// BenchmarkGuard measures a first-try success through retry and a circuit
// breaker, the composition most callers build, in one run:
//
//   - byHand: retry.DoValue around breaker.DoValue, written out at the
//     call site (the floor the guard must stay near: <= 30ns over it, 0
//     allocations);
//   - ours: guard.DoValue with WithRetry and WithBreaker;
//   - oursBudget: the same with a retry budget (one Deposit per call);
//   - byHandClosure, oursClosure: the same two with a function literal
//     written at the call site;
//   - failsafe: failsafe-go v0.9.8's failsafe.With(retryPolicy,
//     circuitBreaker).Get, the executor built once with both policies'
//     defaults.
//
// Every contender uses its library's defaults for the two policies.
func BenchmarkGuard(b *testing.B) {
	ctx := context.Background()
	b.Run("first-try/byHand", func(b *testing.B) {
		br := breaker.New()
		b.ReportAllocs()
		for b.Loop() {
			sinkInt, sinkErr = retry.DoValue(ctx, func(ctx context.Context) (int, error) {
				return breaker.DoValue(ctx, br, value)
			})
		}
	})
	b.Run("first-try/ours", func(b *testing.B) {
		g := guard.New(guard.WithRetry(), guard.WithBreaker(breaker.New()))
		b.ReportAllocs()
		for b.Loop() {
			sinkInt, sinkErr = guard.DoValue(ctx, g, value)
		}
	})
	b.Run("first-try/oursBudget", func(b *testing.B) {
		g := guard.New(guard.WithRetry(), guard.WithBreaker(breaker.New()),
			guard.WithBudget(retry.NewBudget(0.15, 1, 10e9)))
		b.ReportAllocs()
		for b.Loop() {
			sinkInt, sinkErr = guard.DoValue(ctx, g, value)
		}
	})
	// A func literal that captures a variable, written at the call site:
	// the guard's fn escapes (a hedge may hand it to other goroutines), so
	// the literal is allocated; by hand it stays on the stack.
	n := 42
	b.Run("first-try/byHandClosure", func(b *testing.B) {
		br := breaker.New()
		b.ReportAllocs()
		for b.Loop() {
			sinkInt, sinkErr = retry.DoValue(ctx, func(ctx context.Context) (int, error) {
				return breaker.DoValue(ctx, br, func(context.Context) (int, error) { return n, nil })
			})
		}
	})
	b.Run("first-try/oursClosure", func(b *testing.B) {
		g := guard.New(guard.WithRetry(), guard.WithBreaker(breaker.New()))
		b.ReportAllocs()
		for b.Loop() {
			sinkInt, sinkErr = guard.DoValue(ctx, g, func(context.Context) (int, error) { return n, nil })
		}
	})
	b.Run("first-try/failsafe", func(b *testing.B) {
		ex := failsafe.With[int](retrypolicy.NewWithDefaults[int](), circuitbreaker.NewWithDefaults[int]())
		get := func() (int, error) { return value(ctx) }
		b.ReportAllocs()
		for b.Loop() {
			sinkInt, sinkErr = ex.Get(get)
		}
	})
	b.Run("paired/ours", guardPaired)
}

// guardPaired (BenchmarkGuard/paired/ours) measures what the guard adds to retry and
// breaker called by hand, on a shared, noisy machine: it alternates blocks
// of the two inside one loop, so both see the same load, and reports the
// fastest block of each (per call), which preemption and other processes
// cannot inflate, and their difference (target: <= 30ns), with
// failsafe-go's With(retryPolicy, circuitBreaker).Get in a third block of
// the same loop. (The allocations reported are the three blocks' together:
// failsafe-go's; BenchmarkGuard reports each contender's own.)
func guardPaired(b *testing.B) {
	ctx := context.Background()
	br := breaker.New()
	g := guard.New(guard.WithRetry(), guard.WithBreaker(br))
	hand := func(ctx context.Context) (int, error) { return breaker.DoValue(ctx, br, value) }
	ex := failsafe.With[int](retrypolicy.NewWithDefaults[int](), circuitbreaker.NewWithDefaults[int]())
	get := func() (int, error) { return value(ctx) }
	const block = 128
	byHand, ours, fs := time.Duration(1<<62), time.Duration(1<<62), time.Duration(1<<62)
	b.ReportAllocs()
	for n := 0; n < b.N; n += block {
		t0 := time.Now()
		for range block {
			sinkInt, sinkErr = retry.DoValue(ctx, hand)
		}
		t1 := time.Now()
		for range block {
			sinkInt, sinkErr = guard.DoValue(ctx, g, value)
		}
		t2 := time.Now()
		for range block {
			sinkInt, sinkErr = ex.Get(get)
		}
		t3 := time.Now()
		byHand = min(byHand, t1.Sub(t0))
		ours = min(ours, t2.Sub(t1))
		fs = min(fs, t3.Sub(t2))
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(byHand.Nanoseconds())/block, "byHand-ns/call")
	b.ReportMetric(float64(ours.Nanoseconds())/block, "ours-ns/call")
	b.ReportMetric(float64((ours-byHand).Nanoseconds())/block, "overhead-ns/call")
	b.ReportMetric(float64(fs.Nanoseconds())/block, "failsafe-ns/call")
}
