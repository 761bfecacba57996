package jsqueue

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	// idlePoll bounds one pull request of a Get on an open queue; the
	// stream's closed flag is read again when it expires empty, in case the
	// close notice was missed.
	idlePoll = 5 * time.Second
	// drainPoll bounds one pull request of a Get on a closed queue that
	// still holds items being worked on elsewhere.
	drainPoll = 250 * time.Millisecond
)

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
// Get costs one round trip: a pull request that the server answers as soon
// as an item is ready, at once if one is.
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
// ready, as Get does for one. With items ready it costs one round trip and
// returns up to max of them; on an empty queue, one more to wait, and it
// returns the item that ended the wait (the next call takes what came
// after it). max below 1 is an error naming it.
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

// getBatch waits for at least one item and returns up to max of those
// ready. Get (max 1) makes one waiting pull, which the server answers at
// once when an item is ready: one round trip, as a raw JetStream client.
// GetBatch first takes what is ready with a no-wait fetch, and only when
// nothing is waits with a pull for the next item, which it returns alone
// rather than spend a third round trip on what else came meanwhile (the
// next call takes that).
func (q *Queue[T]) getBatch(ctx context.Context, max int) ([]*Delivery[T], error) {
	for {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if max > 1 {
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
		}
		d, err := q.waitOne(ctx)
		if err != nil {
			return nil, err
		}
		if d == nil {
			continue // the pull expired, an item was dead-lettered, or a close notice came
		}
		return []*Delivery[T]{d}, nil
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
	v, err := q.decode(m.Data())
	if err != nil {
		_ = d.deadLetter(&DecodeError{Err: err})
		return nil
	}
	d.Value = v
	d.delivered()
	return d
}
