package jsqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
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
	// idlePoll bounds one pull request of a Get on an open queue; the
	// stream's closed flag is read again when it expires empty, in case the
	// close notice was missed.
	idlePoll = 5 * time.Second
	// drainPoll bounds one pull request of a Get on a closed queue that
	// still holds items being worked on elsewhere.
	drainPoll = 250 * time.Millisecond
	// maxWakeWait caps the fallback timer of a blocked Put and of Join
	// between acks they may not see (no permission on $JS.ACK, a purge).
	maxWakeWait = 500 * time.Millisecond
	opTimeout   = 5 * time.Second // bounds the round trips made without a caller's ctx
	// errCodeStoreFailed is JetStream's error code for a message the stream
	// did not store; with "maximum messages exceeded" it means discard-new
	// refused it at the bound.
	errCodeStoreFailed jetstream.ErrorCode = 10077
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

// Put enqueues v. While the queue holds its bound, Put waits for room: it
// wakes when an item is done (it listens to the consumer's acks) or, if it
// cannot see them, on a timer that backs off to 500ms; it does not spin.
// Blocked Puts are not served in order: each ack wakes every one of them,
// and whichever publishes first takes the room.
//
// Put returns nil once JetStream has stored v; [ErrClosed] if the queue is
// closed (by any process), before or during the wait; context.Cause(ctx) if
// ctx ends first, and then nothing was enqueued. A publish already sent when
// ctx ends is waited for (up to 5s), so that the result says whether v was
// stored; only when JetStream does not answer at all is that unknown, and the
// error says so. An encoding error is returned as is.
func (q *Queue[T]) Put(ctx context.Context, v T) error {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to Put")
	}
	data, err := q.codec.Encode(v)
	if err != nil {
		return fmt.Errorf("jsqueue: encoding the value: %w", err)
	}
	var w *waker
	defer func() {
		if w != nil {
			w.stop()
		}
	}()
	for {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if q.isClosed() {
			return ErrClosed // closing is for good: no round trip needed
		}
		err := q.publish(data)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrFull):
		case errors.Is(err, jetstream.ErrNoStreamResponse):
			if closed, cerr := q.checkClosed(ctx); cerr != nil {
				if ctx.Err() != nil {
					return context.Cause(ctx)
				}
				return cerr
			} else if closed {
				return ErrClosed
			}
			// No stream answered but it is open: a leader change in a
			// cluster. Wait and try again, like a full queue.
		default:
			return err
		}
		if w == nil {
			// Listen first, then try again: an ack between the failed
			// publish and the subscription would otherwise be missed.
			if w, err = q.newWaker(); err != nil {
				return err
			}
			continue
		}
		if err := w.wait(ctx, q.notify, q.closed, q.markClosed); err != nil {
			return err
		}
	}
}

// TryPut enqueues v if there is room, in one round trip: [ErrFull] if the
// queue holds its bound (nothing was enqueued), [ErrClosed] if it is closed
// (a second round trip tells closed from a stream that did not answer).
func (q *Queue[T]) TryPut(v T) error {
	data, err := q.codec.Encode(v)
	if err != nil {
		return fmt.Errorf("jsqueue: encoding the value: %w", err)
	}
	if q.isClosed() {
		return ErrClosed
	}
	err = q.publish(data)
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if closed, cerr := q.checkClosed(ctx); cerr == nil && closed {
			return ErrClosed
		}
	}
	return err
}

// Get waits for an item and returns its delivery, which the caller must
// settle with [Delivery.Done], [Delivery.Retry] or [Delivery.Fail] within
// the ack wait (or keep alive with [Delivery.Extend]); otherwise it is
// delivered again, to this or another process.
//
// An item whose value does not decode is dead-lettered with the decode error
// and Get goes on waiting. Once the queue is closed (by any process) and holds
// no item, Get returns [ErrClosed]; while items are still being worked on
// elsewhere it keeps waiting, since they may come back.
//
// If ctx ends first Get returns context.Cause(ctx). Its pull request is then
// withdrawn; an item already on its way (a ctx ending at the very instant of
// hand-off) is handed back at once with a nak, which counts as an attempt,
// or, if the connection loses it, delivered again after the ack wait.
func (q *Queue[T]) Get(ctx context.Context) (*Delivery[T], error) {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to Get")
	}
	ds, err := q.getBatch(ctx, 1)
	if err != nil {
		return nil, err
	}
	return ds[0], nil
}

