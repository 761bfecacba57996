package retryhttp

import (
	"context"
	"time"

	"github.com/async-patterns/async/internal/safe"
)

// hedged makes one hedged attempt (see WithHedge).
//
// Why this is not a use of the guard package's generic hedge: an HTTP
// copy's outcome is not a value that can be dropped. The winner's context
// must outlive the attempt (its body is read after RoundTrip returns, and
// cancelOnClose ends it), while the generic hedge cancels every copy's
// context when it returns; each loser's response holds a connection whose
// body must be closed; "success" is the classifier's verdict on a
// response (a 503 is a response to retry, a 404 one to return), and a
// panicking classifier must still release both copies; and each copy needs
// its own request with a rewound body. The generic hedge would need a
// keep-alive, a release and a classifier hook for this one user, which
// would make it harder to use everywhere else; this one stays small and
// shares the budget instead (a copy spends from WithBudget's budget).
func (c *call) hedged(actx context.Context) error {
	type result struct {
		outcome
		i int // which copy
	}
	results := make(chan result, 2)
	var cancels [2]context.CancelFunc
	t := c.t // the copies' goroutines use t, not c, which stays on the stack
	n := c.n
	running, started := 0, 0
	launch := func() error {
		o, err := c.prepare(actx, true)
		if err != nil {
			return err
		}
		i := started
		cancels[i] = o.cancel
		running++
		started++
		go func() {
			defer func() {
				if o.resp == nil && o.err == nil {
					// The base called runtime.Goexit through a breaker,
					// which let it go on: report it, then let it end
					// this goroutine.
					o.err = safe.Recovered(nil)
				}
				results <- result{o, i}
			}()
			t.exchange(n, &o)
		}()
		return nil
	}
	if err := launch(); err != nil {
		return err
	}
	timer := time.NewTimer(c.t.hedge)
	defer timer.Stop()
	var done [2]bool   // which copies have come back
	var failed outcome // a retryable failure of one copy while the other runs
	defer func() {
		// On every way out, a panicking classifier included: cancel the
		// copies still running and wait for them.
		for i := range started {
			if !done[i] {
				cancels[i]()
			}
		}
		for ; running > 0; running-- {
			loser := <-results
			loser.release()
		}
		failed.release()
	}()
	for {
		select {
		case <-timer.C:
			// If the budget refuses the copy, or GetBody fails, the first
			// copy goes on alone.
			if started == 1 && (c.t.budget == nil || c.t.budget.TrySpend()) {
				_ = launch()
			}
		case res := <-results:
			o := res.outcome
			running--
			done[res.i] = true
			if !c.retries(&o) || running == 0 {
				// The winner (the other copy, if any, is cancelled on the
				// way out), or, with no copy left, the attempt's failure:
				// the later one (the first may have failed before the
				// hedge was due).
				return c.judge(actx, o)
			}
			failed.release()
			failed = o
		}
	}
}
