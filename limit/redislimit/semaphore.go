package redislimit

import (
	"context"
	_ "embed"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/limit"
)

//go:embed semaphore.lua
var semaphoreSource string

// semaphoreScript runs every operation of a Semaphore.
var semaphoreScript = redis.NewScript(semaphoreSource)

// Poll bounds of a waiting [Semaphore.Acquire]: it asks Redis again after
// pollMin, doubling up to pollMax (with jitter), or sooner when the
// earliest lease ends sooner.
const (
	pollMin = 2 * time.Millisecond
	pollMax = 50 * time.Millisecond
)

// Semaphore is a counting semaphore shared by every replica that makes one
// with the same name on the same Redis: at most n permits are held at
// once across all of them. Each permit is an id in a sorted set scored by
// the end of its lease ([WithLease]), on the Redis server's clock: a
// holder that crashes loses its permit when its lease ends, and the next
// Acquire takes it back; a long call extends its lease ([Semaphore.Extend],
// or [Semaphore.Do], which does so on its own); only the holder (the
// Semaphore that granted it, by the permit's id) releases it.
//
// When Redis does not answer within the timeout ([WithTimeout]) the
// Semaphore falls back to a local [limit.Bulkhead] with its share of the
// permits: n divided by the replicas last seen, rounded down, at least 1.
// It re-joins when Redis answers again; permits held meanwhile stay with
// the bulkhead that granted them. Callers see no error because of it.
// That bulkhead is a part of the Semaphore, not an object of its own: it
// is not listed in observe's registry (the Semaphore is, with State
// "local" meanwhile), and its refusals are the Semaphore's, counted in
// [Semaphore.Stats] and reported once each, as the Semaphore's
// LimitRejected events (Source "redislimit").
//
// Create one with [NewSemaphore]; the zero value is not usable. A
// Semaphore is safe for concurrent use. It starts a goroutine only to
// probe Redis while it is down, and [Semaphore.Do] one to extend the
// lease while its function runs; [Semaphore.Close] waits for the probe and
// closes the connections the Semaphore opened.
type Semaphore struct {
	l       *link
	label   string
	n       int
	lease   time.Duration
	maxWait time.Duration // -1: no bound but ctx's
	keys    []string
	nArg    string
	leaseUS int64
	window  int64

	local    atomic.Pointer[localBulkhead]
	rejected atomic.Uint64

	mu   sync.Mutex // protects held and next
	held map[uint64]holding
	next uint64
}

// holding is a permit granted: by Redis (member is its id there) or by a
// local bulkhead.
type holding struct {
	member string
	local  *limit.Bulkhead
	permit limit.Permit // the bulkhead's
}

// NewSemaphore returns the semaphore named name on client, with n permits
// across every replica. client may be a single-node, Sentinel (failover),
// Cluster or Ring client; for a *redis.Client the Semaphore dials its own
// connections with its options (see the package doc). It panics, with a
// message that starts with "redislimit: " and names the argument, when
// client is nil, name is empty, n is < 1, or an option is bad.
func NewSemaphore(client redis.UniversalClient, name string, n int, opts ...Option) *Semaphore {
	switch {
	case client == nil:
		panic("redislimit: NewSemaphore: client is nil")
	case name == "":
		panic("redislimit: NewSemaphore: name is empty")
	case n < 1:
		panic(fmt.Sprintf("redislimit: NewSemaphore: n must be >= 1, got %d", n))
	}
	c := newConfig("Semaphore", []string{"WithPrefix", "WithTimeout", "WithLease", "WithMaxWait", "WithLogger", "WithObserver"}, opts)
	s := &Semaphore{
		label:   name,
		n:       n,
		lease:   c.lease,
		maxWait: c.maxWait,
		keys:    []string{c.prefix + "{" + name + "}:sem", c.prefix + "{" + name + "}:sem:replicas"},
		nArg:    strconv.Itoa(n),
		leaseUS: micros(c.lease),
		window:  micros(ReplicaWindow),
		held:    make(map[uint64]holding),
	}
	s.l = newLink("semaphore", name, client, &c, semaphoreScript)
	s.l.probeFn = s.probe
	s.l.share = func(r int) string { return strconv.Itoa(max(1, n/r)) + " permits" }
	register(s, s.l, "redislimit.semaphore", (*Semaphore).Stats)
	return s
}

