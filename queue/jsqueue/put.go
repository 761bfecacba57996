package jsqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errCodeStoreFailed is JetStream's error code for a message the stream
// did not store; with "maximum messages exceeded" it means discard-new
// refused it at the bound.
const errCodeStoreFailed jetstream.ErrorCode = 10077

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
// error says so; with [WithMsgID], Put publishes again instead, since
// JetStream stores the id once. An encoding error (or a panic of the codec
// or of WithMsgID's key, as a *[PanicError]) is returned wrapped, and
// nothing is enqueued.
func (q *Queue[T]) Put(ctx context.Context, v T) (err error) {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to Put")
	}
	defer func() { q.putEnded(ctx, err) }()
	data, id, err := q.encode(v)
	if err != nil {
		return err
	}
	hdr := q.header(ctx, id)
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
		err := q.publish(data, hdr)
		switch {
		case err == nil:
			return nil
		case id != "" && errors.Is(err, nats.ErrTimeout):
			continue // the answer was lost: the id makes publishing again safe
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
func (q *Queue[T]) TryPut(v T) (err error) {
	defer func() { q.putEnded(context.Background(), err) }()
	data, id, err := q.encode(v)
	if err != nil {
		return err
	}
	if q.isClosed() {
		return ErrClosed
	}
	err = q.publish(data, q.header(context.Background(), id))
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if closed, cerr := q.checkClosed(ctx); cerr == nil && closed {
			return ErrClosed
		}
	}
	return err
}

// publish stores data in one round trip bounded by opTimeout, detached from
// any caller's ctx so that its result is known. It maps the bound to ErrFull
// and a missing stream (a closed queue, or a leader change in a cluster) to
// jetstream.ErrNoStreamResponse. It is the request jetstream's Publish makes,
// without its per-call option and context allocations, and without its
// retries on no responders (the callers decide). hdr, when not nil, goes
// with the message (see header).
func (q *Queue[T]) publish(data []byte, hdr nats.Header) error {
	var resp *nats.Msg
	var err error
	if hdr == nil {
		resp, err = q.nc.Request(q.subject, data, opTimeout)
	} else {
		msg := &nats.Msg{Subject: q.subject, Data: data, Header: hdr}
		resp, err = q.nc.RequestMsg(msg, opTimeout)
	}
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