// TryGet returns a delivery if an item is ready, in one round trip, and
// [ErrEmpty] if none is (or [ErrClosed] if the queue is also closed and holds
// nothing).
func (q *Queue[T]) TryGet() (*Delivery[T], error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	for {
		ds, n, err := q.fetchNoWait(ctx, 1)
		if err != nil {
			return nil, err
		}
		if len(ds) > 0 {
			return ds[0], nil
		}
		if n == 0 {
			break
		}
		// The item was dead-lettered: look again.
	}
	if q.isClosed() {
		if empty, err := q.isEmpty(ctx); err == nil && empty {
			return nil, ErrClosed
		}
	}
	return nil, ErrEmpty
}

// GetBatch waits for at least one item, then returns up to max of those
// ready, as Get does for one. With items ready it costs one round trip; on
// an empty queue, one to wait and one to take what else is ready. max below
// 1 is an error naming it.
func (q *Queue[T]) GetBatch(ctx context.Context, max int) ([]*Delivery[T], error) {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to GetBatch")
	}
	if max < 1 {
		return nil, fmt.Errorf("jsqueue: GetBatch max = %d; want >= 1", max)
	}
	return q.getBatch(ctx, max)
}

// All returns an iterator over deliveries, as from Get, until the queue is
// closed and drained or ctx ends (check ctx.Err() to tell which) or Get
// fails. The loop body must settle each delivery. Breaking out of the loop
// takes nothing more.
func (q *Queue[T]) All(ctx context.Context) iter.Seq[*Delivery[T]] {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to All")
	}
	return func(yield func(*Delivery[T]) bool) {
		for {
			d, err := q.Get(ctx)
			if err != nil || !yield(d) {
				return
			}
		}
	}
}

// Join waits until the queue holds no item: every item put, by any process,
// has been done or dead-lettered. It wakes on acks, with a timer backing off
// to 500ms for what it cannot see, and reads the stream's count (one round
// trip) on each wake. If ctx ends first it returns context.Cause(ctx).
func (q *Queue[T]) Join(ctx context.Context) error {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to Join")
	}
	w, err := q.newWaker()
	if err != nil {
		return err
	}
	defer w.stop()
	// On a busy queue acks come all the time: read the count at most every
	// 20ms rather than once per ack.
	w.minGap = 20 * time.Millisecond
	for {
		empty, err := q.isEmpty(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return err
		}
		if empty {
			return nil
		}
		if err := w.wait(ctx, nil, nil, nil); err != nil {
			return err
		}
	}
}

// Close closes the queue for every process that uses it: from now on every
// Put and TryPut, here or elsewhere, returns [ErrClosed] (blocked Puts wake
// with it), while getters drain the items left and then get [ErrClosed].
//
// Close takes the stream's subject away, so that JetStream itself refuses
// puts, marks the stream's metadata (which New reads) and sends a notice
// that wakes blocked callers in every process. It is idempotent. A queue
// cannot be reopened; delete its streams to start over.
func (q *Queue[T]) Close(ctx context.Context) error {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to Close")
	}
	s, err := q.js.Stream(ctx, q.name)
	if err != nil {
		return fmt.Errorf("jsqueue: closing %s: %w", q.name, err)
	}
	cfg := s.CachedInfo().Config
	if cfg.Metadata[metaClosed] == "true" {
		q.markClosed()
		return nil
	}
	md := make(map[string]string, len(cfg.Metadata)+1)
	for k, v := range cfg.Metadata {
		md[k] = v
	}
	md[metaClosed] = "true"
	cfg.Metadata = md
	cfg.Subjects = []string{"jsqueue." + q.name + ".sealed"}
	if _, err := q.js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("jsqueue: closing %s: %w", q.name, err)
	}
	q.markClosed()
	return q.nc.Publish(q.eventSubj, []byte("closed"))
}

// Closed reports whether this handle knows the queue to be closed. It does
// no round trip; a Close elsewhere is learned from its notice or from the
// next Put.
func (q *Queue[T]) Closed() bool { return q.isClosed() }

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

// --- unexported helpers ---

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
// jetstream.ErrNoStreamResponse. It is the request jetstream's Publish makes,
// without its per-call option and context allocations, and without its
// retries on no responders (the callers decide).
func (q *Queue[T]) publish(data []byte) error {
	resp, err := q.nc.Request(q.subject, data, opTimeout)
	if err != nil {
		switch {
		case errors.Is(err, nats.ErrNoResponders):
			return jetstream.ErrNoStreamResponse
		case errors.Is(err, nats.ErrTimeout):
			return fmt.Errorf("jsqueue: put: no answer from JetStream within %v; the item may or may not be stored: %w", opTimeout, err)
		}
		return err
	}
	var ack pubAck
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return fmt.Errorf("jsqueue: put: reading JetStream's answer: %w", err)
	}
	if e := ack.Error; e != nil {
		if e.ErrorCode == errCodeStoreFailed && strings.Contains(e.Description, "maximum messages") {
			return ErrFull
		}
		return fmt.Errorf("jsqueue: put: %w", e)
	}
	if ack.Stream == "" {
		return errors.New("jsqueue: put: JetStream's answer names no stream")
	}
	return nil
}

