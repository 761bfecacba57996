package limit_test

import (
	"context"
	"testing"

	"github.com/async-patterns/async/limit"
)

// The Limiter contract: neither Acquire nor Release allocates on the path
// that admits at once, with the ctx a server hands a request (a cancelCtx
// of its own, whose Done channel nobody has asked for yet: asking for it
// allocates the channel).
func TestLimitersAdmitWithoutAllocatingOnAFreshCtx(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    limit.Limiter
	}{
		{"rate", limit.NewRate(1e12, 1000)},
		{"bulkhead", limit.NewBulkhead(10)},
		{"adaptive", limit.NewAdaptive()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const runs = 100
			ctxs := make([]context.Context, runs+1) // AllocsPerRun runs once more to warm up
			for i := range ctxs {
				var cancel context.CancelFunc
				ctxs[i], cancel = context.WithCancel(context.Background())
				defer cancel()
			}
			i := 0
			allocs := testing.AllocsPerRun(runs, func() {
				p, err := tc.l.Acquire(ctxs[i])
				i++
				if err != nil {
					t.Fatal(err)
				}
				tc.l.Release(p, limit.Success)
			})
			if allocs != 0 {
				t.Errorf("Acquire and Release admitted at once with a fresh ctx: %v allocations; want 0", allocs)
			}
		})
	}
}
