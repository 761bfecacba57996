package retry

import (
	"errors"
	"fmt"
	"math"
	"time"
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

// Option configures one call of [Do] or [DoValue].
//
// An Option is a small immutable value: build a []Option once and share it
// between any number of goroutines and calls; applying it changes nothing but
// the settings of the call it is passed to, and costs no allocation. The zero
// Option does nothing.
//
// A bad option (an attempt limit below 1, a negative duration, a multiplier
// below 1, a jitter outside 0..1, a nil function) does not panic: the call it
// is passed to returns an error naming it and makes no attempt.
type Option struct {
	kind optionKind
	bad  bool          // the value is out of range, decided at construction
	v    int64         // the attempt limit, or the (first) duration
	d    time.Duration // WithBackoff's max
	f    float64       // the multiplier or the jitter
	fn   any           // the function of WithRetryIf or WithOnRetry
}

type optionKind uint8

const (
	optNone optionKind = iota
	optMaxAttempts
	optMaxElapsed
	optBackoff
	optMultiplier
	optJitter
	optRetryIf
	optAttemptTimeout
	optOnRetry
)

// WithMaxAttempts limits the number of calls to n, the first one included
// (default [DefaultMaxAttempts]). WithMaxAttempts(1) makes a single call, with
// the usual error reporting. n below 1 is an error; for no limit but the
// others, pass math.MaxInt.
func WithMaxAttempts(n int) Option {
	return Option{kind: optMaxAttempts, v: int64(n), bad: n < 1}
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
	return Option{kind: optMaxElapsed, v: int64(d), bad: d < 0}
}

// WithBackoff sets the first wait (default [DefaultInitial]) and the cap that
// no wait grows past (default [DefaultMaxInterval]); jitter applies after the
// cap, as in backoff/v4, and a jittered wait that would pass the largest
// Duration saturates there. An initial of 0 retries without waiting, whatever
// max is (0 times the multiplier stays 0). A negative initial, or a max
// below initial, is an error.
func WithBackoff(initial, max time.Duration) Option {
	return Option{kind: optBackoff, v: int64(initial), d: max, bad: initial < 0 || max < initial}
}

// WithMultiplier sets the factor by which each wait grows (default
// [DefaultMultiplier]); 1 keeps the wait constant. f below 1, infinite or NaN
// is an error.
func WithMultiplier(f float64) Option {
	return Option{kind: optMultiplier, f: f, bad: !(f >= 1) || math.IsInf(f, 1)}
}

// WithJitter sets the randomization factor (default [DefaultJitter]): each
// wait is drawn from [w-f*w, w+f*w]. 0 makes the waits exact. f outside 0..1
// or NaN is an error.
func WithJitter(f float64) Option {
	return Option{kind: optJitter, f: f, bad: !(f >= 0 && f <= 1)}
}

// WithRetryIf sets which errors are retried (default: all of them). It is
// called with the failed attempt's error and must be safe to call from the
// goroutines that call Do. A [Permanent] error or a panic is never retried,
// whatever it says; an attempt that ended by its own [WithAttemptTimeout]
// is always retried while the parent ctx lives. A panic in it is not
// recovered (it is the caller's code, run on the caller's goroutine, like a
// sort.Slice less function). A nil function is an error.
func WithRetryIf(retryable func(err error) bool) Option {
	return Option{kind: optRetryIf, fn: retryable, bad: retryable == nil}
}

// WithAttemptTimeout gives each attempt its own deadline, d after it starts,
// inside the parent ctx (the earlier deadline wins). An attempt that ends by
// its own timeout is retried unless the parent ctx is done. 0 means no
// per-attempt deadline (the default); a negative d is an error.
//
// Each attempt then runs under a context.WithTimeout, which allocates.
func WithAttemptTimeout(d time.Duration) Option {
	return Option{kind: optAttemptTimeout, v: int64(d), bad: d < 0}
}

// WithOnRetry sets a hook called once before each wait, on the goroutine that
// called Do, with the 1-based number of the attempt that just failed, its
// error, and the wait before the next attempt (after any RetryAfter hint).
// It is not called after the last attempt, so n attempts call it n-1 times. It
// may call Do again. A panic in the hook is not recovered. A nil function is
// an error.
func WithOnRetry(hook func(attempt int, err error, wait time.Duration)) Option {
	return Option{kind: optOnRetry, fn: hook, bad: hook == nil}
}

// config holds the settings of one call after its first failure. It lives
// on the stack of that call: options are copied into it, never the other way.
type config struct {
	maxAttempts int
	maxElapsed  time.Duration
	initial     time.Duration
	maxInterval time.Duration
	multiplier  float64
	jitter      float64
	retryIf     func(error) bool
	onRetry     func(attempt int, err error, wait time.Duration)
}

// check returns the attempt timeout and the time budget that opts set, or an
// error naming the first bad option. It is all a first attempt needs: the
// rest of the settings are read only after a failure, by newConfig.
func check(opts []Option) (attemptTimeout, maxElapsed time.Duration, err error) {
	for i := range opts {
		o := &opts[i]
		if o.bad {
			return 0, 0, o.err()
		}
		switch o.kind {
		case optAttemptTimeout:
			attemptTimeout = time.Duration(o.v)
		case optMaxElapsed:
			maxElapsed = time.Duration(o.v)
		}
	}
	return attemptTimeout, maxElapsed, nil
}

// newConfig returns the defaults with opts, already checked, applied in order.
func newConfig(opts []Option) config {
	c := config{
		maxAttempts: DefaultMaxAttempts,
		initial:     DefaultInitial,
		maxInterval: DefaultMaxInterval,
		multiplier:  DefaultMultiplier,
		jitter:      DefaultJitter,
	}
	for _, o := range opts {
		switch o.kind {
		case optMaxAttempts:
			c.maxAttempts = int(min(o.v, math.MaxInt))
		case optMaxElapsed:
			c.maxElapsed = time.Duration(o.v)
		case optBackoff:
			c.initial, c.maxInterval = time.Duration(o.v), o.d
		case optMultiplier:
			c.multiplier = o.f
		case optJitter:
			c.jitter = o.f
		case optRetryIf:
			c.retryIf = o.fn.(func(error) bool)
		case optOnRetry:
			c.onRetry = o.fn.(func(int, error, time.Duration))
		}
	}
	return c
}

// err describes a bad option. It is called only when o.bad is set.
func (o *Option) err() error {
	var what string
	switch o.kind {
	case optMaxAttempts:
		what = fmt.Sprintf("WithMaxAttempts(%d): the attempt limit must be at least 1", o.v)
	case optMaxElapsed:
		what = fmt.Sprintf("WithMaxElapsed(%v): negative budget", time.Duration(o.v))
	case optBackoff:
		what = fmt.Sprintf("WithBackoff(%v, %v): want 0 <= initial <= max", time.Duration(o.v), o.d)
	case optMultiplier:
		what = fmt.Sprintf("WithMultiplier(%v): the multiplier must be finite and at least 1", o.f)
	case optJitter:
		what = fmt.Sprintf("WithJitter(%v): the jitter must be between 0 and 1", o.f)
	case optRetryIf:
		what = "WithRetryIf(nil): nil function"
	case optAttemptTimeout:
		what = fmt.Sprintf("WithAttemptTimeout(%v): negative timeout", time.Duration(o.v))
	case optOnRetry:
		what = "WithOnRetry(nil): nil function"
	}
	return errors.New("retry: bad option " + what)
}
