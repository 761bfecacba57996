package retry

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/async-patterns/async/observe"
)

// The defaults of a call made without options. They bound every call: at most
// five attempts, with waits that add up to at most 2.25s.
const (
	DefaultMaxAttempts = 5                      // total calls, the first one included
	DefaultInitial     = 100 * time.Millisecond // the first wait, before jitter
	DefaultMaxInterval = 10 * time.Second       // no wait grows past this, before jitter
	DefaultMultiplier  = 2.0                    // each wait is this many times the one before
	DefaultJitter      = 0.5                    // each wait is randomized by ±50%
)

// Option configures one call of [Do] or [DoValue]. It is a function over
// the call's settings, like every package's Option in this module.
//
// Options are values that change nothing but the settings of the call they
// are passed to: build a []Option once and share it between any number of
// goroutines and calls.
//
// A bad option (an attempt limit below 1, a negative duration, a multiplier
// below 1, a jitter outside 0..1, a nil function) does not panic: the call it
// is passed to returns an error naming it and makes no attempt. A nil Option
// is a programming error: the call panics.
type Option func(*config)

// WithMaxAttempts limits the number of calls to n, the first one included
// (default [DefaultMaxAttempts]). WithMaxAttempts(1) makes a single call, with
// the usual error reporting. n below 1 is an error; for no limit but the
// others, pass math.MaxInt.
func WithMaxAttempts(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.bad(fmt.Sprintf("WithMaxAttempts(%d): the attempt limit must be at least 1", n))
			return
		}
		c.maxAttempts = n
	}
}

// WithMaxElapsed sets a time budget for the whole call, measured from the
// moment Do is called: a wait that would end past it is not started, and the
// call gives up with [ErrExhausted]. The budget is checked between attempts; it
// does not interrupt a running attempt (use ctx's deadline or
// [WithAttemptTimeout] for that). An attempt may start as late as the budget's
// end. 0 means no budget (the default); a negative d is an error.
//
// With a budget set, every call reads the clock once before its first attempt.
func WithMaxElapsed(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.bad(fmt.Sprintf("WithMaxElapsed(%v): negative budget", d))
			return
		}
		c.maxElapsed = d
	}
}

// WithBackoff sets the first wait (default [DefaultInitial]) and the cap that
// no wait grows past (default [DefaultMaxInterval]); jitter applies after the
// cap, as in backoff/v4, and a jittered wait that would pass the largest
// Duration saturates there. An initial of 0 retries without waiting, whatever
// max is (0 times the multiplier stays 0). A negative initial, or a max
// below initial, is an error.
func WithBackoff(initial, max time.Duration) Option {
	return func(c *config) {
		if initial < 0 || max < initial {
			c.bad(fmt.Sprintf("WithBackoff(%v, %v): want 0 <= initial <= max", initial, max))
			return
		}
		c.initial, c.maxInterval = initial, max
	}
}

// WithMultiplier sets the factor by which each wait grows (default
// [DefaultMultiplier]); 1 keeps the wait constant. f below 1, infinite or NaN
// is an error.
func WithMultiplier(f float64) Option {
	return func(c *config) {
		if !(f >= 1) || math.IsInf(f, 1) {
			c.bad(fmt.Sprintf("WithMultiplier(%v): the multiplier must be finite and at least 1", f))
			return
		}
		c.multiplier = f
	}
}

// WithJitter sets the randomization factor (default [DefaultJitter]): each
// wait is drawn from [w-f*w, w+f*w]. 0 makes the waits exact. f outside 0..1
// or NaN is an error.
func WithJitter(f float64) Option {
	return func(c *config) {
		if !(f >= 0 && f <= 1) {
			c.bad(fmt.Sprintf("WithJitter(%v): the jitter must be between 0 and 1", f))
			return
		}
		c.jitter = f
	}
}

