package breaker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/async-patterns/async/internal/safe"
	"github.com/sony/gobreaker/v2"
)

// State is the state of a [Breaker].
type State int

// The states of a [Breaker]. Closed lets calls through and counts their
// outcomes; Open rejects them; HalfOpen lets a few probes through to decide
// between the two.
const (
	Closed State = iota
	HalfOpen
	Open
)

// String returns "closed", "half-open" or "open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	}
	return fmt.Sprintf("breaker.State(%d)", int(s))
}

// Counts are the numbers a [Breaker] decides on. They cover the current
// window (see [WithWindow]) in the closed state, and the probes in the
// half-open state; every change of state clears them. Requests counts calls
// let through, including those still running; TotalExclusions counts calls
// the caller cancelled, which are neither successes nor failures.
type Counts struct {
	Requests             uint32
	TotalSuccesses       uint32
	TotalFailures        uint32
	TotalExclusions      uint32
	ConsecutiveSuccesses uint32
	ConsecutiveFailures  uint32
}

// PanicError is the error [Breaker.Do] returns when the function panics.
// It is the module's one panic type, shared with every other package, so
// errors.As matches it under any package's name. A panic always counts as a
// failure.
type PanicError = safe.PanicError

var (
	// ErrOpen matches the error of a call rejected because the breaker is
	// open. The error is a *[RejectedError] that says when to come back.
	ErrOpen = errors.New("breaker: circuit open")
	// ErrTooManyRequests matches the error of a call rejected because the
	// half-open breaker is already running all the probes it admits. The
	// error is a *[RejectedError].
	ErrTooManyRequests = errors.New("breaker: too many requests while half-open")
)

// RejectedError is the error of a call the breaker did not run. It matches
// [ErrOpen] or [ErrTooManyRequests] (by State) through errors.Is.
type RejectedError struct {
	Name  string // the breaker's name
	State State  // Open or HalfOpen

	retryAfter time.Duration
}

// Error describes the rejection.
func (e *RejectedError) Error() string {
	prefix := "breaker: "
	if e.Name != "" {
		prefix += e.Name + ": "
	}
	if e.State == Open {
		return fmt.Sprintf("%scircuit open; retry after %v", prefix, e.retryAfter)
	}
	return prefix + "too many requests while half-open"
}

// Unwrap returns [ErrOpen] or [ErrTooManyRequests].
func (e *RejectedError) Unwrap() error {
	if e.State == Open {
		return ErrOpen
	}
	return ErrTooManyRequests
}

// RetryAfter returns how long to wait before calling again. For an open
// breaker it is the time left in the open state, rounded up to the next
// whole millisecond, strictly past the moment the breaker half-opens, so a
// call made after waiting that long finds it half-open (unless someone else
// used up the probes, or called [Breaker.Trip]); it saturates at the largest
// Duration under an open timeout that long. It is 0 for
// [ErrTooManyRequests], whose end nobody can know: the retry policy's own
// backoff then applies. retry.Do honours it.
func (e *RejectedError) RetryAfter() time.Duration { return e.retryAfter }

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
}

// transition is one change of state waiting for the hook, or (status set)
// one change of the store's status waiting for the WithOnStoreStatus hook.
type transition struct {
	from, to State
	status   bool
	err      error
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
			return err
		}
	}
	defer func() {
		// Only the Goexit mark of call can get here; see call.
		if r := recover(); r != nil {
			if r != errGoexit {
				panic(r)
			}
			b.flush()
		}
	}()
	_, gerr := b.cb.Load().Execute(func() (struct{}, error) {
		return struct{}{}, b.call(ctx, fn, &err)
	})
	if b.queued.Load() {
		b.flush()
	}
	if gerr == gobreaker.ErrOpenState || gerr == gobreaker.ErrTooManyRequests {
		return b.rejected(gerr)
	}
	return err
}

