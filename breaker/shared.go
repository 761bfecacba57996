package breaker

import (
	"context"
	"time"

	"github.com/async-patterns/async/internal/safe"
)

// shared is the part of a Breaker that talks to its Store.
type shared struct {
	store  Store
	policy *Policy
	// The fields below are under Breaker.mu.
	lastTry  int64  // unix nanoseconds of the last attempt while degraded
	degraded bool   // the store failed
	gen      uint64 // the generation of the shared state known; 0: none yet
	// epoch counts the changes of the store's status (degraded and back).
	// An operation notes it when it starts; its outcome changes the status
	// only if no change came in between, so that an operation begun before
	// a re-join (or a failure) cannot undo it when it ends: one outage is
	// one "down", then one "up".
	epoch uint64
	// probesBusy, when it is gen, says that every probe permit of the
	// half-open generation gen is taken until probesUntil (their lease):
	// until then, or until the generation changes, a call is rejected
	// without asking the store.
	probesBusy  uint64
	probesUntil time.Time
	// asking is set while a call of this replica asks the store for a
	// half-open probe permit (the open period has passed, or the breaker
	// is half-open): the calls made meanwhile are rejected without a
	// round trip, as if that call had the last permit, instead of all
	// asking at once when the open period ends.
	asking bool
}

// doShared is Do for a breaker with a store. handled is false when the
// call is to go through the in-process state machine instead (the store is
// unavailable).
func (b *Breaker) doShared(ctx context.Context, fn func(ctx context.Context) error) (handled bool, err error) {
	now := time.Now()
	b.mu.Lock()
	if !b.sh.degraded && b.sh.gen != 0 {
		switch {
		case b.state == Open && now.Before(b.openUntil):
			until := b.openUntil
			b.mu.Unlock()
			return true, &RejectedError{Name: b.cfg.name, State: Open, retryAfter: retryAfter(until.Sub(now))}
		case b.state == Closed:
			// Known closed: let the call through without a round trip;
			// Record counts its request with its outcome.
			t := Ticket{Admitted: true, Generation: b.sh.gen, Local: true, Started: now}
			b.mu.Unlock()
			return b.runShared(ctx, fn, t)
		case b.state == HalfOpen && b.sh.probesBusy == b.sh.gen && now.Before(b.sh.probesUntil),
			b.state != Closed && b.sh.asking:
			// Every probe permit is known to be taken, or another call is
			// asking for one: the store would (likely) say no.
			b.mu.Unlock()
			return true, &RejectedError{Name: b.cfg.name, State: HalfOpen}
		}
	}
	try := b.tryStoreLocked(now)
	epoch := b.sh.epoch
	asking := !b.sh.degraded && b.sh.gen != 0 && b.state != Closed
	if asking {
		b.sh.asking = true
	}
	b.mu.Unlock()
	if !try {
		return b.unavailable()
	}
	t, snap, serr := b.admit(ctx, epoch, asking)
	if serr != nil {
		b.degrade(serr, epoch)
		return b.unavailable()
	}
	if !t.Admitted {
		if snap.State == Open {
			return true, &RejectedError{Name: b.cfg.name, State: Open, retryAfter: retryAfter(snap.OpenFor)}
		}
		return true, &RejectedError{Name: b.cfg.name, State: HalfOpen}
	}
	return b.runShared(ctx, fn, t)
}

// runShared runs fn for the call admitted with ticket t and records its
// outcome.
func (b *Breaker) runShared(ctx context.Context, fn func(ctx context.Context) error, t Ticket) (handled bool, err error) {
	sctx := context.WithoutCancel(ctx)
	returned := false
	defer func() {
		if returned {
			return
		}
		// fn panicked (recover stops it) or called Goexit (recover returns
		// nil and the goroutine goes on exiting after this): a failure.
		handled, err = true, safe.Recovered(recover())
		b.recordShared(sctx, t, Failure)
	}()
	err = fn(ctx)
	returned = true
	o := Success
	if e, ok := err.(*excludedError); ok {
		err, o = e.err, Excluded
	} else if err != nil {
		switch b.verdict(ctx, err) {
		case errExcluded:
			o = Excluded
		case errFailure:
			o = Failure
		}
	}
	b.recordShared(sctx, t, o)
	return true, err
}

// recordShared reports an outcome to the store.
func (b *Breaker) recordShared(ctx context.Context, t Ticket, o Outcome) {
	epoch := b.epoch()
	snap, err := b.sh.store.Record(ctx, b.cfg.name, b.sh.policy, t, o)
	if err != nil {
		b.degrade(err, epoch)
		return
	}
	b.apply(snap, epoch, true)
}

