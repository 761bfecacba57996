package jsqueue

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// maxWakeWait caps the fallback timer of a blocked Put and of Join
// between acks they may not see (no permission on $JS.ACK, a purge).
const maxWakeWait = 500 * time.Millisecond

// waker wakes a blocked Put or Join when a delivery of the queue's consumer
// is acked (it listens to the consumer's ack subjects) and otherwise on a
// timer that backs off from 5ms to maxWakeWait.
type waker struct {
	acks   chan struct{} // a token when acks were seen since the last wait
	subs   []*nats.Subscription
	delay  time.Duration
	minGap time.Duration // least time between two wakes (Join's reads)
	last   time.Time     // the last wake, when minGap > 0
	timer  *time.Timer
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
