package breaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/async-patterns/async/internal/safe"
)

// Store keeps the state of breakers outside the process, so that every
// replica's breaker of the same name runs one state machine: the counts
// (consecutive and over the rolling window), the state, the generation, the
// end of the open period and the half-open permits. [WithStore] plugs one
// into a [Breaker]; github.com/async-patterns/async/breaker/redisstore is an
// implementation on Redis.
//
// Every method applies one transition atomically where the state lives, on
// the store's own clock, and returns the state it left; none holds anything
// across the protected call. The [Breaker] calls them with a ctx that is
// not cancelled when its caller's is (so that an outcome is never lost
// because the caller gave up): a Store must bound each operation itself,
// with a short timeout, and return an error when it cannot answer in time.
// A Store must be safe for concurrent use.
type Store interface {
	// Admit asks to let one call of the named breaker through. It moves an
	// open breaker whose open period has passed to half-open first. An
	// admitted call is counted as a request (in the current bucket of the
	// window when closed, as a probe when half-open).
	Admit(ctx context.Context, name string, p *Policy) (Ticket, Snapshot, error)
	// Record counts the outcome of a call Admit let through. An outcome
	// whose ticket is from an older generation, or from a bucket that has
	// left the window, is dropped, as gobreaker does.
	Record(ctx context.Context, name string, p *Policy, t Ticket, o Outcome) (Snapshot, error)
	// Load returns the state and counts, after moving the window (and an
	// open breaker whose period has passed) to the present.
	Load(ctx context.Context, name string, p *Policy) (Snapshot, error)
	// Force moves the breaker to Open (restarting the open period) or to
	// Closed, in a new generation with cleared counts, as [Breaker.Trip] and
	// [Breaker.Reset] do.
	Force(ctx context.Context, name string, p *Policy, to State) (Snapshot, error)
	// Watch calls fn for every change of state of the named breaker, made
	// by any replica, until the store is closed. Its Snapshot has the
	// State, Generation, OpenFor and Changes fields set. fn is called from
	// one goroutine at a time and may call the store.
	Watch(name string, fn func(Snapshot))
}

// Policy is a breaker's configuration as a [Store] needs it to apply the
// transitions. Durations are whole microseconds at most.
type Policy struct {
	ConsecutiveFailures uint32        // trip at this many failures in a row; 0: off
	FailureRatio        float64       // trip at failures/finished >= this; 0: off
	MinRequests         uint32        // finished calls needed before FailureRatio applies
	Window              time.Duration // rolling window length; 0: count since the last change
	Bucket              time.Duration // the window's bucket length
	OpenTimeout         time.Duration // how long the breaker stays open
	HalfOpenRequests    uint32        // probes the half-open breaker admits
}

// Ticket is what [Store.Admit] hands back for one call: whether it was let
// through and, if it was, the generation and window bucket its outcome
// belongs to. A Ticket with Local set was made by the breaker itself, for a
// call it let through without asking the store because it knew the
// breaker closed in generation Generation: [Store.Record] then counts the
// request too, in the bucket of the window in which the call Started (the
// store measures the time since Started on the local clock, so clock skew
// between replicas does not matter).
type Ticket struct {
	Admitted   bool
	Generation uint64
	Bucket     int64
	Local      bool
	Started    time.Time
}

// Outcome is how an admitted call ended, for [Store.Record].
type Outcome int

// The outcomes of a call.
const (
	Success  Outcome = iota // counted as a success
	Failure                 // counted as a failure
	Excluded                // the caller cancelled it: neither
)

// Snapshot is the shared state a [Store] operation left behind.
type Snapshot struct {
	State      State
	Generation uint64        // grows with every change of state; never goes back, even if the store loses its data
	OpenFor    time.Duration // when State is Open: the time left until it half-opens
	Counts     Counts
	Changes    []Change // the changes of state this operation made, oldest first
}

// Change is one change of state made in a [Store], in generation
// Generation.
type Change struct {
	Generation uint64
	From, To   State
}

