package jsqueue

import (
	"fmt"

	"github.com/async-patterns/async/retry"
)

// WithBudget makes Serve's redeliveries draw from b, a retry budget
// (retry.NewBudget) shared with the other Serves and retry loops of this
// process that call the same dependency: each item's first delivery
// deposits, each redelivery after a failure spends one. When b refuses, the
// item is not delivered again: it is dead-lettered at once, with an error
// matching retry.ErrBudgetExhausted and the handler's error (its text,
// "retry: retry budget exhausted: ...", is the dead letter's Err), so that
// in an outage the queue does not multiply the load on what is down; dead
// letters can be put back once it is up. The last attempt ([WithMaxDeliver])
// and an error [WithRetryIf] rejects spend nothing: they are dead-lettered
// anyway. The budget is this process's: every process serving the queue
// keeps its own. Read by Serve (given to New, the default of every Serve).
// A nil b is bad.
func WithBudget(b *retry.Budget) Option {
	return func(c *config) {
		if b == nil {
			c.bad("WithBudget(nil)")
			return
		}
		c.budget = b
	}
}

// deposit records d's first delivery in the budget, if any.
func (s *serving[T]) deposit(d *Delivery[T]) {
	if s.cfg.budget != nil && d.Attempt == 1 {
		s.cfg.budget.Deposit()
	}
}

// refused returns the error to dead-letter d with when the budget refuses
// the redelivery that err would otherwise get, and nil when it may go (or
// when it would not happen: the last attempt).
func (s *serving[T]) refused(d *Delivery[T], err error) error {
	if s.cfg.budget == nil || d.Attempt >= d.q.cfg.maxDeliver || s.cfg.budget.TrySpend() {
		return nil
	}
	return fmt.Errorf("%w: %w", retry.ErrBudgetExhausted, err)
}
