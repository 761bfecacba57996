package breaker

import (
	"time"

	"github.com/sony/gobreaker/v2"
)

// instance returns a new, unpublished gobreaker instance in state s (Closed
// or Open).
func (b *Breaker) instance(s State) *gobreaker.CircuitBreaker[struct{}] {
	var self *gobreaker.CircuitBreaker[struct{}]
	forceTrip := s == Open // written before self is published
	self = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         b.cfg.name,
		MaxRequests:  b.cfg.halfOpen,
		Interval:     b.cfg.interval,
		BucketPeriod: b.cfg.bucket,
		Timeout:      b.cfg.openTimeout,
		ReadyToTrip: func(n gobreaker.Counts) bool {
			return forceTrip || b.cfg.readyToTrip(n)
		},
		// gobreaker calls this under its own lock: only record.
		OnStateChange: func(_ string, from, to gobreaker.State) {
			b.record(self, State(from), State(to))
		},
		IsExcluded: func(err error) bool { return err == errExcluded },
	})
	if forceTrip {
		// gobreaker has no way to open but a failure the policy trips on.
		// self is not live yet, so record ignores this change.
		self.Execute(func() (struct{}, error) { return struct{}{}, errFailure })
		forceTrip = false
	}
	return self
}

// record notes a change of state of instance cb. gobreaker calls it under
// its lock.
func (b *Breaker) record(cb *gobreaker.CircuitBreaker[struct{}], from, to State) {
	b.mu.Lock()
	if cb == b.live {
		b.setLocked(from, to)
	}
	b.mu.Unlock()
}

// setLocked moves the state from from to to and queues the change for the
// hook. b.mu is held.
func (b *Breaker) setLocked(from, to State) {
	b.state = to
	if to == Open {
		b.openUntil = time.Now().Add(b.cfg.openTimeout)
	}
	if from != to && b.watchedLocked() {
		b.queue = append(b.queue, transition{from: from, to: to})
		b.queued.Store(true)
	}
}

// replace publishes a fresh gobreaker instance in state s (Open or Closed)
// and runs the hook.
func (b *Breaker) replace(s State) {
	// Let the old instance notice a passed open timeout first, so that the
	// hook sees the true state we leave.
	b.cb.Load().State()
	b.install(s)
}

// install makes a fresh in-process state machine in state s the live one
// and fires the hooks for the change, outside the lock.
func (b *Breaker) install(s State) {
	cb := b.instance(s)
	b.mu.Lock()
	b.live = cb
	b.cb.Store(cb)
	b.setLocked(b.state, s)
	b.mu.Unlock()
	b.flush()
}
