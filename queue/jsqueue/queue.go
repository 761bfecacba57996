package jsqueue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/observe"
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
	// checkTimeout bounds one read of the queue's state (Join's check of
	// its count, Serve's read of the ack wait): a request lost with a
	// server that restarted is given up and made again, instead of waiting
	// out the caller's ctx.
	checkTimeout = 2 * time.Second
)

// Queue is a bounded, durable, at-least-once work queue shared by every
// process that calls [New] with the same name on the same JetStream. Items
// live in a work-queue stream named name; the dead letters in a stream named
// name+"-dead"; all handles pull from one durable consumer.
//
// The zero value is not usable: call New (or [Dial]). A Queue is safe for
// concurrent use. It holds one core NATS subscription (for the close
// notice, no goroutine) that ends with the connection or with
// [Queue.Disconnect]; a handle made by Dial also owns its connection, which
// Disconnect closes. Make one handle per queue and connection and share it:
// each New adds a subscription.
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
	msgID      func(T) string     // WithMsgID's key, or nil
	cfg        config             // the options, with the queue's actual values once bound
	sub        *nats.Subscription // the close notices'
	ownConn    bool               // Dial made nc: Disconnect closes it
	disconnect sync.Once          // makes Disconnect's work happen once
	name       string
	subject    string // where items are published while the queue is open
	deadStream string
	deadSubj   string
	eventSubj  string // core NATS subject of the close notice

	notify   chan *nats.Msg // close notices (ChanSubscribe)
	closeOne sync.Once
	closed   chan struct{} // closed once this handle knows the queue is closed

	reg *observe.Entry // the handle in the registry of live objects (observe.go)
}

// New creates the queue's streams and durable consumer, or binds to them if
// another process made them.
//
// Options shape the queue when New creates it. On a queue that exists, an
// option given that the queue does not match is an error naming both
// values ([WithCapacity], [WithMaxDeliver], [WithMemoryStorage],
// [WithReplicas]), except [WithAckWait], to which New lengthens the
// consumer's ack wait (it never shortens it). Options not given take the
// queue's values, so a producer made with defaults changes nothing the
// workers set.
//
// New panics if js is nil, if name is not a valid stream name (letters,
// digits, '-' and '_'), on a nil or bad option, or if a [WithCodec] codec or
// a [WithMsgID] key does not take T. It returns an error if JetStream cannot
// be reached or refuses the streams; then it may have created some of them,
// which a later New binds to.
func New[T any](ctx context.Context, js jetstream.JetStream, name string, opts ...Option) (*Queue[T], error) {
	if js == nil {
		panic("jsqueue: nil JetStream passed to New")
	}
	cfg := newConfig(ctx, "New", name, opts)
	if cfg.given&givenConnect != 0 {
		panic("jsqueue: New: WithConnectOptions is read by Dial; New gets a connection made")
	}
	return newQueue[T](ctx, "New", js, name, cfg)
}

// Name returns the queue's name, which is also its stream's name.
func (q *Queue[T]) Name() string { return q.name }

// newQueue is New after its checks of ctx, js and name; fn ("New" or
// "Dial") names the caller in its panics.
func newQueue[T any](ctx context.Context, fn string, js jetstream.JetStream, name string, cfg config) (*Queue[T], error) {
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
	q.codec, q.msgID = typed[T](fn, cfg)
	// Subscribe before reading the closed flag, so that a Close between the
	// two is seen one way or the other.
	sub, err := q.nc.ChanSubscribe(q.eventSubj, q.notify)
	if err != nil {
		return nil, fmt.Errorf("jsqueue: subscribing to close notices: %w", err)
	}
	q.sub = sub
	if err := q.bind(ctx); err != nil {
		_ = sub.Unsubscribe()
		return nil, err
	}
	q.register(ctx)
	return q, nil
}

// newConfig checks the arguments New and Dial share and applies the
// options, panicking, with fn's name, on a nil ctx, a bad name or a bad
// option.
func newConfig(ctx context.Context, fn, name string, opts []Option) config {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to " + fn)
	}
	if !validName(name) {
		panic(fmt.Sprintf("jsqueue: %s: name %q: want letters, digits, '-' or '_'", fn, name))
	}
	cfg := applyOptions(fn, opts)
	if cfg.badOption != "" {
		panic("jsqueue: " + fn + ": " + cfg.badOption)
	}
	return cfg
}

