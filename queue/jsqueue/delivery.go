package jsqueue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/async-patterns/async/observe"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrAttemptsExhausted is matched by the error of a dead letter whose item
// was delivered more times than [WithMaxDeliver] allows without being
// settled: its last holder crashed or hung past the ack wait, so its own
// error is unknown.
var ErrAttemptsExhausted = errors.New("jsqueue: attempts exhausted")

// errRetried is the error recorded for an item dead-lettered by a plain
// Retry on its last attempt.
var errRetried = errors.New("jsqueue: Retry called on the last attempt")

// DecodeError is the error recorded for an item whose value the codec could
// not decode. Such an item is dead-lettered at once: retrying would not help.
type DecodeError struct{ Err error }

// Error returns "jsqueue: decoding the value: " and the codec's error.
func (e *DecodeError) Error() string { return "jsqueue: decoding the value: " + e.Err.Error() }

// Unwrap returns the codec's error.
func (e *DecodeError) Unwrap() error { return e.Err }

// Delivery is one delivery of an item: its value, which attempt this is, and
// the methods that settle it. Exactly one of Done, Retry, Fail or DeadLetter
// should be called, within the ack wait (Extend restarts it); a delivery
// left unsettled is delivered again after the ack wait, and a second settle
// is ignored by the server.
//
// A Delivery is safe for concurrent use. Done, Retry, Fail (when attempts
// are left) and Extend send one message and do not wait for an answer;
// DeadLetter, and Fail on the last attempt, make two round trips.
type Delivery[T any] struct {
	Value   T   // the decoded value
	Attempt int // 1 on first delivery, then one more each time it is delivered again

	msg jetstream.Msg
	q   *Queue[T]
	seq uint64    // stream sequence of the item
	at  time.Time // when it was delivered, while an observer is set (observe.go)
}

// Done marks the item done (acks it): JetStream removes it from the queue,
// which makes room for a Put and counts toward Join. If the ack is lost (the
// connection drops), the item is delivered again after the ack wait: at
// least once, not exactly once.
func (d *Delivery[T]) Done() error {
	err := d.msg.Ack()
	d.settled(observe.JobDone, err, nil, 0)
	return err
}

// Retry hands the item back to be delivered again after delay (0: at once),
// to any process. On the last attempt allowed by [WithMaxDeliver] it
// dead-letters the item instead; use Fail to record why.
func (d *Delivery[T]) Retry(delay time.Duration) error { return d.Fail(errRetried, delay) }

// Fail is Retry with the reason: if this was the last attempt, the item goes
// to the dead-letter stream with err as its last error; otherwise it is
// delivered again after delay and err is forgotten.
func (d *Delivery[T]) Fail(err error, delay time.Duration) error {
	if d.Attempt >= d.q.cfg.maxDeliver {
		return d.DeadLetter(err)
	}
	nerr := d.msg.NakWithDelay(max(delay, 0))
	if err == errRetried {
		err = nil // a plain Retry gives no reason
	}
	d.settled(observe.JobRetry, nerr, err, max(delay, 0))
	return nerr
}

// DeadLetter moves the item to the dead-letter stream now, with err as its
// error and the attempts made so far, and removes it from the queue. The
// dead letter is written first and the item acked second, so a crash in
// between leaves the item in the queue, never lost; its dead letter carries
// a message id, so a second write within two minutes is not stored twice.
func (d *Delivery[T]) DeadLetter(err error) error {
	if err == nil {
		err = errors.New("jsqueue: dead-lettered with a nil error")
	}
	return d.deadLetter(err)
}

// Extend tells JetStream the item is still being worked on, restarting its
// ack wait. Serve calls it for its handlers.
func (d *Delivery[T]) Extend() error { return d.msg.InProgress() }

// Seq returns the item's sequence number in the queue's stream, the same on
// every delivery of the item.
func (d *Delivery[T]) Seq() uint64 { return d.seq }

// Dead-letter headers.
const (
	hdrError    = "Jsqueue-Error"
	hdrAttempts = "Jsqueue-Attempts"
	hdrSeq      = "Jsqueue-Seq"
	maxErrLen   = 16 << 10
)

func (d *Delivery[T]) deadLetter(cause error) (err error) {
	defer func() { d.settled(observe.JobDeadLetter, err, cause, 0) }()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	msg := nats.NewMsg(d.q.deadSubj)
	msg.Data = d.msg.Data()
	text := cause.Error()
	if len(text) > maxErrLen {
		text = text[:maxErrLen] + "..."
	}
	msg.Header.Set(hdrError, strconv.Quote(text)) // one line, whatever the error holds
	msg.Header.Set(hdrAttempts, strconv.Itoa(d.Attempt))
	msg.Header.Set(hdrSeq, strconv.FormatUint(d.seq, 10))
	id := d.q.name + "/" + strconv.FormatUint(d.seq, 10)
	if _, err := d.q.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id)); err != nil {
		// Not acked: the item stays in the queue and comes back.
		return fmt.Errorf("jsqueue: writing the dead letter of item %d: %w", d.seq, err)
	}
	if err := d.msg.DoubleAck(ctx); err != nil {
		return fmt.Errorf("jsqueue: removing dead-lettered item %d: %w", d.seq, err)
	}
	return nil
}

// DeadLetter is an item that ran out of attempts, could not be decoded, or
// was dead-lettered by hand, as stored in the queue's dead-letter stream.
type DeadLetter struct {
	Seq      uint64    // sequence in the dead-letter stream (for RemoveDeadLetter)
	ItemSeq  uint64    // the item's sequence in the queue's stream
	Data     []byte    // the item's body, as put (decode it with the codec)
	Err      string    // the last error's text
	Attempts int       // deliveries made before it was dead-lettered
	Time     time.Time // when it was dead-lettered
}

// DeadLetters returns the dead letters held, oldest first, reading the
// dead-letter stream one message per round trip.
func (q *Queue[T]) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to DeadLetters")
	}
	s, err := q.js.Stream(ctx, q.deadStream)
	if err != nil {
		return nil, fmt.Errorf("jsqueue: reading %s: %w", q.deadStream, err)
	}
	st := s.CachedInfo().State
	var out []DeadLetter
	if st.Msgs == 0 {
		return out, nil
	}
	for seq := st.FirstSeq; seq <= st.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // removed
		}
		if err != nil {
			return out, fmt.Errorf("jsqueue: reading dead letter %d: %w", seq, err)
		}
		dl := DeadLetter{Seq: m.Sequence, Data: m.Data, Time: m.Time}
		dl.Err, err = strconv.Unquote(m.Header.Get(hdrError))
		if err != nil {
			dl.Err = m.Header.Get(hdrError)
		}
		dl.Attempts, _ = strconv.Atoi(m.Header.Get(hdrAttempts))
		dl.ItemSeq, _ = strconv.ParseUint(m.Header.Get(hdrSeq), 10, 64)
		out = append(out, dl)
	}
	return out, nil
}

// RemoveDeadLetter deletes the dead letter with sequence seq (see
// [DeadLetter.Seq]), for example after putting its value back.
func (q *Queue[T]) RemoveDeadLetter(ctx context.Context, seq uint64) error {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to RemoveDeadLetter")
	}
	s, err := q.js.Stream(ctx, q.deadStream)
	if err != nil {
		return fmt.Errorf("jsqueue: reading %s: %w", q.deadStream, err)
	}
	return s.DeleteMsg(ctx, seq)
}
