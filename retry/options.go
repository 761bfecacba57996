package retry

import (
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
// An Option is a plain immutable value: build a []Option once and share it
// between any number of goroutines and calls; applying it changes nothing but
// the settings of the call it is passed to, and costs no allocation. The zero
// Option does nothing.
//
// A bad option (an attempt limit below 1, a negative duration, a multiplier
// below 1, a jitter outside 0..1, a nil function) does not panic: the call it
// is passed to returns an error naming it and makes no attempt.
type Option struct {
	kind    optionKind
	n       int
	d1, d2  time.Duration
	f       float64
	retryIf func(error) bool
	onRetry func(attempt int, err error, wait time.Duration)
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
	return Option{kind: optMaxAttempts, n: n}
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
	return Option{kind: optMaxElapsed, d1: d}
}

// WithBackoff sets the first wait (default [DefaultInitial]) and the cap that
// no wait grows past (default [DefaultMaxInterval]); jitter applies after the
// cap, as in backoff/v4. Both 0 retries without waiting. A negative initial,
// or a max below initial, is an error.
func WithBackoff(initial, max time.Duration) Option {
	return Option{kind: optBackoff, d1: initial, d2: max}
}

// WithMultiplier sets the factor by which each wait grows (default
// [DefaultMultiplier]); 1 keeps the wait constant. f below 1, infinite or NaN
// is an error.
func WithMultiplier(f float64) Option {
	return Option{kind: optMultiplier, f: f}
}

// WithJitter sets the randomization factor (default [DefaultJitter]): each
// wait is drawn from [w-f*w, w+f*w]. 0 makes the waits exact. f outside 0..1
// or NaN is an error.
func WithJitter(f float64) Option {
	return Option{kind: optJitter, f: f}
}

// WithRetryIf sets which errors are retried (default: all of them). It is
// called with the failed attempt's error and must be safe to call from the
// goroutines that call Do. A [Permanent] error or a panic is never retried,
// whatever it says; an attempt that ended by its own [WithAttemptTimeout]
// is always retried while the parent ctx lives. A nil function is an error.
func WithRetryIf(retryable func(err error) bool) Option {
	return Option{kind: optRetryIf, retryIf: retryable}
}

// WithAttemptTimeout gives each attempt its own deadline, d after it starts,
// inside the parent ctx (the earlier deadline wins). An attempt that ends by
// its own timeout is retried unless the parent ctx is done. 0 means no
// per-attempt deadline (the default); a negative d is an error.
//
// Each attempt then runs under a context.WithTimeout, which allocates.
func WithAttemptTimeout(d time.Duration) Option {
	return Option{kind: optAttemptTimeout, d1: d}
}

// WithOnRetry sets a hook called once before each wait, on the goroutine that
// called Do, with the 1-based number of the attempt that just failed, its
// error, and the wait before the next attempt (after any RetryAfter hint).
// It is not called after the last attempt, so n attempts call it n-1 times. It
// may call Do again. A panic in the hook is not recovered. A nil function is
// an error.
func WithOnRetry(hook func(attempt int, err error, wait time.Duration)) Option {
	return Option{kind: optOnRetry, onRetry: hook}
}

// config holds the settings of one call. It lives on the stack of that call:
// options are copied into it, never the other way.
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
}

// defaultConfig is what a call without options uses.
var defaultConfig = config{
	maxAttempts: DefaultMaxAttempts,
	initial:     DefaultInitial,
	maxInterval: DefaultMaxInterval,
	multiplier:  DefaultMultiplier,
	jitter:      DefaultJitter,
}

// with returns c with opts applied in order, or an error naming the first bad
// one. It works on copies, not through a pointer, so that the functions the
// options carry do not escape to the heap.
func (c config) with(opts []Option) (config, error) {
	for i := range opts {
		o := &opts[i]
		switch o.kind {
		case optNone:
		case optMaxAttempts:
			if o.n < 1 {
				return c, badOption("WithMaxAttempts(%d): the attempt limit must be at least 1", o.n)
			}
			c.maxAttempts = o.n
		case optMaxElapsed:
			if o.d1 < 0 {
				return c, badOption("WithMaxElapsed(%v): negative budget", o.d1)
			}
			c.maxElapsed = o.d1
		case optBackoff:
			if o.d1 < 0 || o.d2 < o.d1 {
				return c, badOption("WithBackoff(%v, %v): want 0 <= initial <= max", o.d1, o.d2)
			}
			c.initial, c.maxInterval = o.d1, o.d2
		case optMultiplier:
			if !(o.f >= 1) || math.IsInf(o.f, 1) {
				return c, badOption("WithMultiplier(%v): the multiplier must be finite and at least 1", o.f)
			}
			c.multiplier = o.f
		case optJitter:
			if !(o.f >= 0 && o.f <= 1) {
				return c, badOption("WithJitter(%v): the jitter must be between 0 and 1", o.f)
			}
			c.jitter = o.f
		case optRetryIf:
			if o.retryIf == nil {
				return c, badOption("WithRetryIf(nil): nil function")
			}
			c.retryIf = o.retryIf
		case optAttemptTimeout:
			if o.d1 < 0 {
				return c, badOption("WithAttemptTimeout(%v): negative timeout", o.d1)
			}
			c.attemptTimeout = o.d1
		case optOnRetry:
			if o.onRetry == nil {
				return c, badOption("WithOnRetry(nil): nil function")
			}
			c.onRetry = o.onRetry
		default:
			return c, badOption("unknown option kind %d", o.kind)
		}
	}
	return c, nil
}

// badOption builds the error for a bad option. It is kept out of line so
// that the happy path of apply stays small and allocation-free.
//
//go:noinline
func badOption(format string, args ...any) error {
	return fmt.Errorf("retry: bad option "+format, args...)
}
