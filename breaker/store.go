package breaker

import (
	"context"
	"errors"
	"fmt"
	"time"
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
	// one goroutine at a time and may call the store. fn runs the
	// breaker's OnStateChange hook, which may panic: a Store that calls
	// fn on a goroutine of its own must recover that panic and report it
	// through package observe (with observe.Fallback, so that it reaches
	// log/slog's default logger when no observer is set).
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

// String returns "success", "failure" or "excluded".
func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Excluded:
		return "excluded"
	}
	return fmt.Sprintf("breaker.Outcome(%d)", int(o))
}

// Snapshot is the shared state a [Store] operation left behind.
type Snapshot struct {
	State      State
	Generation uint64 // grows with every change of state; never goes back, even if the store loses its data
	// OpenFor is, when State is Open, the time left until it half-opens;
	// when State is HalfOpen and every probe permit is taken, the time
	// left until the probes' lease ends and the permits are given again
	// (a Store without leases leaves it 0).
	OpenFor time.Duration
	Counts  Counts
	Changes []Change // the changes of state this operation made, oldest first
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
// with no store operation, with the time left ([RejectedError.RetryAfter]),
// and so is a call made while the breaker is half-open with every probe
// permit known to be taken (an operation's reply said so, with the time
// left on the probes' lease in [Snapshot.OpenFor]): this replica asks again
// when that lease ends, or when it learns of the next change of state. (A
// permit given back by a probe another replica's caller cancelled is
// therefore seen at the end of the lease.) When the open period ends, one
// call per replica at a time asks for a probe permit; the calls the replica
// makes meanwhile are rejected with [ErrTooManyRequests] at once, as if that
// call had taken the last permit, instead of every caller asking together.
// State, Counts, Trip and Reset cost one each. Changes made by other
// replicas arrive through [Store.Watch]: the breaker learns of them within
// one delivery, and runs the [WithOnStateChange] hook for them on the
// store's goroutine, with the hook's usual rules (except that a panic in
// it there has no caller to reach: the Store recovers it; redisstore
// reports it through package observe, as a TaskEnd event that panicked).
// A replica that has not heard yet that another one opened the breaker lets through at most one
// more call per calling goroutine: its Record answers with the new state,
// and its outcome, from an older generation, is not counted.
//
// When a store operation fails (the store is down or slower than its
// timeout), the breaker falls back to its in-process state machine, starting
// from the last state it knew, says so once through the [WithOnStoreStatus]
// hook and its observer (a BreakerStoreDown event; with no observer set,
// log/slog's default logger), and tries the store again at most every
// [StoreRetryInterval]; when the store answers, the breaker re-joins the
// shared state, and says so once. An operation's outcome changes that status
// only if the status has not changed since the operation began, so one
// outage is reported as one "down" and one "up", however many operations
// were under way across it; the log lines come out in that order, with the
// hook, on the goroutine that runs it. A caller never gets an error because the store is down,
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
