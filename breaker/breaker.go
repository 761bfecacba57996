package breaker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/observe"
	"github.com/sony/gobreaker/v2"
)

// Breaker is a circuit breaker guarding one dependency: after the failures
// its policy allows (default: [DefaultConsecutiveFailures] in a row) it opens
// and rejects calls at once, without running them; after the open timeout
// (default [DefaultOpenTimeout]) it half-opens and lets probes through
// (default [DefaultHalfOpenRequests]); their success closes it, a failure
// opens it again.
//
// It is built on github.com/sony/gobreaker/v2 and adds what gobreaker lacks:
// a context, the caller's cancellation left out of the counts, a state-change
// hook run outside every lock, manual [Breaker.Trip] and [Breaker.Reset], and
// rejections that say when to come back ([RejectedError.RetryAfter]).
//
// With [WithStore], every replica's breaker of the same name shares one
// state kept in the store; see there for what changes.
//
// Create one with [New]; the zero value is not usable. A Breaker must not be
// copied after first use. It is safe for concurrent use, starts no goroutine
// and needs no closing (a [Store] may run one of its own). A call through it costs what a gobreaker call costs
// (two short critical sections and two clock reads) plus a few nanoseconds,
// and allocates nothing unless it is rejected.
//
// The [WithOnStateChange] hook runs synchronously, outside the breaker's
// locks, on the goroutine of the call that caused the change, before that
// call returns: Do (for the open -> half-open change that admits a probe,
// before the probe runs), State or Counts noticing that the open timeout has
// passed, Trip, Reset. A hook may call any method of the breaker. Hooks never
// run concurrently with each other and see the changes in the order they
// happened; to keep that promise, a change made while another goroutine is
// running the hook is handed to that goroutine, which runs the hook for it
// next (the call that made the change may then return first). A panicking
// hook propagates to the caller; the changes after it are still delivered,
// by the next call.
type Breaker struct {
	cfg config

	// cb is the gobreaker instance calls go through. Trip and Reset
	// replace it; calls already admitted by the old one report there, and
	// their outcome is forgotten with it.
	cb     atomic.Pointer[gobreaker.CircuitBreaker[struct{}]]
	queued atomic.Bool // queue is not empty; read after every call

	mu         sync.Mutex                          // protects the fields below; never held while calling gobreaker or the hook
	live       *gobreaker.CircuitBreaker[struct{}] // the instance whose changes count (cb, once published)
	state      State                               // live's state as of its last change
	openUntil  time.Time                           // when an open live half-opens, at the latest
	queue      []transition                        // changes not yet passed to the hook
	delivering bool                                // a goroutine is running the hook

	sh       *shared // nil without a Store; its mutable fields are under mu
	storeErr error   // the store's last error while degraded

	reg *observe.Entry // the breaker in the registry of live objects (observe.go)
}

// New returns a closed breaker configured by opts. It panics, with a message
// that starts with "breaker: " and names the option, if an option is bad.
func New(opts ...Option) *Breaker {
	return newBreaker(newConfig(opts, "New"))
}

