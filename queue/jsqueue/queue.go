package jsqueue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/queue"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The in-process queue's sentinels, reused so that one errors.Is check
// serves both packages.
var (
	// ErrClosed is returned by Put and TryPut once any process has closed the
	// queue, and by Get, GetBatch and Serve's workers once the closed queue
	// holds no item.
	ErrClosed = queue.ErrClosed
	// ErrFull is returned by TryPut when the queue holds its bound.
	ErrFull = queue.ErrFull
	// ErrEmpty is returned by TryGet when no item is ready.
	ErrEmpty = queue.ErrEmpty
)

// ErrNilFunc is wrapped by the error of Serve called with a nil handler.
var ErrNilFunc = errors.New("jsqueue: nil function")

// PanicError reports a panic recovered from a Serve handler. It is the type
// every package of this module uses, so errors.As(err, new(*PanicError))
// matches it whichever package's name is used.
type PanicError = safe.PanicError

const (
	consumerName = "workers"
	metaClosed   = "jsqueue.closed" // stream metadata key set by Close
	opTimeout    = 5 * time.Second  // bounds the round trips made without a caller's ctx
)

// Queue is a bounded, durable, at-least-once work queue shared by every
// process that calls [New] with the same name on the same JetStream. Items
// live in a work-queue stream named name; the dead letters in a stream named
// name+"-dead"; all handles pull from one durable consumer.
//
// The zero value is not usable: call New. A Queue is safe for concurrent use.
// It holds one core NATS subscription (for the close notice, no goroutine)
// that ends with the connection; there is nothing else to release. Make one
// handle per queue and connection and share it: each New adds a
// subscription.
//
// An item stored an instant ago may not be ready for a getter yet
// (JetStream tells its consumer of new messages asynchronously): a Get or
// GetBatch waiting for it gets it a moment later, while TryGet may report
// [ErrEmpty].
type Queue[T any] struct {
	js         jetstream.JetStream
	nc         *nats.Conn
	cons       jetstream.Consumer
	codec      Codec[T]
	cfg        config
	name       string
	subject    string // where items are published while the queue is open
	deadStream string
	deadSubj   string
	eventSubj  string // core NATS subject of the close notice

	notify   chan *nats.Msg // close notices (ChanSubscribe)
	closeOne sync.Once
	closed   chan struct{} // closed once this handle knows the queue is closed
}

