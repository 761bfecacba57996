package redislimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/limit"
)

//go:embed rate.lua
var rateSource string

// rateScript takes one decision; Run sends EVALSHA, and EVAL once when the
// server does not have the script (after a SCRIPT FLUSH: new connections
// load it themselves).
var rateScript = redis.NewScript(rateSource)

// noBound is the most wait passed to the script when the caller sets none
// (about 31 years, in microseconds); probeBound makes it refuse whatever
// the state, so that a probe takes nothing.
const (
	noBound    = int64(1e15)
	probeBound = int64(-1e15)
)

// Rate is a rate limiter shared by every replica that makes one with the
// same name on the same Redis: a GCRA (generic cell rate algorithm) whose
// state is one key, the limit's theoretical arrival time on the Redis
// server's clock, with an expiry. Each decision is one EVALSHA of one Lua
// script, so replicas with skewed clocks agree and no token is handed out
// twice. Its behaviour is a token bucket's: perSecond tokens a second on
// average, up to burst at once after a quiet spell.
//
// When Redis does not answer within the timeout ([WithTimeout]) the Rate
// falls back to a local [limit.Rate] with its share of the limit:
// perSecond and burst divided by the replicas last seen (each replica
// reports itself with its decisions once a second; those seen in the last
// [ReplicaWindow] count), the burst at least 1. It re-joins when Redis
// answers again. Callers see no error because of it. That local limiter
// is a part of the Rate, not an object of its own: it is not listed in
// observe's registry (the Rate is, with State "local" meanwhile), and its
// refusals are the Rate's, counted in [Rate.Stats] and reported once each,
// as the Rate's LimitRejected events (Source "redislimit").
//
// Create one with [NewRate]; the zero value is not usable. A Rate is safe
// for concurrent use. It starts a goroutine only to probe Redis while it
// is down, one at a time; [Rate.Close] waits for it and closes the
// connections the Rate opened.
type Rate struct {
	l         *link
	label     string // the name, carried by rejections
	perSecond float64
	burst     int
	maxWait   time.Duration // -1: no bound but ctx's
	keys      []string
	interval  string // microseconds per token
	tolerance string // interval x burst
	window    int64  // ReplicaWindow in microseconds
	allowArgs []any  // the arguments of Allow when this replica is not reported

	local    atomic.Pointer[localRate]
	rejected atomic.Uint64

	mu   sync.Mutex // protects held and next
	held map[uint64]struct{}
	next uint64
}

// NewRate returns the rate limiter named name on client: perSecond calls a
// second on average across every replica, up to burst at once. client may
// be a single-node, Sentinel (failover), Cluster or Ring client; for a
// *redis.Client the Rate dials its own connections with its options (see
// the package doc). It panics, with a message that starts with
// "redislimit: " and names the argument, when client is nil, name is
// empty, perSecond is not a positive finite number, burst is < 1, or an
// option does not apply (WithLease).
func NewRate(client redis.UniversalClient, name string, perSecond float64, burst int, opts ...Option) *Rate {
	switch {
	case client == nil:
		panic("redislimit: NewRate: client is nil")
	case name == "":
		panic("redislimit: NewRate: name is empty")
	case math.IsNaN(perSecond) || math.IsInf(perSecond, 0) || perSecond <= 0:
		panic(fmt.Sprintf("redislimit: NewRate: perSecond must be a positive finite number, got %v", perSecond))
	case burst < 1:
		panic(fmt.Sprintf("redislimit: NewRate: burst must be >= 1, got %d", burst))
	}
	c := newConfig("Rate", []string{"WithPrefix", "WithTimeout", "WithMaxWait", "WithLogger", "WithObserver"}, opts)
	interval := 1e6 / perSecond
	r := &Rate{
		label:     name,
		perSecond: perSecond,
		burst:     burst,
		maxWait:   c.maxWait,
		keys:      []string{c.prefix + "{" + name + "}:rate", c.prefix + "{" + name + "}:rate:replicas"},
		interval:  strconv.FormatFloat(interval, 'f', -1, 64),
		tolerance: strconv.FormatFloat(interval*float64(burst), 'f', -1, 64),
		window:    micros(ReplicaWindow),
		held:      make(map[uint64]struct{}),
	}
	r.allowArgs = []any{r.interval, r.tolerance, int64(0), "", r.window}
	r.l = newLink("rate", name, client, &c, rateScript)
	r.l.probeFn = r.probe
	r.l.share = func(n int) string {
		return fmt.Sprintf("%.4g/s, burst %d", perSecond/float64(n), max(1, burst/n))
	}
	register(r, r.l, "redislimit.rate", (*Rate).Stats)
	return r
}

// Allow reports whether a token is available now, and takes it if so: one
// round trip, or the local share's Allow while Redis does not answer. It
// never waits (beyond the round trip, at most the timeout) and counts no
// rejection. It returns false when ctx is already done; ctx's
// cancellation does not interrupt a decision under way. A nil ctx panics.
func (r *Rate) Allow(ctx context.Context) bool {
	if ctx == nil {
		panic("redislimit: nil ctx passed to Allow")
	}
	if ctx.Err() != nil {
		return false
	}
	if ok, _, shared := r.decide(ctx, 0); shared {
		return ok
	}
	return r.localRate().Allow()
}

