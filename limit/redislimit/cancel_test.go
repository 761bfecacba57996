package redislimit_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/limit/redislimit"
)

// endsDuringRoundTrip is a ctx that is live when Acquire first looks and
// cancelled from then on: as if it ended while the acquire was on its way
// to Redis.
type endsDuringRoundTrip struct {
	context.Context
	looks atomic.Int32
	done  chan struct{}
}

func newEndsDuringRoundTrip() *endsDuringRoundTrip {
	c := &endsDuringRoundTrip{Context: context.Background(), done: make(chan struct{})}
	close(c.done)
	return c
}

func (c *endsDuringRoundTrip) Err() error {
	if c.looks.Add(1) == 1 {
		return nil
	}
	return context.Canceled
}

func (c *endsDuringRoundTrip) Done() <-chan struct{} { return c.done }

// An earlier cancellation wins: a ctx that ended while Redis was granting
// the permit gets its cancellation, not the permit, and the permit goes
// back at once rather than when its lease ends.
func TestSemaphoreCancelledDuringAcquire(t *testing.T) {
	s := startRedis(t)
	a := newSemaphore(t, s, "cancelled", 1)
	b := newSemaphore(t, s, "cancelled", 1, redislimit.WithMaxWait(0))
	p, err := a.Acquire(newEndsDuringRoundTrip())
	if err == nil {
		a.Release(p, limit.Success)
		t.Fatal("Acquire() with a ctx that ended during the round trip = a permit; want the ctx's cancellation")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire() = %v; want context.Canceled", err)
	}
	if st := a.Stats(); st.InFlight != 0 {
		t.Errorf("Stats() = %+v; want nothing held", st)
	}
	q, err := b.Acquire(t.Context())
	if err != nil {
		t.Fatalf("another replica's Acquire() = %v; want the permit, given back at once", err)
	}
	b.Release(q, limit.Success)
}

// The same rule for the rate limiter: a ctx that ended while Redis granted
// the token gets its cancellation (the token stays spent, as when ctx ends
// during the wait for a slot).
func TestRateCancelledDuringWait(t *testing.T) {
	s := startRedis(t)
	r := newRate(t, s, "cancelled", 100, 10)
	if err := r.Wait(newEndsDuringRoundTrip()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait() with a ctx that ended during the round trip = %v; want context.Canceled", err)
	}
	if _, err := r.Acquire(newEndsDuringRoundTrip()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire() with a ctx that ended during the round trip = %v; want context.Canceled", err)
	}
	if st := r.Stats(); st.InFlight != 0 {
		t.Errorf("Stats() = %+v; want no permit held", st)
	}
}
