package breaker

import (
	"fmt"
	"math"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/async-patterns/async/observe"
)

// Defaults used when the matching option is not given.
const (
	// DefaultConsecutiveFailures is the trip policy when neither
	// [WithConsecutiveFailures] nor [WithFailureRatio] is given: the breaker
	// opens on the 5th failure in a row.
	DefaultConsecutiveFailures = 5
	// DefaultOpenTimeout is how long the breaker stays open before it lets
	// probes through ([WithOpenTimeout]).
	DefaultOpenTimeout = 60 * time.Second
	// DefaultHalfOpenRequests is how many probes the half-open breaker admits
	// ([WithHalfOpenRequests]).
	DefaultHalfOpenRequests = 1
)

// An Option configures a [Breaker] (or every breaker of a [Group]). Options
// are checked by [New] and [NewGroup], which panic on a bad one with a
// message that starts with "breaker: " and names the option.
type Option func(*config)

// config is the checked configuration a Breaker is built from. It is
// immutable once New returns.
type config struct {
	name          string
	consecutive   uint32  // trip at this many failures in a row; 0: off
	ratio         float64 // trip at failures/outcomes >= ratio; 0: off
	minRequests   uint32  // outcomes needed before ratio applies
	interval      time.Duration
	bucket        time.Duration
	openTimeout   time.Duration
	halfOpen      uint32
	isFailure     func(error) bool
	onStateChange func(name string, from, to State)
	store         Store
	onStoreStatus func(name string, err error)
	storeRequired bool
	obs           observe.Observer // observe.go
}

// WithName sets the name passed to the [WithOnStateChange] hook and shown in
// rejection errors. The default is "". In a [Group] every breaker is named
// after its key instead.
func WithName(name string) Option {
	return func(c *config) { c.name = name }
}

// WithConsecutiveFailures makes the closed breaker open when n calls in a row
// have failed. n must be at least 1. Without this option and without
// [WithFailureRatio] the policy is n = [DefaultConsecutiveFailures]. Given
// with [WithFailureRatio], whichever is met first trips the breaker.
func WithConsecutiveFailures(n int) Option {
	return func(c *config) {
		if !inRange(n) {
			panic(fmt.Sprintf("breaker: WithConsecutiveFailures(%d): n must be in [1, %d]", n, maxCount))
		}
		c.consecutive = uint32(n)
	}
}

// WithFailureRatio makes the closed breaker open when at least minRequests
// calls have finished in the current window (or since the last state change,
// without [WithWindow]) and failures/finished >= ratio. Only counted outcomes
// make up "finished": calls still running, and calls excluded because the
// caller cancelled them, are left out. ratio must be in (0, 1] and
// minRequests at least 1. Given with [WithConsecutiveFailures], whichever is
// met first trips the breaker.
func WithFailureRatio(ratio float64, minRequests int) Option {
	return func(c *config) {
		if !(ratio > 0 && ratio <= 1) {
			panic(fmt.Sprintf("breaker: WithFailureRatio(%v, %d): ratio must be in (0, 1]", ratio, minRequests))
		}
		if !inRange(minRequests) {
			panic(fmt.Sprintf("breaker: WithFailureRatio(%v, %d): minRequests must be in [1, %d]", ratio, minRequests, maxCount))
		}
		c.ratio, c.minRequests = ratio, uint32(minRequests)
	}
}

// WithWindow makes the closed breaker count over a rolling window of the
// last interval, kept in buckets of length bucket: every bucket period the
// oldest bucket's calls are forgotten (gobreaker's BucketPeriod). interval
// is rounded up to a whole number of buckets; bucket == interval gives a
// fixed window whose counts are all cleared every interval. Both must be
// positive and bucket at most interval. Without this option the counts
// cover everything since the last state change. A call is counted in the
// bucket in which it started.
func WithWindow(interval, bucket time.Duration) Option {
	return func(c *config) {
		switch {
		case interval <= 0:
			panic(fmt.Sprintf("breaker: WithWindow(%v, %v): interval must be positive", interval, bucket))
		case bucket <= 0:
			panic(fmt.Sprintf("breaker: WithWindow(%v, %v): bucket must be positive", interval, bucket))
		case bucket > interval:
			panic(fmt.Sprintf("breaker: WithWindow(%v, %v): bucket must not exceed interval", interval, bucket))
		}
		c.interval, c.bucket = interval, bucket
	}
}

