package jsqueue

import (
	"context"
	"time"
)

// Join waits until the queue holds no item: every item put, by any process,
// has been done or dead-lettered. It wakes on acks, with a timer backing off
// to 500ms for what it cannot see, and reads the stream's count (one round
// trip) on each wake.
//
// Each read is bounded by a short timeout of its own (2s) and tried again
// if it fails for a reason that may pass (a timeout, a server restarting),
// so a NATS server restart delays Join but does not end it: Join returns
// nil once the queue is empty. It returns context.Cause(ctx) if ctx ends
// first, and an error only if the connection is closed for good or the
// queue's stream was deleted.
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
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		empty, err := q.isEmpty(cctx)
		cancel()
		switch {
		case err == nil && empty:
			return nil
		case ctx.Err() != nil:
			return context.Cause(ctx)
		case err != nil && fatal(err):
			return err
		}
		if err := w.wait(ctx, nil, nil, nil); err != nil {
			return err
		}
	}
}

// isEmpty reads the stream's count and closed flag, in one round trip.
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
