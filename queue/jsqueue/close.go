package jsqueue

import (
	"context"
	"fmt"
)

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