// ErrStoreUnavailable matches the error of a call rejected because the
// breaker's [Store] did not answer, under [WithStoreRequired]. The error
// also wraps the store's own error.
var ErrStoreUnavailable = errors.New("breaker: store unavailable")

// StoreRetryInterval is how often a breaker whose [Store] failed tries it
// again: at most one call (or State, Counts) per interval pays for the
// attempt, bounded by the store's timeout; the others use the in-process
// state machine.
const StoreRetryInterval = 200 * time.Millisecond

// WithStore makes the breaker keep its state in s, shared with every
// breaker of the same name (every replica of a service) that uses the same
// store. The breaker must have a name ([WithName], or the [Group] key): New
// panics without one.
//
// Every option keeps its meaning, now over all replicas: the policy counts
// every replica's outcomes, the half-open breaker admits
// [WithHalfOpenRequests] probes in all, [Breaker.Trip] and [Breaker.Reset]
// act on every replica, State and Counts read the shared state, and the
// caller's cancellation is never counted. No lock is held across fn.
//
// Costs: while the breaker is known to be closed, a call runs at once and
// costs one store operation ([Store.Record], which counts its request and
// its outcome together, so Counts().Requests leaves out calls still
// running); a half-open probe, or the first call of a breaker that has not
// heard from the store yet, costs two ([Store.Admit] before fn, Record
// after); a call made while the breaker is known to be open is rejected
// with no store operation, with the time left ([RejectedError.RetryAfter]).
// State, Counts, Trip and Reset cost one each. Changes made by other
// replicas arrive through [Store.Watch]: the breaker learns of them within
// one delivery, and runs the [WithOnStateChange] hook for them on the
// store's goroutine, with the hook's usual rules. A replica that has not
// heard yet that another one opened the breaker lets through at most one
// more call per calling goroutine: its Record answers with the new state,
// and its outcome, from an older generation, is not counted.
//
// When a store operation fails (the store is down or slower than its
// timeout), the breaker falls back to its in-process state machine, starting
// from the last state it knew, says so once through the [WithOnStoreStatus]
// hook and log/slog, and tries the store again at most every
// [StoreRetryInterval]; when the store answers, the breaker re-joins the
// shared state. A caller never gets an error because the store is down,
// unless [WithStoreRequired] is given. The outcome of a call whose Record
// failed is lost to the shared state.
func WithStore(s Store) Option {
	return func(c *config) {
		if s == nil {
			panic("breaker: WithStore(nil): s must not be nil")
		}
		c.store = s
	}
}

// WithOnStoreStatus sets a hook called when the breaker stops using its
// [Store] because an operation failed (err is that error) and when it
// re-joins the shared state (err is nil). It runs like the
// [WithOnStateChange] hook: on the goroutine that noticed, outside the
// locks, never concurrently with either hook, in order with the changes of
// state; it may call any method of the breaker.
func WithOnStoreStatus(hook func(name string, err error)) Option {
	return func(c *config) {
		if hook == nil {
			panic("breaker: WithOnStoreStatus(nil): hook must not be nil")
		}
		c.onStoreStatus = hook
	}
}

// WithStoreRequired makes a breaker with a [Store] reject calls while the
// store is unavailable, with an error matching [ErrStoreUnavailable],
// instead of falling back to its in-process state machine.
func WithStoreRequired() Option {
	return func(c *config) { c.storeRequired = true }
}

// policy returns the Policy of c.
func (c *config) policy() *Policy {
	return &Policy{
		ConsecutiveFailures: c.consecutive,
		FailureRatio:        c.ratio,
		MinRequests:         c.minRequests,
		Window:              c.interval,
		Bucket:              c.bucket,
		OpenTimeout:         c.openTimeout,
		HalfOpenRequests:    c.halfOpen,
	}
}

// shared is the part of a Breaker that talks to its Store.
type shared struct {
	store    Store
	policy   *Policy
	lastTry  int64 // unix nanoseconds of the last attempt while degraded; under Breaker.mu
	degraded bool  // the store failed; under Breaker.mu
	gen      uint64
}