// New creates the queue's streams and durable consumer, or binds to them if
// another process made them. Options that shape the streams (capacity,
// storage, replicas) apply only when New creates them; the ack wait is set
// on the shared consumer.
//
// New panics if js is nil, if name is not a valid stream name (letters,
// digits, '-' and '_'), on a nil or bad option, or if a [WithCodec] codec is
// not a Codec[T]. It returns an error if JetStream cannot be reached or
// refuses the streams; then it may have created some of them, which a later
// New binds to.
func New[T any](ctx context.Context, js jetstream.JetStream, name string, opts ...Option) (*Queue[T], error) {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to New")
	}
	if js == nil {
		panic("jsqueue: nil JetStream passed to New")
	}
	if !validName(name) {
		panic(fmt.Sprintf("jsqueue: New: name %q: want letters, digits, '-' or '_'", name))
	}
	cfg := applyOptions("New", opts)
	if cfg.badOption != "" {
		panic("jsqueue: New: " + cfg.badOption)
	}
	q := &Queue[T]{
		js:         js,
		nc:         js.Conn(),
		cfg:        cfg,
		name:       name,
		subject:    "jsqueue." + name + ".items",
		deadStream: name + "-dead",
		deadSubj:   "jsqueue." + name + ".dead",
		eventSubj:  "jsqueue." + name + ".events",
		notify:     make(chan *nats.Msg, 16),
		closed:     make(chan struct{}),
	}
	q.codec = JSON[T]{}
	if cfg.codec != nil {
		c, ok := cfg.codec.(Codec[T])
		if !ok {
			panic(fmt.Sprintf("jsqueue: New: WithCodec got a %T; want a Codec[%T]", cfg.codec, *new(T)))
		}
		q.codec = c
	}
	// Subscribe before reading the closed flag, so that a Close between the
	// two is seen one way or the other.
	if _, err := q.nc.ChanSubscribe(q.eventSubj, q.notify); err != nil {
		return nil, fmt.Errorf("jsqueue: subscribing to close notices: %w", err)
	}
	storage := jetstream.FileStorage
	if cfg.memory {
		storage = jetstream.MemoryStorage
	}
	info, err := q.ensureStream(ctx, jetstream.StreamConfig{
		Name:      name,
		Subjects:  []string{q.subject},
		Retention: jetstream.WorkQueuePolicy,
		MaxMsgs:   int64(cfg.capacity),
		Discard:   jetstream.DiscardNew,
		Storage:   storage,
		Replicas:  cfg.replicas,
	})
	if err != nil {
		return nil, err
	}
	if info.Config.Metadata[metaClosed] == "true" {
		q.markClosed()
	}
	if _, err := q.ensureStream(ctx, jetstream.StreamConfig{
		Name:      q.deadStream,
		Subjects:  []string{q.deadSubj},
		Retention: jetstream.LimitsPolicy,
		Storage:   storage,
		Replicas:  cfg.replicas,
	}); err != nil {
		return nil, err
	}
	// MaxDeliver stays unlimited on the server: the client dead-letters, so
	// that an item never sits in the stream undeliverable.
	q.cons, err = js.CreateOrUpdateConsumer(ctx, name, jetstream.ConsumerConfig{
		Durable:       consumerName,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.ackWait,
		MaxDeliver:    -1,
		MaxAckPending: -1,
		Replicas:      0,
	})
	if err != nil {
		return nil, fmt.Errorf("jsqueue: creating consumer of %s: %w", name, err)
	}
	return q, nil
}

// Name returns the queue's name, which is also its stream's name.
func (q *Queue[T]) Name() string { return q.name }

// Len returns the number of items the queue holds (waiting or being worked
// on), in one round trip.
func (q *Queue[T]) Len(ctx context.Context) (int, error) {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to Len")
	}
	s, err := q.js.Stream(ctx, q.name)
	if err != nil {
		return 0, err
	}
	return int(s.CachedInfo().State.Msgs), nil
}

// Cap returns the queue's bound as the stream holds it, in one round trip.
func (q *Queue[T]) Cap(ctx context.Context) (int, error) {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to Cap")
	}
	s, err := q.js.Stream(ctx, q.name)
	if err != nil {
		return 0, err
	}
	return int(s.CachedInfo().Config.MaxMsgs), nil
}

func validName(name string) bool {
	if name == "" || len(name) > 200 {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

// ensureStream creates the stream, or returns the one that exists under its
// name (whatever its config: the first creator's options win).
func (q *Queue[T]) ensureStream(ctx context.Context, cfg jetstream.StreamConfig) (*jetstream.StreamInfo, error) {
	for range 3 {
		s, err := q.js.Stream(ctx, cfg.Name)
		if err == nil {
			return s.CachedInfo(), nil
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("jsqueue: reading stream %s: %w", cfg.Name, err)
		}
		s, err = q.js.CreateStream(ctx, cfg)
		if err == nil {
			return s.CachedInfo(), nil
		}
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil, fmt.Errorf("jsqueue: creating stream %s: %w", cfg.Name, err)
		}
		// Another process created it between the two calls: read it.
	}
	return nil, fmt.Errorf("jsqueue: stream %s: created and deleted concurrently", cfg.Name)
}

// publish stores data in one round trip bounded by opTimeout, detached from
// any caller's ctx so that its result is known. It maps the bound to ErrFull
// and a missing stream (a closed queue, or a leader change in a cluster) to