// WithOpenTimeout sets how long the breaker stays open before it half-opens
// (default [DefaultOpenTimeout]). It half-opens strictly after d has passed,
// at the first call, State or Counts that notices. d must be positive.
func WithOpenTimeout(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			panic(fmt.Sprintf("breaker: WithOpenTimeout(%v): d must be positive", d))
		}
		c.openTimeout = d
	}
}

// WithHalfOpenRequests sets how many probe calls the half-open breaker lets
// run (default [DefaultHalfOpenRequests]): it admits n concurrent calls and
// rejects the rest with [ErrTooManyRequests]; n successes in a row close it,
// and any failure opens it again. n must be at least 1.
func WithHalfOpenRequests(n int) Option {
	return func(c *config) {
		if !inRange(n) {
			panic(fmt.Sprintf("breaker: WithHalfOpenRequests(%d): n must be in [1, %d]", n, maxCount))
		}
		c.halfOpen = uint32(n)
	}
}

// WithIsFailure decides which non-nil errors count as failures (the default
// counts every one); an error it returns false for counts as a success, as
// with gobreaker's IsSuccessful (a "not found" is the dependency working).
// It is never called with nil (always a success), with the caller's own
// cancellation (never counted) or with a panic (always a failure). It must
// be safe for concurrent use; it runs outside the locks. A panic in it is
// not recovered: the call counts as a failure and the panic propagates.
func WithIsFailure(isFailure func(err error) bool) Option {
	return func(c *config) {
		if isFailure == nil {
			panic("breaker: WithIsFailure(nil): isFailure must not be nil")
		}
		c.isFailure = isFailure
	}
}

// WithOnStateChange sets a hook called on every change of state, including
// those made by [Breaker.Trip] and [Breaker.Reset]. See [Breaker] for when
// and where it runs; it may call any method of the breaker. With
// [WithStore] it also runs for the changes other replicas make, on the
// store's goroutine.
func WithOnStateChange(hook func(name string, from, to State)) Option {
	return func(c *config) {
		if hook == nil {
			panic("breaker: WithOnStateChange(nil): hook must not be nil")
		}
		c.onStateChange = hook
	}
}

// newConfig applies opts over the defaults; it panics on a bad option, and
// on a nil one naming call, the constructor called.
func newConfig(opts []Option, call string) config {
	c := config{openTimeout: DefaultOpenTimeout, halfOpen: DefaultHalfOpenRequests}
	for i, opt := range opts {
		if opt == nil {
			panic(fmt.Sprintf("breaker: nil Option passed to %s (opts[%d])", call, i))
		}
		opt(&c)
	}
	if c.consecutive == 0 && c.ratio == 0 {
		c.consecutive = DefaultConsecutiveFailures
	}
	return c
}

// maxCount is the largest count gobreaker can hold.
const maxCount = math.MaxUint32

// inRange reports whether n is a valid count.
func inRange(n int) bool { return n >= 1 && uint64(n) <= maxCount }

// readyToTrip is gobreaker's ReadyToTrip: the policy, applied after each
// counted failure in the closed state.
func (c *config) readyToTrip(n gobreaker.Counts) bool {
	if c.consecutive > 0 && n.ConsecutiveFailures >= c.consecutive {
		return true
	}
	if c.ratio > 0 {
		// Division, not multiplication: failures/finished and the literal
		// ratio round to the same float64 when they are equal fractions.
		finished := n.TotalSuccesses + n.TotalFailures
		return finished >= c.minRequests && float64(n.TotalFailures)/float64(finished) >= c.ratio
	}
	return false
}
