package bench

import (
	"context"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"github.com/async-patterns/async/limit"
)

// Rates high enough that no benchmark ever runs out of tokens: what is
// measured is the cost of admitting a call, not the waiting.
const (
	benchRate  = 1e9
	benchBurst = 1 << 30
)

var sinkBool bool

// BenchmarkLimit measures the cost of admitting one call when the limiter
// admits it at once (issue 31's target: ours <= raw x/time/rate + 20 ns, 0
// allocs), from one goroutine and from GOMAXPROCS goroutines sharing one
// limiter (-parallel).
//
//   - rate-allow: raw x/time/rate's rate.Limiter.Allow (xrate), failsafe-go's
//     ratelimiter TryAcquirePermit (bursty, the one like a token bucket),
//     limit.Rate.Allow (ours).
//   - rate-do: a call of work admitted by the limiter: xrate is
//     rate.Limiter.Wait then work; failsafe is an executor with its rate
//     limiter (Run); ours is limit.Rate.Do.
//   - bulkhead-do: semaphore is raw x/sync's semaphore.Weighted TryAcquire,
//     work, Release; failsafe is an executor with its bulkhead; ours is
//     limit.Bulkhead.Do.
//   - bulkhead-permit: the Limiter interface's Acquire and Release around
//     work (ours only; it adds the bookkeeping that catches a permit
//     released twice).
//   - adaptive-do: a call of work admitted by an adaptive concurrency
//     limit with its defaults, far below its limit: failsafe is an
//     executor with failsafe-go's adaptivelimiter (Run); ours is
//     limit.Adaptive.Do (its latency bookkeeping included).
func BenchmarkLimit(b *testing.B) {
	ctx := context.Background()
	ffn := func() error { return work(ctx) }
	for _, par := range []bool{false, true} {
		suffix := ""
		if par {
			suffix = "-parallel"
		}
		run := func(b *testing.B, call func()) {
			b.ReportAllocs()
			if !par {
				for b.Loop() {
					call()
				}
				return
			}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					call()
				}
			})
		}
		b.Run("rate-allow"+suffix, func(b *testing.B) {
			b.Run("xrate", func(b *testing.B) {
				l := rate.NewLimiter(benchRate, benchBurst)
				run(b, func() { sinkBool = l.Allow() })
			})
			b.Run("failsafe", func(b *testing.B) {
				l := ratelimiter.NewBursty[any](benchBurst, time.Second)
				run(b, func() { sinkBool = l.TryAcquirePermit() })
			})
			b.Run("ours", func(b *testing.B) {
				l := limit.NewRate(benchRate, benchBurst)
				run(b, func() { sinkBool = l.Allow() })
			})
		})
		b.Run("rate-do"+suffix, func(b *testing.B) {
			b.Run("xrate", func(b *testing.B) {
				l := rate.NewLimiter(benchRate, benchBurst)
				run(b, func() {
					if err := l.Wait(ctx); err != nil {
						panic(err)
					}
					sinkErr = work(ctx)
				})
			})
			b.Run("failsafe", func(b *testing.B) {
				ex := failsafe.With(ratelimiter.NewBursty[any](benchBurst, time.Second))
				run(b, func() { sinkErr = ex.Run(ffn) })
			})
			b.Run("ours", func(b *testing.B) {
				l := limit.NewRate(benchRate, benchBurst)
				run(b, func() { sinkErr = l.Do(ctx, work) })
			})
		})
		b.Run("bulkhead-do"+suffix, func(b *testing.B) {
			b.Run("semaphore", func(b *testing.B) {
				s := semaphore.NewWeighted(1 << 20)
				run(b, func() {
					if !s.TryAcquire(1) {
						panic("full")
					}
					sinkErr = work(ctx)
					s.Release(1)
				})
			})
			b.Run("failsafe", func(b *testing.B) {
				ex := failsafe.With(fsbulkhead.New[any](1 << 20))
				run(b, func() { sinkErr = ex.Run(ffn) })
			})
			b.Run("ours", func(b *testing.B) {
				l := limit.NewBulkhead(1 << 20)
				run(b, func() { sinkErr = l.Do(ctx, work) })
			})
		})
		b.Run("adaptive-do"+suffix, func(b *testing.B) {
			b.Run("failsafe", func(b *testing.B) {
				ex := failsafe.With(adaptivelimiter.NewWithDefaults[any]())
				run(b, func() { sinkErr = ex.Run(ffn) })
			})
			b.Run("ours", func(b *testing.B) {
				l := limit.NewAdaptive()
				run(b, func() { sinkErr = l.Do(ctx, work) })
			})
		})
		b.Run("bulkhead-permit"+suffix, func(b *testing.B) {
			b.Run("ours", func(b *testing.B) {
				var l limit.Limiter = limit.NewBulkhead(1 << 20)
				run(b, func() {
					p, err := l.Acquire(ctx)
					if err != nil {
						panic(err)
					}
					sinkErr = work(ctx)
					l.Release(p, limit.Success)
				})
			})
		})
	}
}