// typed returns the codec and the WithMsgID key of cfg as T's, and panics,
// naming fn, if either is of another type.
func typed[T any](fn string, cfg config) (Codec[T], func(T) string) {
	var codec Codec[T] = JSON[T]{}
	if cfg.codec != nil {
		c, ok := cfg.codec.(Codec[T])
		if !ok {
			panic(fmt.Sprintf("jsqueue: %s: WithCodec got a %T; want a Codec[%T]", fn, cfg.codec, *new(T)))
		}
		codec = c
	}
	var key func(T) string
	if cfg.msgID != nil {
		k, ok := cfg.msgID.(func(T) string)
		if !ok {
			panic(fmt.Sprintf("jsqueue: %s: WithMsgID got a %T; want a func(%T) string", fn, cfg.msgID, *new(T)))
		}
		key = k
	}
	return codec, key
}

// bind creates or reads the streams and the consumer, checks the options
// given against them, and records the queue's actual values in q.cfg.
func (q *Queue[T]) bind(ctx context.Context) error {
	storage := jetstream.FileStorage
	if q.cfg.memory {
		storage = jetstream.MemoryStorage
	}
	info, created, err := q.ensureStream(ctx, jetstream.StreamConfig{
		Name:      q.name,
		Subjects:  []string{q.subject},
		Retention: jetstream.WorkQueuePolicy,
		MaxMsgs:   int64(q.cfg.capacity),
		Discard:   jetstream.DiscardNew,
		Storage:   storage,
		Replicas:  q.cfg.replicas,
	})
	if err != nil {
		return err
	}
	if !created {
		if err := q.adoptStream(info.Config); err != nil {
			return err
		}
		storage = info.Config.Storage
	}
	if info.Config.Metadata[metaClosed] == "true" {
		q.markClosed()
	}
	if _, _, err := q.ensureStream(ctx, jetstream.StreamConfig{
		Name:      q.deadStream,
		Subjects:  []string{q.deadSubj},
		Retention: jetstream.LimitsPolicy,
		Storage:   storage,
		Replicas:  q.cfg.replicas,
	}); err != nil {
		return err
	}
	return q.ensureConsumer(ctx)
}

// adoptStream checks the options given against an existing stream's
// config, and takes the stream's values for those not given.
func (q *Queue[T]) adoptStream(sc jetstream.StreamConfig) error {
	memory := sc.Storage == jetstream.MemoryStorage
	switch g := q.cfg.given; {
	case g&givenCapacity != 0 && int64(q.cfg.capacity) != sc.MaxMsgs:
		return fmt.Errorf("jsqueue: New: WithCapacity(%d): queue %s exists with bound %d; the bound is set when the queue is made", q.cfg.capacity, q.name, sc.MaxMsgs)
	case g&givenMemory != 0 && !memory:
		return fmt.Errorf("jsqueue: New: WithMemoryStorage: queue %s exists on file storage", q.name)
	case g&givenReplicas != 0 && q.cfg.replicas != sc.Replicas:
		return fmt.Errorf("jsqueue: New: WithReplicas(%d): queue %s exists with %d replicas", q.cfg.replicas, q.name, sc.Replicas)
	}
	q.cfg.capacity, q.cfg.memory, q.cfg.replicas = int(sc.MaxMsgs), memory, sc.Replicas
	return nil
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
// name (whatever its config: the first creator's options win), and whether
// it created it.
func (q *Queue[T]) ensureStream(ctx context.Context, cfg jetstream.StreamConfig) (*jetstream.StreamInfo, bool, error) {
	for range 3 {
		s, err := q.js.Stream(ctx, cfg.Name)
		if err == nil {
			return s.CachedInfo(), false, nil
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, false, fmt.Errorf("jsqueue: reading stream %s: %w", cfg.Name, err)
		}
		s, err = q.js.CreateStream(ctx, cfg)
		if err == nil {
			return s.CachedInfo(), true, nil
		}
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil, false, fmt.Errorf("jsqueue: creating stream %s: %w", cfg.Name, err)
		}
		// Another process created it between the two calls: read it.
	}
	return nil, false, fmt.Errorf("jsqueue: stream %s: created and deleted concurrently", cfg.Name)
}

// publish stores data in one round trip bounded by opTimeout, detached from
// any caller's ctx so that its result is known. It maps the bound to ErrFull
// and a missing stream (a closed queue, or a leader change in a cluster) to

// fatal reports whether err from a request means that trying again cannot
// help: the connection is closed for good, or the stream or consumer was
// deleted. Other errors (a timeout, no responders while a server restarts)
// are worth a retry.
func fatal(err error) bool {
	return errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, jetstream.ErrStreamNotFound) ||
		errors.Is(err, jetstream.ErrConsumerNotFound)
}
