package redislimit

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

type report struct {
	down     bool
	err      error
	replicas int
}

// fail switches to the local share after a command begun in status state
// failed with err, unless the status changed since.
func (l *link) fail(state uint64, err error) {
	l.mu.Lock()
	if state&1 == 1 || !l.state.CompareAndSwap(state, state+1) {
		l.mu.Unlock()
		return
	}
	l.lastProbe = time.Now()
	if !l.closed {
		l.reports = append(l.reports, report{down: true, err: err, replicas: l.replicaCount()})
	}
	l.mu.Unlock()
	l.drain()
}

// maybeProbe starts a probe of Redis unless one runs or one started less
// than ProbeInterval ago.
func (l *link) maybeProbe() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.probing || time.Since(l.lastProbe) < ProbeInterval {
		return
	}
	l.probing, l.lastProbe = true, time.Now()
	l.running.Add(1)
	go l.probe(l.state.Load())
}

// probe asks Redis, on a new client of its own when it can, for what the
// limiter's decisions need (the script runs), and re-joins if it answers.
func (l *link) probe(state uint64) {
	defer l.running.Done()
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	var fresh *carrier
	var err error
	if l.template != nil {
		fresh = &carrier{c: l.newClient(), honours: true, own: true}
		err = l.probeFn(ctx, fresh.c)
	} else {
		cr := l.cur.Load()
		_, err = l.do(ctx, cr, func(ctx context.Context, c redis.UniversalClient) ([]int64, error) {
			for _, s := range l.scripts {
				if err := s.Load(ctx, c).Err(); err != nil {
					return nil, err
				}
			}
			return nil, l.probeFn(ctx, c)
		})
	}
	l.mu.Lock()
	l.probing = false
	if err != nil || l.closed || !l.state.CompareAndSwap(state, state+1) {
		l.mu.Unlock()
		if fresh != nil {
			fresh.c.Close()
		}
		return
	}
	var old *carrier
	if fresh != nil {
		old = l.cur.Swap(fresh)
	}
	l.reports = append(l.reports, report{down: false})
	l.mu.Unlock()
	if old != nil && old.own {
		// Commands still running on it (begun before the outage) fail
		// with "client is closed", which no longer changes the status.
		old.c.Close()
	}
	l.drain()
}

// drain logs the queued reports in order, outside the lock, on one
// goroutine at a time.
func (l *link) drain() {
	l.mu.Lock()
	if l.draining {
		l.mu.Unlock()
		return
	}
	l.draining = true
	for len(l.reports) > 0 {
		r := l.reports[0]
		l.reports = l.reports[1:]
		l.mu.Unlock()
		l.log(r)
		l.mu.Lock()
	}
	l.draining = false
	l.mu.Unlock()
}

// log reports r: as an event (see emit), and as a line to the logger given
// by WithLogger, if any.
func (l *link) log(r report) {
	l.emit(r)
	lg := l.logger
	if lg == nil {
		return
	}
	if r.down {
		lg.Warn("redislimit: Redis does not answer; limiting with the local share",
			"limiter", l.kind, "name", l.name, "share", l.share(r.replicas), "replicas", r.replicas, "err", r.err)
		return
	}
	lg.Info("redislimit: Redis answers again; back on the shared limit", "limiter", l.kind, "name", l.name)
}
