package redislimit

import (
	"context"
	"errors"

	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/limit/internal/nested"
)

// localBulkhead is the fallback for a given count of replicas. Its
// limit.Bulkhead is nested (neither registered nor reporting): the
// Semaphore counts and reports its refusals.
type localBulkhead struct {
	replicas int
	b        *limit.Bulkhead
}

// acquireLocally takes a permit of the local share and records it as id.
func (s *Semaphore) acquireLocally(ctx context.Context, id uint64) (limit.Permit, error) {
	b := s.localBulkhead()
	bp, err := b.Acquire(ctx)
	if err != nil {
		if errors.Is(err, limit.ErrRejected) {
			s.rejected.Add(1)
			s.l.rejected(ctx, err)
		}
		return limit.Permit{}, err
	}
	s.mu.Lock()
	s.held[id] = holding{local: b, permit: bp}
	s.mu.Unlock()
	return limit.Permit{ID: id}, nil
}

// localBulkhead returns the fallback for the replicas last seen.
func (s *Semaphore) localBulkhead() *limit.Bulkhead {
	r := s.l.replicaCount()
	old := s.local.Load()
	if old != nil && old.replicas == r {
		return old.b
	}
	opts := []limit.Option{nested.Option.(limit.Option), limit.WithName(s.label)}
	if s.maxWait >= 0 {
		opts = append(opts, limit.WithMaxWait(s.maxWait))
	}
	lb := &localBulkhead{replicas: r, b: limit.NewBulkhead(max(1, s.n/r), opts...)}
	if !s.local.CompareAndSwap(old, lb) {
		return s.local.Load().b
	}
	return lb.b
}
