package jsqueue

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// metaMaxDeliver is the consumer metadata key that records the queue's
// MaxDeliver, so that every process dead-letters after the same attempts.
const metaMaxDeliver = "jsqueue.max_deliver"

// ensureConsumer creates the shared durable consumer, or binds to it: it
// checks the options given against it, lengthens its ack wait if
// [WithAckWait] asks for more, and takes its ack wait and MaxDeliver for
// the handle.
func (q *Queue[T]) ensureConsumer(ctx context.Context) error {
	wrote := false
	for range 5 {
		cons, err := q.js.Consumer(ctx, q.name, consumerName)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			// MaxDeliver stays unlimited on the server: the client
			// dead-letters, so that an item never sits in the stream
			// undeliverable.
			cons, err = q.js.CreateConsumer(ctx, q.name, jetstream.ConsumerConfig{
				Durable:       consumerName,
				AckPolicy:     jetstream.AckExplicitPolicy,
				AckWait:       q.cfg.ackWait,
				MaxDeliver:    -1,
				MaxAckPending: -1,
				Metadata:      map[string]string{metaMaxDeliver: strconv.Itoa(q.cfg.maxDeliver)},
			})
			if errors.Is(err, jetstream.ErrConsumerExists) {
				continue // another process made it meanwhile: read it
			}
		}
		if err != nil {
			return fmt.Errorf("jsqueue: creating consumer of %s: %w", q.name, err)
		}
		cc := cons.CachedInfo().Config
		update, err := q.adoptConsumer(&cc, wrote)
		if err != nil {
			return err
		}
		if !update {
			q.cons = cons
			return nil
		}
		if _, err := q.js.UpdateConsumer(ctx, q.name, cc); err != nil {
			return fmt.Errorf("jsqueue: updating consumer of %s: %w", q.name, err)
		}
		// Read it again: a New elsewhere may have written it meanwhile.
		wrote = true
	}
	return fmt.Errorf("jsqueue: consumer of %s: changed concurrently", q.name)
}

// adoptConsumer checks the options given against the consumer's config cc
// and takes cc's values for the handle. It reports whether cc was changed
// and must be written: to lengthen the ack wait, or to record MaxDeliver on
// a consumer made before it was recorded. Once this handle has written the
// consumer (wrote), a longer ack wait found there was set by a concurrent
// New and is kept.
func (q *Queue[T]) adoptConsumer(cc *jetstream.ConsumerConfig, wrote bool) (bool, error) {
	g, update := q.cfg.given, false
	if s, ok := cc.Metadata[metaMaxDeliver]; ok {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil || n < 1:
			return false, fmt.Errorf("jsqueue: New: the consumer of %s records max deliver %q; want a number >= 1", q.name, s)
		case g&givenMaxDeliver != 0 && n != q.cfg.maxDeliver:
			return false, fmt.Errorf("jsqueue: New: WithMaxDeliver(%d): queue %s has max deliver %d; every process must use the same", q.cfg.maxDeliver, q.name, n)
		}
		q.cfg.maxDeliver = n
	} else {
		md := maps.Clone(cc.Metadata)
		if md == nil {
			md = map[string]string{}
		}
		md[metaMaxDeliver] = strconv.Itoa(q.cfg.maxDeliver)
		cc.Metadata, update = md, true
	}
	switch want := q.cfg.ackWait; {
	case g&givenAckWait == 0 || want == cc.AckWait:
	case want > cc.AckWait:
		cc.AckWait, update = want, true
	case !wrote:
		return false, fmt.Errorf("jsqueue: New: WithAckWait(%v): the consumer of %s has ack wait %v; New does not shorten it (workers elsewhere extend their deliveries on the longer period)", want, q.name, cc.AckWait)
	}
	q.cfg.ackWait = cc.AckWait
	return update, nil
}

// ackWait reads the consumer's ack wait, in one round trip bounded by
// checkTimeout, or returns the one New read if the server does not answer.
func (q *Queue[T]) ackWait(ctx context.Context) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	info, err := q.cons.Info(ctx)
	if err != nil {
		return q.cfg.ackWait
	}
	return info.Config.AckWait
}