// doShared is Do for a breaker with a store. handled is false when the
// call is to go through the in-process state machine instead (the store is
// unavailable).
func (b *Breaker) doShared(ctx context.Context, fn func(ctx context.Context) error) (handled bool, err error) {
	now := time.Now()
	b.mu.Lock()
	if !b.sh.degraded && b.state == Open && now.Before(b.openUntil) {
		until := b.openUntil
		b.mu.Unlock()
		return true, &RejectedError{Name: b.cfg.name, State: Open, retryAfter: retryAfter(until.Sub(now))}
	}
	if !b.sh.degraded && b.state == Closed && b.sh.gen != 0 {
		// Known closed: let the call through without a round trip; Record
		// counts its request with its outcome.
		t := Ticket{Admitted: true, Generation: b.sh.gen, Local: true, Started: now}
		b.mu.Unlock()
		return b.runShared(ctx, fn, t)
	}
	try := b.tryStoreLocked(now)
	b.mu.Unlock()
	if !try {
		return b.unavailable()
	}
	t, snap, serr := b.sh.store.Admit(context.WithoutCancel(ctx), b.cfg.name, b.sh.policy)
	if serr != nil {
		b.degrade(serr)
		return b.unavailable()
	}
	b.apply(snap, true)
	if !t.Admitted {
		if snap.State == Open {
			return true, &RejectedError{Name: b.cfg.name, State: Open, retryAfter: retryAfter(snap.OpenFor)}
		}
		return true, &RejectedError{Name: b.cfg.name, State: HalfOpen}
	}
	return b.runShared(ctx, fn, t)
}

// runShared runs fn for the call admitted with ticket t and records its
// outcome.
func (b *Breaker) runShared(ctx context.Context, fn func(ctx context.Context) error, t Ticket) (handled bool, err error) {
	sctx := context.WithoutCancel(ctx)
	returned := false
	defer func() {
		if returned {
			return
		}
		// fn panicked (recover stops it) or called Goexit (recover returns
		// nil and the goroutine goes on exiting after this): a failure.
		handled, err = true, safe.Recovered(recover())
		b.recordShared(sctx, t, Failure)
	}()
	err = fn(ctx)
	returned = true
	o := Success
	if e, ok := err.(*excludedError); ok {
		err, o = e.err, Excluded
	} else if err != nil {
		switch b.verdict(ctx, err) {
		case errExcluded:
			o = Excluded
		case errFailure:
			o = Failure
		}
	}
	b.recordShared(sctx, t, o)
	return true, err
}

// unavailable is doShared's answer when the store is not to be used: the
// in-process state machine takes the call, unless WithStoreRequired.
func (b *Breaker) unavailable() (handled bool, err error) {
	if !b.cfg.storeRequired {
		return false, nil
	}
	b.mu.Lock()
	serr := b.storeErr
	b.mu.Unlock()
	return true, fmt.Errorf("%w: %w", ErrStoreUnavailable, serr)
}

// recordShared reports an outcome to the store.
func (b *Breaker) recordShared(ctx context.Context, t Ticket, o Outcome) {
	snap, err := b.sh.store.Record(ctx, b.cfg.name, b.sh.policy, t, o)
	if err != nil {
		b.degrade(err)
		return
	}
	b.apply(snap, true)
}

// tryStoreLocked reports whether to use the store now: always when it is
// not degraded; at most once per StoreRetryInterval when it is. b.mu is held.
func (b *Breaker) tryStoreLocked(now time.Time) bool {
	if !b.sh.degraded {
		return true
	}
	if n := now.UnixNano(); n-b.sh.lastTry >= int64(StoreRetryInterval) {
		b.sh.lastTry = n
		return true
	}
	return false
}