// apply takes in a snapshot from the store and queues the changes of state
// it shows for the hook. own is true for the reply to an operation of this
// breaker begun in epoch, which proves the store is up (unless the status
// changed since the operation began, when it proves nothing); false for a
// change another replica made, from Store.Watch.
func (b *Breaker) apply(snap Snapshot, epoch uint64, own bool) {
	now := time.Now()
	rejoined := false
	b.mu.Lock()
	n := len(b.queue)
	if own && b.sh.degraded && epoch == b.sh.epoch {
		// Back on the shared state: whatever the store says now is the
		// truth, even an older generation (the store lost its data).
		b.sh.degraded = false
		b.sh.epoch++
		b.live = nil // outcomes of calls the local machine admitted are forgotten
		b.sh.gen = 0
		b.storeErr = nil
		rejoined = true
		b.queueStatusLocked(nil)
	}
	if !b.sh.degraded {
		for _, c := range snap.Changes {
			if c.Generation > b.sh.gen {
				b.setSharedLocked(c.Generation, c.To, 0, now)
			}
		}
		if snap.Generation >= b.sh.gen {
			b.setSharedLocked(snap.Generation, snap.State, snap.OpenFor, now)
			if own && snap.State == HalfOpen {
				b.probesLocked(snap, now)
			}
		}
	}
	queued := len(b.queue) > n
	b.mu.Unlock()
	// A watch delivers only what it queued itself: changes queued by a
	// call on another goroutine are that call's to deliver, before it
	// returns.
	if queued || rejoined || (own && b.queued.Load()) {
		b.flush()
	}
}

// setSharedLocked moves the known shared state to s in generation gen.
// b.mu is held.
func (b *Breaker) setSharedLocked(gen uint64, s State, openFor time.Duration, now time.Time) {
	b.sh.gen = gen
	if s == Open && openFor > 0 {
		b.openUntil = now.Add(openFor)
	}
	if b.state != s && b.watchedLocked() {
		b.queue = append(b.queue, transition{from: b.state, to: s})
		b.queued.Store(true)
	}
	b.state = s
}

// probesLocked notes from the half-open snapshot snap of an own operation
// whether every probe permit is taken, and until when. b.mu is held.
func (b *Breaker) probesLocked(snap Snapshot, now time.Time) {
	c := snap.Counts
	if c.Requests-c.TotalExclusions >= b.cfg.halfOpen && snap.OpenFor > 0 {
		b.sh.probesBusy, b.sh.probesUntil = snap.Generation, now.Add(snap.OpenFor)
	} else {
		b.sh.probesBusy = 0
	}
}

// watch is the Store.Watch callback.
func (b *Breaker) watch(snap Snapshot) {
	b.apply(snap, 0, false)
}

// admit asks the store to admit a call begun in epoch and takes in its
// answer; asking says that the call holds the replica's ask for a probe
// permit, which admit ends, once the answer is in (or the store panicked).
func (b *Breaker) admit(ctx context.Context, epoch uint64, asking bool) (Ticket, Snapshot, error) {
	if asking {
		defer func() {
			b.mu.Lock()
			b.sh.asking = false
			b.mu.Unlock()
		}()
	}
	t, snap, err := b.sh.store.Admit(context.WithoutCancel(ctx), b.cfg.name, b.sh.policy)
	if err == nil {
		b.apply(snap, epoch, true)
	}
	return t, snap, err
}

// epoch returns the store's status epoch, for an operation about to start.
func (b *Breaker) epoch() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sh.epoch
}

// loadShared returns the shared snapshot, or false if the store is not
// used now (degraded) or failed.
func (b *Breaker) loadShared() (Snapshot, bool) {
	b.mu.Lock()
	try := b.tryStoreLocked(time.Now())
	epoch := b.sh.epoch
	b.mu.Unlock()
	if !try {
		return Snapshot{}, false
	}
	snap, err := b.sh.store.Load(context.Background(), b.cfg.name, b.sh.policy)
	if err != nil {
		b.degrade(err, epoch)
		return Snapshot{}, false
	}
	b.apply(snap, epoch, true)
	return snap, true
}

// forceShared is Trip and Reset for a breaker with a store; it reports
// false if the store failed (the caller then acts locally).
func (b *Breaker) forceShared(to State) bool {
	epoch := b.epoch()
	snap, err := b.sh.store.Force(context.Background(), b.cfg.name, b.sh.policy, to)
	if err != nil {
		b.degrade(err, epoch)
		return false
	}
	b.apply(snap, epoch, true)
	return true
}
