package bench

import (
	"context"
	"testing"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/sony/gobreaker/v2"

	"github.com/async-patterns/async/breaker"
)

// BenchmarkBreaker measures the success path of a closed breaker, from one
// goroutine (success) and from GOMAXPROCS goroutines sharing one breaker
// (success-parallel). "direct" calls work with no breaker; gobreaker is raw
// gobreaker v2 Execute, which ours is built on and so the floor of its
// target; failsafe is a failsafe-go executor with a circuit breaker. Every
// breaker is built once with its defaults; the peers' closures are built
// before the timer starts.
func BenchmarkBreaker(b *testing.B) {
	ctx := context.Background()
	gfn := func() (struct{}, error) { return struct{}{}, work(ctx) }
	ffn := func() error { return work(ctx) }
	for _, sc := range []struct {
		name string
		run  func(b *testing.B, call func())
	}{
		{"success", func(b *testing.B, call func()) {
			for b.Loop() {
				call()
			}
		}},
		{"success-parallel", func(b *testing.B, call func()) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					call()
				}
			})
		}},
	} {
		b.Run(sc.name, func(b *testing.B) {
			b.Run("direct", func(b *testing.B) {
				b.ReportAllocs()
				sc.run(b, func() {
					if err := work(ctx); err != nil {
						panic(err)
					}
				})
			})
			b.Run("gobreaker", func(b *testing.B) {
				cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{})
				b.ReportAllocs()
				sc.run(b, func() {
					if _, err := cb.Execute(gfn); err != nil {
						panic(err)
					}
				})
			})
			b.Run("failsafe", func(b *testing.B) {
				ex := failsafe.With(circuitbreaker.NewWithDefaults[any]())
				b.ReportAllocs()
				sc.run(b, func() {
					if err := ex.Run(ffn); err != nil {
						panic(err)
					}
				})
			})
			b.Run("ours", func(b *testing.B) {
				br := breaker.New()
				b.ReportAllocs()
				sc.run(b, func() {
					if err := br.Do(ctx, work); err != nil {
						panic(err)
					}
				})
			})
		})
	}
	benchmarkShared(b)
}