// degrade switches to the in-process state machine after the store failed
// with err, starting from the last shared state known, and reports it the
// first time.
func (b *Breaker) degrade(err error) {
	b.mu.Lock()
	b.storeErr = err
	if b.sh.degraded {
		b.mu.Unlock()
		return
	}
	b.sh.degraded = true
	b.sh.lastTry = time.Now().UnixNano()
	b.queueStatusLocked(err)
	s := Closed
	if b.state == Open {
		s = Open
	}
	b.mu.Unlock()
	slog.Warn("breaker: store unavailable; using in-process state", "name", b.cfg.name, "err", err)
	b.install(s)
}

// queueStatusLocked queues a change of the store's status for the
// WithOnStoreStatus hook, in order with the changes of state. b.mu is held.
func (b *Breaker) queueStatusLocked(err error) {
	if b.cfg.onStoreStatus != nil {
		b.queue = append(b.queue, transition{status: true, err: err})
		b.queued.Store(true)
	}
}

// apply takes in a snapshot from the store (own=true: from an operation of
// this breaker, which proves the store is up) and queues the changes of
// state it shows for the hook.
func (b *Breaker) apply(snap Snapshot, own bool) {
	now := time.Now()
	rejoined := false
	b.mu.Lock()
	n := len(b.queue)
	if own && b.sh.degraded {
		// Back on the shared state: whatever the store says now is the
		// truth, even an older generation (the store lost its data).
		b.sh.degraded = false
		b.live = nil // outcomes of calls the local machine admitted are forgotten
		b.sh.gen = 0
		b.storeErr = nil
		rejoined = true
		b.queueStatusLocked(nil)
	}
	if !b.sh.degraded {
		for _, c := range snap.Changes {
			if c.Generation > b.sh.gen {
				b.setSharedLocked(c.Generation, c.To, 0, now)
			}
		}
		if snap.Generation >= b.sh.gen {
			b.setSharedLocked(snap.Generation, snap.State, snap.OpenFor, now)
		}
	}
	queued := len(b.queue) > n
	b.mu.Unlock()
	if rejoined {
		slog.Info("breaker: store available again; using shared state", "name", b.cfg.name)
	}
	// A watch delivers only what it queued itself: changes queued by a
	// call on another goroutine are that call's to deliver, before it
	// returns.
	if queued || rejoined || (own && b.queued.Load()) {
		b.flush()
	}
}

// setSharedLocked moves the known shared state to s in generation gen.
// b.mu is held.
func (b *Breaker) setSharedLocked(gen uint64, s State, openFor time.Duration, now time.Time) {
	b.sh.gen = gen
	if s == Open && openFor > 0 {
		b.openUntil = now.Add(openFor)
	}
	if b.state != s && b.cfg.onStateChange != nil {
		b.queue = append(b.queue, transition{from: b.state, to: s})
		b.queued.Store(true)
	}
	b.state = s
}

// watch is the Store.Watch callback.
func (b *Breaker) watch(snap Snapshot) {
	b.apply(snap, false)
}

// loadShared returns the shared snapshot, or false if the store is not
// used now (degraded) or failed.
func (b *Breaker) loadShared() (Snapshot, bool) {
	b.mu.Lock()
	try := b.tryStoreLocked(time.Now())
	b.mu.Unlock()
	if !try {
		return Snapshot{}, false
	}
	snap, err := b.sh.store.Load(context.Background(), b.cfg.name, b.sh.policy)
	if err != nil {
		b.degrade(err)
		return Snapshot{}, false
	}
	b.apply(snap, true)
	return snap, true
}

// forceShared is Trip and Reset for a breaker with a store; it reports
// false if the store failed (the caller then acts locally).
func (b *Breaker) forceShared(to State) bool {
	snap, err := b.sh.store.Force(context.Background(), b.cfg.name, b.sh.policy, to)
	if err != nil {
		b.degrade(err)
		return false
	}
	b.apply(snap, true)
	return true
}

// retryAfter rounds the time left d in the open state up to the next whole
// millisecond, strictly past the moment the breaker half-opens.
func retryAfter(d time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d > maxDuration-time.Millisecond:
		return maxDuration // rounding up would wrap negative
	}
	return d.Truncate(time.Millisecond) + time.Millisecond
}

const maxDuration = time.Duration(1<<63 - 1)