// Acquire takes a permit, waiting for one if all n are held: it asks
// Redis again after a short pause (2ms, doubling up to 50ms, with jitter;
// sooner when the earliest lease ends sooner), until it gets one, ctx
// ends (an error derived from context.Cause(ctx)), or the next try would
// come after ctx's deadline or the [WithMaxWait] bound (a
// [*limit.RejectedError] whose RetryAfter is the time until the earliest
// lease ends). Waiters are not served in order. Each try is one round
// trip. A failed Acquire holds nothing: an earlier cancellation wins, so a
// ctx that ends while Redis grants the permit gets its cause, and the
// permit is given back at once (one more round trip). While Redis does not answer,
// Acquire is the local share's [limit.Bulkhead.Acquire].
func (s *Semaphore) Acquire(ctx context.Context) (limit.Permit, error) {
	if ctx == nil {
		panic("redislimit: nil ctx passed to Acquire")
	}
	if ctx.Err() != nil {
		return limit.Permit{}, context.Cause(ctx)
	}
	var until time.Time // zero: no bound but ctx's (none when no deadline)
	byDeadline := false
	if s.maxWait >= 0 {
		until = time.Now().Add(s.maxWait)
	}
	if dl, ok := ctx.Deadline(); ok && (until.IsZero() || dl.Before(until)) {
		until, byDeadline = dl, true
	}
	pause := pollMin
	var t *time.Timer
	for {
		s.mu.Lock()
		s.next++
		id := s.next
		s.mu.Unlock()
		member := s.l.id + ":" + strconv.FormatUint(id, 36)
		ok, left, shared := s.tryAcquire(ctx, member)
		if !shared {
			return s.acquireLocally(ctx, id)
		}
		if ok {
			if ctx.Err() != nil {
				// An earlier cancellation wins: ctx ended while Redis
				// granted the permit. Give it back now, not at the end
				// of its lease.
				s.releaseShared(member)
				return limit.Permit{}, context.Cause(ctx)
			}
			s.mu.Lock()
			s.held[id] = holding{member: member}
			s.mu.Unlock()
			return limit.Permit{ID: id}, nil
		}
		d := pause/2 + rand.N(pause/2+1)
		if left > 0 && left < d {
			d = left
		}
		if !until.IsZero() && time.Now().Add(d).After(until) {
			s.rejected.Add(1)
			if byDeadline {
				return limit.Permit{}, s.l.rejected(ctx, limit.NewRejectedError(s.label, "no permit before the deadline", left))
			}
			return limit.Permit{}, s.l.rejected(ctx, limit.NewRejectedError(s.label, "no permit within the max wait", left))
		}
		if t == nil {
			t = time.NewTimer(d)
			defer t.Stop()
		} else {
			t.Reset(d)
		}
		select {
		case <-t.C:
			if ctx.Err() != nil { // both were ready: the cancellation wins
				return limit.Permit{}, context.Cause(ctx)
			}
		case <-ctx.Done():
			return limit.Permit{}, context.Cause(ctx)
		}
		pause = min(2*pause, pollMax)
	}
}

// Release gives the permit p back: one round trip that removes its id
// from Redis (bounded by the timeout; while Redis does not answer it is
// not sent, and the lease ends on its own), or the local bulkhead's
// Release. The outcome is not used. Releasing a permit twice, or one this
// Semaphore did not grant, panics.
func (s *Semaphore) Release(p limit.Permit, o limit.Outcome) {
	s.mu.Lock()
	h, ok := s.held[p.ID]
	delete(s.held, p.ID)
	s.mu.Unlock()
	if !ok {
		panic("redislimit: Release of a permit that is not held: released twice, or not acquired from this semaphore (permit " + strconv.FormatUint(p.ID, 10) + ")")
	}
	if h.local != nil {
		h.local.Release(h.permit, o)
		return
	}
	s.releaseShared(h.member)
}

// releaseShared removes the permit member from Redis: one round trip,
// bounded by the timeout, not sent while Redis does not answer (the lease
// then ends on its own).
func (s *Semaphore) releaseShared(member string) {
	if cr, state, up := s.l.client(); up {
		_, _ = s.l.run(context.Background(), cr, state, semaphoreScript, s.keys, []any{"release", member})
	}
}

// Stats returns n as Limit, the permits this Semaphore holds and the
// refusals of Acquire so far.
func (s *Semaphore) Stats() limit.Stats {
	s.mu.Lock()
	held := len(s.held)
	s.mu.Unlock()
	return limit.Stats{Limit: s.n, InFlight: held, Rejected: s.rejected.Load()}
}

// Shared reports whether the Semaphore decides on Redis (true) or on its
// local share because Redis did not answer (false).
func (s *Semaphore) Shared() bool { return s.l.shared() }

// Close waits for a probe of Redis under way (at most the timeout) and
// closes the connections the Semaphore opened; it does not close the
// client it was given. Permits still held keep their leases until they
// end. After Close the Semaphore decides on its local share (Shared
// reports false) and never probes Redis again; calls during Close are safe
// too (each decides on Redis or on the local share).
func (s *Semaphore) Close() error { return s.l.close() }

// tryAcquire asks Redis once for a permit named member. shared is false
// when Redis did not answer; left is the time until the earliest lease
// ends when refused.
func (s *Semaphore) tryAcquire(ctx context.Context, member string) (ok bool, left time.Duration, shared bool) {
	cr, state, up := s.l.client()
	if !up {
		return false, 0, false
	}
	v, err := s.l.run(ctx, cr, state, semaphoreScript, s.keys, []any{"acquire", s.nArg, s.leaseUS, member, s.l.beat(), s.window})
	if err != nil || len(v) != 3 {
		return false, 0, false
	}
	s.l.seen(v[2])
	return v[0] == 1, time.Duration(v[1]) * time.Microsecond, true
}

// probe runs an acquire that cannot succeed (n = 0) and reports this
// replica.
func (s *Semaphore) probe(ctx context.Context, c redis.UniversalClient) error {
	v, err := semaphoreScript.Run(ctx, c, s.keys, "acquire", "0", s.leaseUS, "probe", s.l.id, s.window).Int64Slice()
	if err == nil && len(v) == 3 {
		s.l.seen(v[2])
	}
	return err
}