// DoValue is [Breaker.Do] for a function with a result. On a rejection, or
// when ctx is already done, the value is T's zero value; otherwise it is what
// fn returned. A nil ctx makes DoValue panic.
func DoValue[T any](ctx context.Context, b *Breaker, fn func(ctx context.Context) (T, error)) (T, error) {
	if ctx == nil {
		panic("breaker: nil ctx passed to DoValue")
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

// Exclude marks err, returned by a function run through [Breaker.Do], as
// saying nothing about the dependency: Do returns err itself (the mark
// removed) and counts the call as neither a success nor a failure, as it
// does the caller's own cancellation; a half-open probe so ended frees its
// slot. It is for work refused before it reached the dependency, such as a
// limiter's refusal inside the breaker (the guard package's order).
// Exclude(nil) is nil; the mark must be the function's error itself, not
// wrapped further.
func Exclude(err error) error {
	if err == nil {
		return nil
	}
	return &excludedError{err: err}
}

// excludedError is the mark Exclude puts on an error.
type excludedError struct{ err error }

func (e *excludedError) Error() string { return e.err.Error() }
func (e *excludedError) Unwrap() error { return e.err }

// ErrNilFunc is matched (with errors.Is) by the error of a call given a nil
// function; the error itself names the argument: "breaker: fn is nil".
var ErrNilFunc = errors.New("breaker: nil function")

// nilFuncError is the error of a call given a nil fn.
type nilFuncError struct{}

func (nilFuncError) Error() string { return "breaker: fn is nil" }

func (nilFuncError) Is(target error) bool { return target == ErrNilFunc }

var (
	errNilFn error = nilFuncError{}
	// errFailure and errExcluded are what gobreaker sees as the outcome of
	// a call: the verdict, not the user's error (which Do returns).
	errFailure  = errors.New("breaker: counted failure")
	errExcluded = errors.New("breaker: excluded outcome")
	// errGoexit marks a Goexit crossing gobreaker's Execute; see call.
	errGoexit = errors.New("breaker: Goexit in fn")
)

func newBreaker(cfg config) *Breaker {
	b := &Breaker{cfg: cfg}
	cb := b.instance(Closed)
	b.live = cb
	b.cb.Store(cb)
	if cfg.store != nil {
		if cfg.name == "" {
			panic("breaker: WithStore needs a name (WithName or a Group key): replicas share the state of the breaker with the same name")
		}
		b.sh = &shared{store: cfg.store, policy: cfg.policy()}
		cfg.store.Watch(cfg.name, b.watch)
	}
	return b
}

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

// call runs fn, stores its error in *errp, and returns the verdict for
// gobreaker: nil for a success, errFailure, or errExcluded.
//
// A panic is recovered here, as a *PanicError, so that gobreaker counts a
// failure instead of panicking again, and Do returns it as fn's error. A
// Goexit cannot be stopped; gobreaker would not count it at all (its
// recover sees nothing), which would leave a half-open probe slot taken
// forever. So call turns it into a panic with errGoexit, which gobreaker
// counts as a failure and panics again, and Do's recover swallows, letting
// the Goexit go on.
func (b *Breaker) call(ctx context.Context, fn func(context.Context) error, errp *error) (verdict error) {
	if b.queued.Load() {
		// The open -> half-open change gobreaker noticed admitting this call:
		// tell the hook before the probe runs. (A panicking hook propagates
		// from here, and gobreaker counts the call as a failure.)
		b.flush()
	}
	returned := false
	defer func() {
		if !returned {
			r := recover()
			*errp = safe.Recovered(r)
			if r == nil {
				panic(errGoexit)
			}
			verdict = errFailure
		}
	}()
	err := fn(ctx)
	returned = true
	if e, ok := err.(*excludedError); ok {
		*errp = e.err
		return errExcluded
	}
	*errp = err
	if err == nil {
		return nil
	}
	return b.verdict(ctx, err)
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
	if from != to && b.cfg.onStateChange != nil {
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

// flush runs the hook for the queued changes, in order, unless another
// goroutine is already doing so (it will run them too, before it stops).
func (b *Breaker) flush() {
	b.mu.Lock()
	if b.delivering {
		b.mu.Unlock()
		return
	}
	b.delivering = true
	var batch []transition
	i, ok := 0, false
	defer func() {
		if !ok {
			// The hook panicked (or called Goexit) on batch[i]; b.mu is
			// not held. Keep the rest for the next call.
			b.mu.Lock()
			b.queue = append(append([]transition(nil), batch[i+1:]...), b.queue...)
			b.queued.Store(len(b.queue) > 0)
			b.delivering = false
			b.mu.Unlock()
		}
	}()
	for len(b.queue) > 0 {
		batch, b.queue = b.queue, nil
		b.queued.Store(false)
		b.mu.Unlock()
		for i = 0; i < len(batch); i++ {
			if t := &batch[i]; t.status {
				b.cfg.onStoreStatus(b.cfg.name, t.err)
			} else {
				b.cfg.onStateChange(b.cfg.name, t.from, t.to)
			}
		}
		b.mu.Lock()
	}
	b.delivering = false
	b.mu.Unlock()
	ok = true
}