// pubAck is JetStream's answer to a publish.
type pubAck struct {
	Error  *jetstream.APIError `json:"error,omitempty"`
	Stream string              `json:"stream"`
}

func (q *Queue[T]) markClosed() { q.closeOne.Do(func() { close(q.closed) }) }

func (q *Queue[T]) isClosed() bool {
	select {
	case <-q.closed:
		return true
	case <-q.notify:
		q.markClosed()
		return true
	default:
		return false
	}
}

// checkClosed reads the stream's closed flag.
func (q *Queue[T]) checkClosed(ctx context.Context) (bool, error) {
	if q.isClosed() {
		return true, nil
	}
	s, err := q.js.Stream(ctx, q.name)
	if err != nil {
		return false, fmt.Errorf("jsqueue: reading stream %s: %w", q.name, err)
	}
	if s.CachedInfo().Config.Metadata[metaClosed] == "true" {
		q.markClosed()
		return true, nil
	}
	return false, nil
}

func (q *Queue[T]) isEmpty(ctx context.Context) (bool, error) {
	s, err := q.js.Stream(ctx, q.name)
	if err != nil {
		return false, err
	}
	info := s.CachedInfo()
	if info.Config.Metadata[metaClosed] == "true" {
		q.markClosed()
	}
	return info.State.Msgs == 0, nil
}

func (q *Queue[T]) getBatch(ctx context.Context, max int) ([]*Delivery[T], error) {
	for {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		ds, n, err := q.fetchNoWait(ctx, max)
		if err != nil {
			return nil, err
		}
		if len(ds) > 0 {
			return ds, nil
		}
		if n > 0 {
			continue // every item taken was dead-lettered: look again
		}
		d, err := q.waitOne(ctx)
		if err != nil {
			return nil, err
		}
		if d == nil {
			continue // the pull expired, an item was dead-lettered, or a close notice came
		}
		ds = append(ds, d)
		if max > 1 {
			more, _, err := q.fetchNoWait(ctx, max-1)
			if err == nil {
				ds = append(ds, more...)
			}
		}
		return ds, nil
	}
}

// fetchNoWait takes up to max items ready now, in one round trip, and
// returns their deliveries and how many items it took (dead-lettered ones
// included).
func (q *Queue[T]) fetchNoWait(ctx context.Context, max int) ([]*Delivery[T], int, error) {
	batch, err := q.cons.FetchNoWait(max)
	if err != nil {
		return nil, 0, q.fetchErr(ctx, err)
	}
	var ds []*Delivery[T]
	n := 0
	for m := range batch.Messages() {
		n++
		if d := q.deliver(m); d != nil {
			ds = append(ds, d)
		}
	}
	if err := batch.Error(); err != nil && n == 0 {
		return nil, 0, q.fetchErr(ctx, err)
	}
	return ds, n, nil
}

// waitOne waits for one item with a pull request bounded by idlePoll (or
// drainPoll once closed). It returns nil, nil when the request ended without
// a usable item; ErrClosed when the queue is closed and empty.
func (q *Queue[T]) waitOne(ctx context.Context) (*Delivery[T], error) {
	closing := q.isClosed()
	if closing {
		empty, err := q.isEmpty(ctx)
		if err != nil {
			return nil, q.fetchErr(ctx, err)
		}
		if empty {
			return nil, ErrClosed
		}
	}
	poll := idlePoll
	if closing {
		poll = drainPoll
	}
	fctx, cancel := context.WithTimeout(ctx, poll)
	defer cancel()
	if dl, _ := fctx.Deadline(); time.Until(dl) < time.Millisecond {
		// Too short for a pull request (FetchContext refuses a deadline
		// already passed): wait it out.
		<-fctx.Done()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, nil
	}
	batch, err := q.cons.Fetch(1, jetstream.FetchContext(fctx))
	if err != nil {
		if errors.Is(err, jetstream.ErrInvalidOption) && fctx.Err() == nil {
			// The deadline passed between the check and the call.
			<-fctx.Done()
		}
		return nil, q.fetchErr(ctx, err)
	}
	msgs := batch.Messages()
	var notice <-chan *nats.Msg
	var closed <-chan struct{}
	if !closing {
		notice, closed = q.notify, q.closed
	}
	select {
	case m, ok := <-msgs:
		if ok {
			return q.deliver(m), nil
		}
	case <-notice:
		q.markClosed()
	case <-closed: // another waiter on this handle took the notice
	case <-ctx.Done():
	}
	// Withdraw the pull request and hand back what came meanwhile.
	cancel()
	for m := range msgs {
		_ = m.Nak()
	}
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return nil, q.fetchErr(ctx, err)
	}
	if !closing {
		// The pull expired empty: read the closed flag in case the notice
		// was missed.
		if _, err := q.checkClosed(ctx); err != nil {
			return nil, q.fetchErr(ctx, err)
		}
	}
	return nil, nil
}