// WithRetryIf sets which errors are retried (default: all of them). It is
// called with the failed attempt's error and must be safe to call from the
// goroutines that call Do. A [Permanent] error or a panic is never retried,
// whatever it says; an attempt that ended by its own [WithAttemptTimeout]
// is always retried while the parent ctx lives. A panic in it is not
// recovered (it is the caller's code, run on the caller's goroutine, like a
// sort.Slice less function). A nil function is an error.
func WithRetryIf(retryable func(err error) bool) Option {
	return func(c *config) {
		if retryable == nil {
			c.bad("WithRetryIf(nil): nil function")
			return
		}
		c.retryIf = retryable
	}
}

// WithAttemptTimeout gives each attempt its own deadline, d after it starts,
// inside the parent ctx (the earlier deadline wins). An attempt that ends by
// its own timeout is retried unless the parent ctx is done. 0 means no
// per-attempt deadline (the default); a negative d is an error.
//
// Each attempt then runs under a context.WithTimeout, which allocates.
func WithAttemptTimeout(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.bad(fmt.Sprintf("WithAttemptTimeout(%v): negative timeout", d))
			return
		}
		c.attemptTimeout = d
	}
}

// WithOnRetry sets a hook called once before each wait, on the goroutine that
// called Do, with the 1-based number of the attempt that just failed, its
// error, and the wait before the next attempt (after any RetryAfter hint).
// It is not called after the last attempt, so n attempts call it n-1 times. It
// may call Do again. A panic in the hook is not recovered. A nil function is
// an error.
func WithOnRetry(hook func(attempt int, err error, wait time.Duration)) Option {
	return func(c *config) {
		if hook == nil {
			c.bad("WithOnRetry(nil): nil function")
			return
		}
		c.onRetry = hook
	}
}

// WithBudget makes the call draw its retries from b, a [Budget] shared with
// other calls: the first attempt deposits, and each retry must be allowed
// by b (checked once the retry is otherwise due, before its wait and the
// [WithOnRetry] hook). A refused retry ends the call at once with an
// [*Error] matching [ErrBudgetExhausted] and the last attempt's error. A
// nil b is an error.
func WithBudget(b *Budget) Option {
	return func(c *config) {
		if b == nil {
			c.bad("WithBudget(nil): nil budget")
			return
		}
		c.budget = b
	}
}

// config holds the settings of one call.
type config struct {
	maxAttempts    int
	maxElapsed     time.Duration
	initial        time.Duration
	maxInterval    time.Duration
	multiplier     float64
	jitter         float64
	attemptTimeout time.Duration
	retryIf        func(error) bool
	onRetry        func(attempt int, err error, wait time.Duration)
	budget         *Budget
	err            error            // the first bad option
	obs            observe.Observer // observe.go
	name           string           // observe.go
}

// defaults is the config of a call made without options.
var defaults = config{
	maxAttempts: DefaultMaxAttempts,
	initial:     DefaultInitial,
	maxInterval: DefaultMaxInterval,
	multiplier:  DefaultMultiplier,
	jitter:      DefaultJitter,
}

// bad records the first bad option, which the call returns before any
// attempt.
func (c *config) bad(what string) {
	if c.err == nil {
		c.err = errors.New("retry: bad option " + what)
	}
}

// configs recycles the settings of calls made with options.
//
// Why a pool: an Option is a function over *config, and handing a pointer
// to a function the compiler cannot see into moves what it points to onto
// the heap. A config on the caller's stack would then cost every call an
// allocation, even a call without options and a first-try success, which
// this package promises never allocates. A call without options uses
// [defaults] and never touches the pool; a call with options borrows a
// config and returns it, cleared, when it returns.
var configs = sync.Pool{New: func() any { return new(config) }}

// newConfig returns the settings opts make, from the pool; call must hand
// it back with release. It panics, naming call, on a nil Option.
func newConfig(opts []Option, call string) *config {
	c := configs.Get().(*config)
	*c = defaults
	for i, o := range opts {
		if o == nil {
			configs.Put(c)
			panic("retry: nil Option passed to " + call + " (opts[" + strconv.Itoa(i) + "])")
		}
		o(c)
	}
	return c
}

// release clears c (so that the pool keeps no caller's functions alive) and
// returns it to the pool. defaults is never released.
func (c *config) release() {
	if c == &defaults {
		return
	}
	*c = config{}
	configs.Put(c)
}