// Do calls fn with ctx if the breaker lets the call through, and returns
// fn's error unchanged. It does not wait: a rejected call returns at once a
// *[RejectedError] matching [ErrOpen] or [ErrTooManyRequests], and fn does not
// run. If ctx is already done, Do returns context.Cause(ctx) without calling
// fn or counting anything. Do returns when fn does; the breaker does not
// cancel or abandon it.
//
// The outcome counts as follows. A nil error is a success. An error matching
// context.Canceled (or ctx's cause) while ctx is cancelled is the caller
// giving up, not the dependency failing: it is not counted at all. A panic
// is a failure, and Do returns it as a *[PanicError]. Any other error is a
// failure unless the [WithIsFailure] function says otherwise; an expired
// deadline, even ctx's, is a failure, since a slow dependency is what a
// breaker is for. If fn calls runtime.Goexit, the call counts as a failure
// and the goroutine goes on exiting: Goexit cannot be stopped on the
// caller's goroutine.
//
// Why recover a panic on the caller's own goroutine instead of letting it
// unwind, as gobreaker does after counting it: the module's rule is that a
// panic in user code comes back as an error where that code's error would,
// with its stack, never as a crash, and a panicking client is a failing
// dependency that the caller may want to handle like any other failure.
// (gobreaker does not count a Goexit at all, which would block a half-open
// probe slot for good; Do makes sure it is counted.)
//
// A nil fn returns an error matching [ErrNilFunc] and counts nothing. A nil
// ctx makes Do panic.
func (b *Breaker) Do(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if ctx == nil {
		panic("breaker: nil ctx passed to Do")
	}
	if fn == nil {
		return errNilFn
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if b.sh != nil {
		if handled, err := b.doShared(ctx, fn); handled {
			return b.noteRejected(ctx, err)
		}
	}
	// A Goexit in fn cannot be stopped, and gobreaker would not count it at
	// all (its recover sees nothing), which would leave a half-open probe
	// permit taken for good. So the call's defer turns it into a panic of
	// errGoexit, which gobreaker counts as a failure and panics again, and
	// this defer recovers, letting the Goexit go on. A panic in fn is
	// recovered by the call's defer, as a *PanicError, so that gobreaker
	// counts a failure and Do returns it as fn's error.
	goexit := false
	defer func() {
		if goexit {
			recover()
			b.flush()
		}
	}()
	_, gerr := b.cb.Load().Execute(func() (_ struct{}, verdict error) {
		if b.queued.Load() {
			// The open -> half-open change gobreaker noticed admitting this
			// call: tell the hook before the probe runs. (A panicking hook
			// propagates from here, and gobreaker counts the call as a
			// failure.)
			b.flush()
		}
		returned := false
		defer func() {
			if !returned {
				r := recover()
				err = safe.Recovered(r)
				if r == nil {
					goexit = true
					panic(errGoexit)
				}
				verdict = errFailure
			}
		}()
		err = fn(ctx)
		returned = true
		if err == nil {
			return
		}
		if e, ok := err.(*excludedError); ok {
			err = e.err
			return struct{}{}, errExcluded
		}
		return struct{}{}, b.verdict(ctx, err)
	})
	if b.queued.Load() {
		b.flush()
	}
	if gerr == gobreaker.ErrOpenState || gerr == gobreaker.ErrTooManyRequests {
		return b.noteRejected(ctx, b.rejected(gerr))
	}
	return err
}

// DoValue is [Breaker.Do] for a function with a result. On a rejection, or
// when ctx is already done, the value is T's zero value; otherwise it is what
// fn returned. A nil ctx or a nil b makes DoValue panic, naming it.
func DoValue[T any](ctx context.Context, b *Breaker, fn func(ctx context.Context) (T, error)) (T, error) {
	if ctx == nil {
		panic("breaker: nil ctx passed to DoValue")
	}
	if b == nil {
		panic("breaker: nil Breaker passed to DoValue")
	}
	var v T
	if fn == nil {
		return v, errNilFn
	}
	err := b.Do(ctx, func(ctx context.Context) (err error) {
		v, err = fn(ctx)
		return err
	})
	return v, err
}

// State returns the breaker's state. An open breaker whose timeout has passed
// becomes half-open here, and the hook runs for it before State returns.
func (b *Breaker) State() State {
	if b.sh != nil {
		if snap, ok := b.loadShared(); ok {
			return snap.State
		}
	}
	s := b.cb.Load().State()
	if b.queued.Load() {
		b.flush()
	}
	return State(s)
}

// Counts returns the breaker's counts, after moving the rolling window (and
// the state, like [Breaker.State]) to the present.
func (b *Breaker) Counts() Counts {
	if b.sh != nil {
		if snap, ok := b.loadShared(); ok {
			return snap.Counts
		}
	}
	cb := b.cb.Load()
	cb.State()
	n := cb.Counts()
	if b.queued.Load() {
		b.flush()
	}
	return Counts(n)
}

// Name returns the name given by [WithName] (or the [Group] key).
func (b *Breaker) Name() string { return b.cfg.name }

// Trip opens the breaker now, as if its policy had tripped: calls are
// rejected until the open timeout has passed, then it half-opens as usual.
// Tripping an open breaker starts its open timeout again. The hook runs for
// the change before Trip returns (when the breaker was not already open).
// Calls already running finish, but their outcomes are not counted.
func (b *Breaker) Trip() {
	if b.sh != nil && b.forceShared(Open) {
		return
	}
	b.replace(Open)
}

// Reset closes the breaker now and clears its counts. The hook runs for the
// change before Reset returns (when the breaker was not already closed).
// Calls already running finish, but their outcomes are not counted.
func (b *Breaker) Reset() {
	if b.sh != nil && b.forceShared(Closed) {
		return
	}
	b.replace(Closed)
}

func newBreaker(cfg config) *Breaker {
	b := buildBreaker(cfg)
	b.watchStore()
	return b
}

// buildBreaker returns a breaker configured by cfg, not yet watching its
// store (see watchStore).
func buildBreaker(cfg config) *Breaker {
	b := &Breaker{cfg: cfg}
	b.register()
	cb := b.instance(Closed)
	b.live = cb
	b.cb.Store(cb)
	if cfg.store != nil {
		if cfg.name == "" {
			panic("breaker: WithStore needs a name (WithName or a Group key): replicas share the state of the breaker with the same name")
		}
		b.sh = &shared{store: cfg.store, policy: cfg.policy()}
	}
	return b
}

// watchStore subscribes b to the changes other replicas make in its store.
// It calls the user's Store, so no lock may be held around it (a Watch
// may call back into the Group that created b).
func (b *Breaker) watchStore() {
	if b.sh != nil {
		b.sh.store.Watch(b.cfg.name, b.watch)
	}
}

// verdict classifies a non-nil error returned by fn.
func (b *Breaker) verdict(ctx context.Context, err error) error {
	if ctx.Err() == context.Canceled &&
		(errors.Is(err, context.Canceled) || errors.Is(err, context.Cause(ctx))) {
		return errExcluded
	}
	if b.cfg.isFailure != nil && !b.cfg.isFailure(err) {
		return nil
	}
	return errFailure
}

// rejected builds the error for a call gobreaker rejected with gerr.
func (b *Breaker) rejected(gerr error) error {
	if gerr == gobreaker.ErrTooManyRequests {
		return &RejectedError{Name: b.cfg.name, State: HalfOpen}
	}
	b.mu.Lock()
	until := b.openUntil
	b.mu.Unlock()
	// gobreaker half-opens strictly after its expiry, which is at or
	// before until (record reads the clock after gobreaker did): wait past it.
	return &RejectedError{Name: b.cfg.name, State: Open, retryAfter: retryAfter(time.Until(until))}
}