// Wait takes a token, waiting for it if needed, and returns nil. The
// decision is one round trip: when the token is not free now, Redis
// reserves the next slot for the caller, who sleeps until it comes; or
// refuses at once, when the slot would come after ctx's deadline or after
// the [WithMaxWait] bound, with a [*limit.RejectedError] whose RetryAfter
// is the wait it would have needed. When ctx is already done it returns
// an error derived from context.Cause(ctx) and takes nothing; when ctx
// ends during the round trip or the sleep it returns context.Cause(ctx)
// (at once, from the sleep), and the reserved slot stays spent (the shared limit is never exceeded because
// of it, only missed by one). While Redis does not answer, Wait is the
// local share's [limit.Rate.Wait].
func (r *Rate) Wait(ctx context.Context) error {
	if ctx == nil {
		panic("redislimit: nil ctx passed to Wait")
	}
	return r.wait(ctx)
}

// Do takes a token as [Rate.Wait] does, then calls fn with ctx and returns
// its error; when Wait fails, fn is not called and Do returns Wait's
// error. A panic in fn comes back as a [*limit.PanicError]; a nil fn
// returns [limit.ErrNilFunc] and takes no token.
func (r *Rate) Do(ctx context.Context, fn func(context.Context) error) (err error) {
	if ctx == nil {
		panic("redislimit: nil ctx passed to Do")
	}
	if fn == nil {
		return limit.ErrNilFunc
	}
	if err := r.wait(ctx); err != nil {
		return err
	}
	returned := false
	defer func() {
		if !returned {
			err = safe.Recovered(recover())
		}
	}()
	err = fn(ctx)
	returned = true
	return err
}

// Acquire takes a token as [Rate.Wait] does and returns a permit for it,
// so that a Rate is a [limit.Limiter]. A rate bounds how often work
// starts, not how much runs at once: [Rate.Release] gives nothing back.
func (r *Rate) Acquire(ctx context.Context) (limit.Permit, error) {
	if ctx == nil {
		panic("redislimit: nil ctx passed to Acquire")
	}
	if err := r.wait(ctx); err != nil {
		return limit.Permit{}, err
	}
	r.mu.Lock()
	r.next++
	id := r.next
	r.held[id] = struct{}{}
	r.mu.Unlock()
	return limit.Permit{ID: id}, nil
}

// Release ends the permit p; the outcome is not used. Releasing a permit
// twice, or one this Rate did not grant, panics.
func (r *Rate) Release(p limit.Permit, _ limit.Outcome) {
	r.mu.Lock()
	_, ok := r.held[p.ID]
	delete(r.held, p.ID)
	r.mu.Unlock()
	if !ok {
		panic("redislimit: Release of a permit that is not held: released twice, or not acquired from this rate limiter (permit " + strconv.FormatUint(p.ID, 10) + ")")
	}
}

// Stats returns the burst as Limit, the permits held (granted by Acquire,
// not yet released) and the rejections of Wait, Do and Acquire so far.
func (r *Rate) Stats() limit.Stats {
	r.mu.Lock()
	n := len(r.held)
	r.mu.Unlock()
	return limit.Stats{Limit: r.burst, InFlight: n, Rejected: r.rejected.Load()}
}

// Shared reports whether the Rate decides on Redis (true) or on its local
// share because Redis did not answer (false).
func (r *Rate) Shared() bool { return r.l.shared() }

// Close waits for a probe of Redis under way (at most the timeout) and
// closes the connections the Rate opened; it does not close the client it
// was given. After Close the Rate decides on its local share (Shared
// reports false) and never probes Redis again; calls during Close are safe
// too (each decides on Redis or on the local share).
func (r *Rate) Close() error { return r.l.close() }

// wait is Wait without the nil check.
func (r *Rate) wait(ctx context.Context) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	most, byDeadline := noBound, false
	if r.maxWait >= 0 {
		most = micros(r.maxWait)
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := micros(time.Until(dl)); left < most {
			most, byDeadline = left, true
		}
	}
	ok, wait, shared := r.decide(ctx, most)
	if !shared {
		err := r.localRate().Wait(ctx)
		if errors.Is(err, limit.ErrRejected) {
			r.rejected.Add(1)
			r.l.rejected(ctx, err)
		}
		return err
	}
	if !ok {
		r.rejected.Add(1)
		if byDeadline {
			return r.l.rejected(ctx, limit.NewRejectedError(r.label, "no token before the deadline", wait))
		}
		return r.l.rejected(ctx, limit.NewRejectedError(r.label, "no token within the max wait", wait))
	}
	if ctx.Err() != nil {
		// An earlier cancellation wins: ctx ended while Redis granted the
		// slot, which stays spent (as when ctx ends during the sleep).
		return context.Cause(ctx)
	}
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		select { // an earlier cancellation wins over a slot due at the same instant
		case <-ctx.Done():
			return context.Cause(ctx)
		default:
			return nil
		}
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// decide asks Redis for a token, waiting at most most microseconds for its
// slot. shared is false when Redis did not answer: the caller decides
// locally.
func (r *Rate) decide(ctx context.Context, most int64) (ok bool, wait time.Duration, shared bool) {
	cr, state, up := r.l.client()
	if !up {
		return false, 0, false
	}
	args := r.allowArgs
	if beat := r.l.beat(); most != 0 || beat != "" {
		args = []any{r.interval, r.tolerance, most, beat, r.window}
	}
	v, err := r.l.run(ctx, cr, state, rateScript, r.keys, args)
	if err != nil || len(v) != 3 {
		return false, 0, false
	}
	r.l.seen(v[2])
	return v[0] == 1, time.Duration(v[1]) * time.Microsecond, true
}

// probe runs the script on c so that it takes nothing but reports this
// replica (a write, as a decision is: a Redis paused for writes does not
// pass it).
func (r *Rate) probe(ctx context.Context, c redis.UniversalClient) error {
	v, err := rateScript.Run(ctx, c, r.keys, r.interval, r.tolerance, probeBound, r.l.id, r.window).Int64Slice()
	if err == nil && len(v) == 3 {
		r.l.seen(v[2])
	}
	return err
}
