package guard

import (
	"context"
	"errors"
	"time"

	"github.com/async-patterns/async/internal/safe"
)

// hedge is one hedged attempt (see WithHedge): copies of guarded, started
// delay apart, up to n; the first success wins.
//
// Every copy runs on a goroutine of its own, the first included, so that
// the caller's goroutine is free to start the next copy when the delay
// passes; on every way out the copies still running are cancelled and
// awaited, so none outlives the call.
func hedge[T any](ctx context.Context, g *Guard, t task[T]) (v T, err error) {
	type result struct {
		v   T
		err error
	}
	n := g.cfg.hedgeN
	results := make(chan result, n) // never blocks a copy
	cancels := make([]context.CancelFunc, 0, n)
	launch := func() {
		cctx, cancel := context.WithCancel(ctx)
		cancels = append(cancels, cancel)
		go func() {
			var r result
			returned := false
			defer func() {
				if !returned {
					// guarded recovers fn's panic; only a Goexit (which
					// cannot be stopped) gets here: report it.
					r.err = safe.Recovered(nil)
				}
				results <- r
			}()
			r.v, r.err = guarded(cctx, g, t)
			returned = true
		}()
	}
	running := 0
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
		for ; running > 0; running-- {
			<-results
		}
	}()
	launch()
	running++
	var timer *time.Timer
	var next <-chan time.Time // nil once no more copies will start
	if n > 1 {
		timer = time.NewTimer(g.cfg.hedgeDelay)
		defer timer.Stop()
		next = timer.C
	}
	for {
		select {
		case <-next:
			if ctx.Err() != nil || (g.cfg.budget != nil && !g.cfg.budget.TrySpend()) {
				next = nil // no more copies for this attempt
				continue
			}
			launch()
			running++
			if len(cancels) < n {
				timer.Reset(g.cfg.hedgeDelay)
			} else {
				next = nil
			}
		case r := <-results:
			running--
			var p *PanicError
			if r.err == nil || errors.As(r.err, &p) || running == 0 {
				// The winner, a panic (never hidden behind a sibling's
				// success), or the latest failure with no copy left.
				return r.v, r.err
			}
		}
	}
}