func (q *Queue[T]) fetchErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return fmt.Errorf("jsqueue: get from %s: %w", q.name, err)
}

// deliver makes a Delivery of m, or dead-letters m and returns nil if its
// value does not decode or it has used up its attempts.
func (q *Queue[T]) deliver(m jetstream.Msg) *Delivery[T] {
	md, err := m.Metadata()
	if err != nil {
		_ = m.Nak()
		return nil
	}
	d := &Delivery[T]{Attempt: int(md.NumDelivered), msg: m, q: q, seq: md.Sequence.Stream}
	if d.Attempt > q.cfg.maxDeliver {
		_ = d.deadLetter(fmt.Errorf("%w: attempt %d of %d was not settled within the ack wait", ErrAttemptsExhausted, d.Attempt-1, q.cfg.maxDeliver))
		return nil
	}
	v, err := q.codec.Decode(m.Data())
	if err != nil {
		_ = d.deadLetter(&DecodeError{Err: err})
		return nil
	}
	d.Value = v
	return d
}

// waker wakes a blocked Put or Join when a delivery of the queue's consumer
// is acked (it listens to the consumer's ack subjects) and otherwise on a
// timer that backs off from 5ms to maxWakeWait.
type waker struct {
	acks   chan struct{} // a token when acks were seen since the last wait
	subs   []*nats.Subscription
	delay  time.Duration
	minGap time.Duration // least time between two wakes (Join's reads)
	last   time.Time     // the last wake, when minGap > 0
	timer *time.Timer
}

func (q *Queue[T]) newWaker() (*waker, error) {
	w := &waker{acks: make(chan struct{}, 1), delay: 5 * time.Millisecond}
	// A callback that never blocks, so that a burst of acks is folded into
	// one token instead of overflowing a channel subscription.
	signal := func(*nats.Msg) {
		select {
		case w.acks <- struct{}{}:
		default:
		}
	}
	// v1 and v2 ack subject layouts ($JS.ACK.<stream>.<consumer>... and
	// $JS.ACK.<domain>.<account>.<stream>.<consumer>...).
	for _, subj := range []string{
		"$JS.ACK." + q.name + "." + consumerName + ".>",
		"$JS.ACK.*.*." + q.name + "." + consumerName + ".>",
	} {
		sub, err := q.nc.Subscribe(subj, signal)
		if err != nil {
			w.stop()
			return nil, fmt.Errorf("jsqueue: subscribing to acks: %w", err)
		}
		w.subs = append(w.subs, sub)
	}
	return w, nil
}

// wait returns nil on an ack, a close notice (after marking the handle
// closed) or the timer, but not sooner than minGap after the last wake, and
// context.Cause(ctx) when ctx ends. Nil notice and
// closed channels mean that no close notice is awaited.
func (w *waker) wait(ctx context.Context, notice <-chan *nats.Msg, closed <-chan struct{}, markClosed func()) error {
	if w.timer == nil {
		w.timer = time.NewTimer(w.delay)
	} else {
		w.timer.Reset(w.delay)
	}
	w.delay = min(2*w.delay, maxWakeWait)
	select {
	case <-w.acks:
	case <-notice:
		markClosed()
	case <-closed:
	case <-w.timer.C:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	if w.minGap > 0 {
		if gap := w.minGap - time.Since(w.last); gap > 0 {
			if !w.timer.Stop() {
				select {
				case <-w.timer.C:
				default:
				}
			}
			w.timer.Reset(gap)
			select {
			case <-w.timer.C:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		w.last = time.Now()
	}
	return nil
}

func (w *waker) stop() {
	for _, s := range w.subs {
		_ = s.Unsubscribe()
	}
	if w.timer != nil {
		w.timer.Stop()
	}
}
