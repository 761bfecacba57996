package jsqueue

import (
	"fmt"
	"time"

	"github.com/async-patterns/async/retry"
)

// Defaults of a queue made without options and of Serve.
const (
	DefaultCapacity   = 1024             // items not yet done that the stream holds
	DefaultAckWait    = 30 * time.Second // a delivery not done within it is delivered again
	DefaultMaxDeliver = 5                // attempts before an item is dead-lettered
	DefaultGrace      = 10 * time.Second // Serve: how long running handlers may finish after ctx ends
)

// Option configures [New] or [Serve]. Each option says which of the two reads
// it; the other ignores it, so one []Option may be shared by both.
//
// A bad value (a capacity below 1, a negative duration, a nil codec) makes
// New panic with a message starting with "jsqueue:", and makes Serve return
// an error naming the option, before anything starts.
type Option func(*config)

type config struct {
	capacity   int
	ackWait    time.Duration
	maxDeliver int
	memory     bool
	replicas   int
	codec      any // a Codec[T], checked against T by New

	grace     time.Duration
	initial   time.Duration
	maxDelay  time.Duration
	retryIf   func(error) bool
	badOption string // the first bad option, reported by New (panic) or Serve (error)
}

func defaultConfig() config {
	return config{
		capacity:   DefaultCapacity,
		ackWait:    DefaultAckWait,
		maxDeliver: DefaultMaxDeliver,
		replicas:   1,
		grace:      DefaultGrace,
		initial:    retry.DefaultInitial,
		maxDelay:   retry.DefaultMaxInterval,
	}
}

func (c *config) bad(format string, args ...any) {
	if c.badOption == "" {
		c.badOption = fmt.Sprintf(format, args...)
	}
}

// WithCapacity bounds the queue at n items not yet done (default
// [DefaultCapacity]): the stream's max messages, with discard-new. An item
// counts from the moment it is put until it is done or dead-lettered, so
// items being worked on count too (unlike the in-process queue's capacity).
// Read by New when it creates the stream; a queue that already exists keeps
// its bound. n below 1 is bad.
func WithCapacity(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.bad("WithCapacity(%d): want >= 1", n)
		}
		c.capacity = n
	}
}

// WithAckWait sets how long a delivery may go without Done, Retry or Extend
// before JetStream delivers it again (default [DefaultAckWait]). Read by New,
// which sets it on the shared durable consumer: the last New wins. d below
// 1ms is bad.
func WithAckWait(d time.Duration) Option {
	return func(c *config) {
		if d < time.Millisecond {
			c.bad("WithAckWait(%v): want >= 1ms", d)
		}
		c.ackWait = d
	}
}

// WithMaxDeliver sets how many attempts an item gets (default
// [DefaultMaxDeliver]): when the n-th attempt fails (Retry on it, or Serve's
// handler fails), or a delivery beyond the n-th arrives because the n-th was
// never finished, the item goes to the dead-letter stream. Read by New and
// kept by that handle. n below 1 is bad.
func WithMaxDeliver(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.bad("WithMaxDeliver(%d): want >= 1", n)
		}
		c.maxDeliver = n
	}
}

// WithCodec sets how values are encoded in messages (default [JSON]). Read by
// New, which panics if c is nil or is not a Codec of the queue's type.
func WithCodec[T any](c Codec[T]) Option {
	return func(cfg *config) {
		if c == nil {
			cfg.bad("WithCodec(nil)")
		}
		cfg.codec = c
	}
}

// WithMemoryStorage keeps the streams in memory instead of on disk: faster,
// but a server restart loses every item. Read by New when it creates the
// streams.
func WithMemoryStorage() Option {
	return func(c *config) { c.memory = true }
}

// WithReplicas sets how many servers of a cluster hold each stream (default
// 1). Read by New when it creates the streams. n below 1 or above 5 is bad.
func WithReplicas(n int) Option {
	return func(c *config) {
		if n < 1 || n > 5 {
			c.bad("WithReplicas(%d): want 1..5", n)
		}
		c.replicas = n
	}
}

// WithGrace sets how long Serve lets running handlers finish after its ctx
// ends (default [DefaultGrace]); then their ctx is cancelled and what they do
// not finish is delivered again. Read by Serve. A negative d is bad.
func WithGrace(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.bad("WithGrace(%v): want >= 0", d)
		}
		c.grace = d
	}
}

// WithBackoff sets the delay before a failed item is delivered again by Serve:
// initial after the first failure, doubling per attempt up to max, each
// randomized by ±50%, as the retry package does (defaults
// retry.DefaultInitial and retry.DefaultMaxInterval). An error with a
// RetryAfter() time.Duration method (retry.After) waits at least that long.
// Read by Serve. A negative initial or a max below initial is bad.
func WithBackoff(initial, max time.Duration) Option {
	return func(c *config) {
		if initial < 0 || max < initial {
			c.bad("WithBackoff(%v, %v): want 0 <= initial <= max", initial, max)
		}
		c.initial, c.maxDelay = initial, max
	}
}

// WithRetryIf sets which handler errors Serve retries (default: all). An error
// it rejects is dead-lettered at once. A panic is always retried while
// attempts are left. Read by Serve. A nil function is bad.
func WithRetryIf(retryable func(err error) bool) Option {
	return func(c *config) {
		if retryable == nil {
			c.bad("WithRetryIf(nil)")
		}
		c.retryIf = retryable
	}
}

func applyOptions(fn string, opts []Option) config {
	c := defaultConfig()
	for _, o := range opts {
		if o == nil {
			panic("jsqueue: nil Option passed to " + fn)
		}
		o(&c)
	}
	return c
}
