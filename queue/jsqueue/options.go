package jsqueue

import (
	"fmt"
	"reflect"
	"time"

	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/retry"
	"github.com/nats-io/nats.go"
)

// Defaults of a queue made without options and of Serve.
const (
	DefaultCapacity   = 1024             // items not yet done that the stream holds
	DefaultAckWait    = 30 * time.Second // a delivery not done within it is delivered again
	DefaultMaxDeliver = 5                // attempts before an item is dead-lettered
	DefaultGrace      = 10 * time.Second // Serve: how long running handlers may finish after ctx ends
)

// Option configures [New] (and [Dial]) or [Serve]. Each option says which of
// the two reads it. No option is ignored silently, so one []Option may be
// shared by both:
//   - An option of Serve ([WithGrace], [WithBackoff], [WithRetryIf]) given to
//     New becomes the default of every Serve on that handle.
//   - An option of New that shapes the queue ([WithCapacity], [WithAckWait],
//     [WithMaxDeliver], [WithMemoryStorage], [WithReplicas], [WithCodec])
//     given to Serve must agree with the queue as the handle knows it;
//     otherwise Serve returns an error naming the conflict and starts nothing.
//     [WithMsgID] and [WithConnectOptions] given to Serve need a handle made
//     with them.
//
// A bad value (a capacity below 1, a negative duration, a nil codec) makes
// New panic with a message starting with "jsqueue:", and makes Serve return
// an error naming the option, before anything starts.
type Option func(*config)

// given records which options shaping the queue were passed, so that New
// changes or checks only those, and Serve checks them against the queue.
type given uint8

const (
	givenCapacity given = 1 << iota
	givenAckWait
	givenMaxDeliver
	givenMemory
	givenReplicas
	givenCodec
	givenMsgID
	givenConnect
)

type config struct {
	capacity   int
	ackWait    time.Duration
	maxDeliver int
	memory     bool
	replicas   int
	codec      any // a Codec[T], checked against T by New
	msgID      any // a func(T) string, checked against T by New
	connOpts   []nats.Option
	given      given

	grace     time.Duration
	initial   time.Duration
	maxDelay  time.Duration
	retryIf   func(error) bool
	budget    *retry.Budget    // Serve's redeliveries spend from it (budget.go)
	obs       observe.Observer // observe.go
	badOption string           // the first bad option, reported by New (panic) or Serve (error)
}

// defaultAckWait is DefaultAckWait, except in tests that cannot wait it.
var defaultAckWait = DefaultAckWait

func defaultConfig() config {
	return config{
		capacity:   DefaultCapacity,
		ackWait:    defaultAckWait,
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
// Read by New when it creates the stream; New on a queue that exists with
// another bound returns an error naming both (the bound is the queue's, not
// a handle's). n below 1 is bad.
func WithCapacity(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.bad("WithCapacity(%d): want >= 1", n)
		}
		c.capacity = n
		c.given |= givenCapacity
	}
}

// WithAckWait sets how long a delivery may go without Done, Retry or Extend
// before JetStream delivers it again (default [DefaultAckWait]). Read by New,
// which sets it on the shared durable consumer when it creates it, and
// lengthens the consumer's ack wait to d if it is shorter. New never
// shortens it (workers elsewhere extend their deliveries on the longer
// period): a d shorter than the consumer's is an error naming both. New
// without this option leaves the consumer as it is. d below 1ms is bad.
func WithAckWait(d time.Duration) Option {
	return func(c *config) {
		if d < time.Millisecond {
			c.bad("WithAckWait(%v): want >= 1ms", d)
		}
		c.ackWait = d
		c.given |= givenAckWait
	}
}

// WithMaxDeliver sets how many attempts an item gets (default
// [DefaultMaxDeliver]): when the n-th attempt fails (Retry on it, or Serve's
// handler fails), or a delivery beyond the n-th arrives because the n-th was
// never finished, the item goes to the dead-letter stream. Read by New, which
// records it on the shared consumer when it creates it; every process must
// agree: New with another n than the queue's is an error naming both, and
// New without this option uses the queue's. n below 1 is bad.
func WithMaxDeliver(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.bad("WithMaxDeliver(%d): want >= 1", n)
		}
		c.maxDeliver = n
		c.given |= givenMaxDeliver
	}
}

