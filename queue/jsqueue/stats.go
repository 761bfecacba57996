package jsqueue

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// Len returns the number of items the queue holds (ready, or delivered and
// not yet done or dead-lettered), in one round trip. [Queue.Stats] splits
// it.
func (q *Queue[T]) Len(ctx context.Context) (int, error) {
	info, err := q.streamInfo(ctx, "Len")
	if err != nil {
		return 0, err
	}
	return int(info.State.Msgs), nil
}

// Cap returns the queue's bound as the stream holds it, in one round trip.
func (q *Queue[T]) Cap(ctx context.Context) (int, error) {
	info, err := q.streamInfo(ctx, "Cap")
	if err != nil {
		return 0, err
	}
	return int(info.Config.MaxMsgs), nil
}

// Stats is what the queue's consumer counts, at one instant.
type Stats struct {
	// Ready is the number of items never delivered yet, waiting for a
	// getter.
	Ready int
	// InFlight is the number of items delivered and not yet done or
	// dead-lettered: held by a getter or a Serve handler, or handed back
	// (Retry, a lapsed ack wait) and waiting for their next delivery.
	InFlight int
}

// Stats returns the queue's counts of ready and in-flight items, in one
// round trip (the consumer's info). Their sum is what [Queue.Len] reports,
// give or take what moved between the two reads.
func (q *Queue[T]) Stats(ctx context.Context) (Stats, error) {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to Stats")
	}
	info, err := q.cons.Info(ctx)
	if err != nil {
		return Stats{}, err
	}
	return Stats{Ready: int(info.NumPending), InFlight: info.NumAckPending}, nil
}

// streamInfo reads the queue's stream, in one round trip, for fn.
func (q *Queue[T]) streamInfo(ctx context.Context, fn string) (*jetstream.StreamInfo, error) {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to " + fn)
	}
	s, err := q.js.Stream(ctx, q.name)
	if err != nil {
		return nil, err
	}
	return s.CachedInfo(), nil
}
