package redislimit

import (
	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/limit/internal/nested"
)

// localRate is the fallback for a given count of replicas. Its limit.Rate
// is nested (neither registered nor reporting): the Rate counts and reports
// its refusals.
type localRate struct {
	replicas int
	r        *limit.Rate
}

// localRate returns the fallback for the replicas last seen.
func (r *Rate) localRate() *limit.Rate {
	n := r.l.replicaCount()
	old := r.local.Load()
	if old != nil && old.replicas == n {
		return old.r
	}
	opts := []limit.Option{nested.Option.(limit.Option), limit.WithName(r.label)}
	if r.maxWait >= 0 {
		opts = append(opts, limit.WithMaxWait(r.maxWait))
	}
	lr := &localRate{replicas: n, r: limit.NewRate(r.perSecond/float64(n), max(1, r.burst/n), opts...)}
	if !r.local.CompareAndSwap(old, lr) {
		return r.local.Load().r
	}
	return lr.r
}