// WithCodec sets how values are encoded in messages (default [JSON]). Read by
// New, which panics if c is nil or is not a Codec of the queue's type. The
// codec is the handle's: processes must agree on it themselves.
func WithCodec[T any](c Codec[T]) Option {
	return func(cfg *config) {
		if c == nil {
			cfg.bad("WithCodec(nil)")
		}
		cfg.codec = c
		cfg.given |= givenCodec
	}
}

// WithMemoryStorage keeps the streams in memory instead of on disk: faster,
// but a server restart loses every item. Read by New when it creates the
// streams; New on a queue stored on disk returns an error saying so.
func WithMemoryStorage() Option {
	return func(c *config) {
		c.memory = true
		c.given |= givenMemory
	}
}

// WithReplicas sets how many servers of a cluster hold each stream (default
// 1). Read by New when it creates the streams; New on a queue with another
// count returns an error naming both. n below 1 or above 5 is bad.
func WithReplicas(n int) Option {
	return func(c *config) {
		if n < 1 || n > 5 {
			c.bad("WithReplicas(%d): want 1..5", n)
		}
		c.replicas = n
		c.given |= givenReplicas
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

// WithMsgID gives every item put a message id, key(v), which JetStream
// uses to store an item once: a Put or TryPut of a value whose id was stored
// within the stream's duplicate window (two minutes) returns nil and stores
// nothing, whether the first item is still queued or already done. So a Put
// retried after a lost answer, or by a caller that is not sure it put,
// stores the item once. An empty id puts the item without one. With an id,
// a Put whose answer is lost tries again by itself (until ctx ends), since
// the retry cannot store it twice. Read by New, which panics if key is nil
// or does not take the queue's type.
func WithMsgID[T any](key func(v T) string) Option {
	return func(c *config) {
		if key == nil {
			c.bad("WithMsgID(nil)")
		}
		c.msgID = key
		c.given |= givenMsgID
	}
}

// WithConnectOptions adds options to the connection [Dial] makes (after its
// own: a name and reconnecting forever), for credentials, TLS and the like.
// Read by Dial; New, which gets a connection made, panics on it.
func WithConnectOptions(opts ...nats.Option) Option {
	return func(c *config) {
		c.connOpts = append(c.connOpts, opts...)
		c.given |= givenConnect
	}
}

func applyOptions(fn string, opts []Option) config {
	return applyOptionsTo(defaultConfig(), fn, opts)
}

// applyOptionsTo applies opts over c (Serve starts from its queue's config).
func applyOptionsTo(c config, fn string, opts []Option) config {
	c.given, c.badOption = 0, ""
	for _, o := range opts {
		if o == nil {
			panic("jsqueue: nil Option passed to " + fn)
		}
		o(&c)
	}
	return c
}

// checkServeOptions returns an error naming the first option of New given
// to Serve that does not agree with the queue.
func (q *Queue[T]) checkServeOptions(cfg config) error {
	var conflict string
	switch g, qc := cfg.given, q.cfg; {
	case g&givenCapacity != 0 && cfg.capacity != qc.capacity:
		conflict = fmt.Sprintf("WithCapacity(%d): the queue's bound is %d", cfg.capacity, qc.capacity)
	case g&givenAckWait != 0 && cfg.ackWait != qc.ackWait:
		conflict = fmt.Sprintf("WithAckWait(%v): the consumer's ack wait is %v", cfg.ackWait, qc.ackWait)
	case g&givenMaxDeliver != 0 && cfg.maxDeliver != qc.maxDeliver:
		conflict = fmt.Sprintf("WithMaxDeliver(%d): the queue's max deliver is %d", cfg.maxDeliver, qc.maxDeliver)
	case g&givenMemory != 0 && !qc.memory:
		conflict = "WithMemoryStorage: the queue is on file storage"
	case g&givenReplicas != 0 && cfg.replicas != qc.replicas:
		conflict = fmt.Sprintf("WithReplicas(%d): the queue has %d", cfg.replicas, qc.replicas)
	case g&givenCodec != 0 && reflect.TypeOf(cfg.codec) != reflect.TypeOf(q.codec):
		conflict = fmt.Sprintf("WithCodec(%T): the queue's codec is a %T", cfg.codec, q.codec)
	case g&givenMsgID != 0 && q.msgID == nil:
		conflict = "WithMsgID: the handle was made without one"
	case g&givenConnect != 0 && !q.ownConn:
		conflict = "WithConnectOptions: the handle was not made by Dial"
	default:
		return nil
	}
	return fmt.Errorf("jsqueue: Serve: %s; options that shape the queue are New's", conflict)
}
