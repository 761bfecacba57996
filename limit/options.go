package limit

import (
	"slices"
	"time"

	"github.com/async-patterns/async/observe"
)

// Option configures a limiter made by one of this package's constructors.
// An option that does not apply to the limiter it is given to (a queue
// bound for a rate limiter) makes the constructor panic with a message
// naming it.
type Option func(*config)

// config is what the options set; each constructor reads its part.
type config struct {
	name  string
	given []string // the options given, by name, checked against the constructor's list

	maxWaiting int           // bulkhead: most callers waiting; -1: no bound
	maxWait    time.Duration // rate, bulkhead: longest wait; -1: no bound (ctx only)

	adaptive adaptiveConfig // adaptive limiter only: adaptive_config.go

	obs    observe.Observer // observe.go
	nested bool             // nested.go: neither registered nor reporting
}

// newConfig applies opts for the constructor of kind (used in panic
// messages, "rate limiter"), panicking if an option given is not in allowed.
// WithName applies to every limiter.
func newConfig(kind string, allowed []string, opts []Option) config {
	c := config{maxWaiting: -1, maxWait: -1}
	for _, o := range opts {
		if o == nil {
			panic("limit: nil Option given to the " + kind)
		}
		o(&c)
	}
	for _, g := range c.given {
		if g != "WithName" && g != "WithObserver" && !slices.Contains(allowed, g) {
			panic("limit: " + g + " does not apply to a " + kind)
		}
	}
	return c
}

func (c *config) note(option string) { c.given = append(c.given, option) }

// label is the limiter's name, or kind when it has none: what rejections
// carry in [RejectedError.Limiter].
func (c *config) label(kind string) string {
	if c.name != "" {
		return c.name
	}
	return kind
}

// WithName names the limiter; its rejections carry the name
// ([RejectedError.Limiter]). It applies to every limiter.
func WithName(name string) Option {
	return func(c *config) { c.name = name; c.note("WithName") }
}

// WithMaxWaiting bounds how many callers may wait in Acquire at once: a
// caller that would be one too many is rejected at once. 0 means no
// waiting: a call that cannot be admitted at once is rejected. It applies
// to a [Bulkhead] (default: no bound). n < 0 panics.
func WithMaxWaiting(n int) Option {
	if n < 0 {
		panic("limit: WithMaxWaiting(n) with n < 0")
	}
	return func(c *config) { c.maxWaiting = n; c.note("WithMaxWaiting") }
}

// WithMaxWait bounds how long one caller may wait for admission: a
// [Bulkhead] waiter still waiting after d is rejected (RetryAfter 0); a
// [Rate] call whose token would come later than d from now is rejected at
// once, with the wait it would have needed as RetryAfter. 0 means no
// waiting. Default: no bound but ctx's. d < 0 panics.
func WithMaxWait(d time.Duration) Option {
	if d < 0 {
		panic("limit: WithMaxWait(d) with d < 0")
	}
	return func(c *config) { c.maxWait = d; c.note("WithMaxWait") }
}
