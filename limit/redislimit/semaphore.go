package redislimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/limit"
)

//go:embed semaphore.lua
var semaphoreSource string

// semaphoreScript runs every operation of a Semaphore.
var semaphoreScript = redis.NewScript(semaphoreSource)

// ErrLeaseLost is the error of [Semaphore.Extend] when the permit's lease
// had already ended (the holder was too slow to extend it): Redis may have
// given the permit to another holder. [Semaphore.Do] cancels its
// function's ctx with this cause.
var ErrLeaseLost = errors.New("redislimit: the permit's lease ended before it was extended")

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

type localBulkhead struct {
	replicas int
	b        *limit.Bulkhead
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
	c := newConfig("Semaphore", []string{"WithPrefix", "WithTimeout", "WithLease", "WithMaxWait", "WithLogger"}, opts)
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
	return s
}

// Acquire takes a permit, waiting for one if all n are held: it asks
// Redis again after a short pause (2ms, doubling up to 50ms, with jitter;
// sooner when the earliest lease ends sooner), until it gets one, ctx
// ends (an error derived from context.Cause(ctx)), or the next try would
// come after ctx's deadline or the [WithMaxWait] bound (a
// [*limit.RejectedError] whose RetryAfter is the time until the earliest
// lease ends). Waiters are not served in order. Each try is one round
// trip. A failed Acquire holds nothing. While Redis does not answer,
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
				return limit.Permit{}, limit.NewRejectedError(s.label, "no permit before the deadline", left)
			}
			return limit.Permit{}, limit.NewRejectedError(s.label, "no permit within the max wait", left)
		}
		if t == nil {
			t = time.NewTimer(d)
			defer t.Stop()
		} else {
			t.Reset(d)
		}
		select {
		case <-t.C:
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
	if cr, state, up := s.l.client(); up {
		_, _ = s.l.run(context.Background(), cr, state, semaphoreScript, s.keys, []any{"release", h.member})
	}
}

// Extend makes the lease of the permit p end a lease ([WithLease]) from
// now, on the Redis server's clock: one round trip. It returns
// [ErrLeaseLost] when the lease had already ended, and nil for a permit
// granted by the local share (it has no lease) or while Redis does not
// answer (nobody can take the permit then; if the lease ends before Redis
// answers again, the next Extend says so). Extending a permit that is not
// held panics.
func (s *Semaphore) Extend(ctx context.Context, p limit.Permit) error {
	s.mu.Lock()
	h, ok := s.held[p.ID]
	s.mu.Unlock()
	if !ok {
		panic("redislimit: Extend of a permit that is not held (permit " + strconv.FormatUint(p.ID, 10) + ")")
	}
	if h.local != nil {
		return nil
	}
	cr, state, up := s.l.client()
	if !up {
		return nil
	}
	v, err := s.l.run(ctx, cr, state, semaphoreScript, s.keys, []any{"extend", s.leaseUS, h.member})
	if err != nil || len(v) != 1 || v[0] == 1 {
		return nil
	}
	return ErrLeaseLost
}

// Do takes a permit as [Semaphore.Acquire] does, calls fn with a ctx
// derived from ctx, and releases the permit when fn returns or panics.
// While fn runs, a goroutine of Do's extends the lease every third of it;
// if the lease is lost all the same (the process stalled longer than the
// lease), fn's ctx is cancelled with the cause [ErrLeaseLost]. When
// Acquire fails, fn is not called and Do returns its error. A panic in fn
// comes back as a [*limit.PanicError]; a nil fn returns
// [limit.ErrNilFunc] and takes nothing.
func (s *Semaphore) Do(ctx context.Context, fn func(context.Context) error) (err error) {
	if ctx == nil {
		panic("redislimit: nil ctx passed to Do")
	}
	if fn == nil {
		return limit.ErrNilFunc
	}
	p, err := s.Acquire(ctx)
	if err != nil {
		return err
	}
	fctx, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.keepAlive(fctx, p, stop, cancel) })
	returned := false
	defer func() {
		if !returned {
			err = safe.Recovered(recover())
		}
		close(stop)
		wg.Wait()
		o := limit.Failure
		if returned {
			o = limit.OutcomeOf(fctx, err)
		}
		cancel(nil)
		s.Release(p, o)
	}()
	err = fn(fctx)
	returned = true
	return err
}

// keepAlive extends p's lease every third of it until stop is closed,
// cancelling with ErrLeaseLost if the lease was lost.
func (s *Semaphore) keepAlive(ctx context.Context, p limit.Permit, stop <-chan struct{}, cancel context.CancelCauseFunc) {
	t := time.NewTicker(max(s.lease/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := s.Extend(ctx, p); err != nil {
				cancel(err)
				return
			}
		}
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
// end. After Close the Semaphore decides on its local share.
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

// acquireLocally takes a permit of the local share and records it as id.
func (s *Semaphore) acquireLocally(ctx context.Context, id uint64) (limit.Permit, error) {
	b := s.localBulkhead()
	bp, err := b.Acquire(ctx)
	if err != nil {
		if errors.Is(err, limit.ErrRejected) {
			s.rejected.Add(1)
		}
		return limit.Permit{}, err
	}
	s.mu.Lock()
	s.held[id] = holding{local: b, permit: bp}
	s.mu.Unlock()
	return limit.Permit{ID: id}, nil
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

// localBulkhead returns the fallback for the replicas last seen.
func (s *Semaphore) localBulkhead() *limit.Bulkhead {
	r := s.l.replicaCount()
	old := s.local.Load()
	if old != nil && old.replicas == r {
		return old.b
	}
	opts := []limit.Option{limit.WithName(s.label)}
	if s.maxWait >= 0 {
		opts = append(opts, limit.WithMaxWait(s.maxWait))
	}
	lb := &localBulkhead{replicas: r, b: limit.NewBulkhead(max(1, s.n/r), opts...)}
	if !s.local.CompareAndSwap(old, lb) {
		return s.local.Load().b
	}
	return lb.b
}
