package jsqueue

import (
	"context"
	"time"
)

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
