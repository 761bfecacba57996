package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/async-patterns/async/breaker"
)

// TestProbeCycles runs 8 replicas x 8 callers against a dependency whose
// calls fail after 20ms, through 10 cycles of open period and failed
// probe, and counts the round trips: while the breaker is open, or a probe
// runs, a replica's calls cost none, and when an open period ends one call
// per replica asks for the probe permit, not every caller at once.
func TestProbeCycles(t *testing.T) {
	s := startRedis(t)
	const n, m = 8, 8
	const timeout = 100 * time.Millisecond
	rs := make([]*replica, n)
	var probes atomic.Int64
	for i := range rs {
		rs[i] = newReplica(t, s, "measure", breaker.WithConsecutiveFailures(1), breaker.WithOpenTimeout(timeout),
			breaker.WithOnStateChange(func(_ string, from, to breaker.State) {
				if i == 0 && to == breaker.HalfOpen {
					probes.Add(1)
				}
			}))
	}
	rs[0].b.Trip()
	time.Sleep(50 * time.Millisecond)
	var before int64
	for _, r := range rs {
		before += r.trips.Load()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var calls, rejections atomic.Int64
	for _, r := range rs {
		for range m {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					err := r.b.Do(context.Background(), func(context.Context) error { time.Sleep(20 * time.Millisecond); return errBoom })
					calls.Add(1)
					if errors.Is(err, breaker.ErrTooManyRequests) || errors.Is(err, breaker.ErrOpen) {
						rejections.Add(1)
						time.Sleep(time.Millisecond)
					}
				}
			})
		}
	}
	start := time.Now()
	for probes.Load() < 10 && time.Since(start) < 20*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	var after int64
	for _, r := range rs {
		after += r.trips.Load()
	}
	cycles, trips := probes.Load(), after-before
	t.Logf("%d probe cycles (seen by replica 0), %d calls (%d rejected), %d round trips in %v", cycles, calls.Load(), rejections.Load(), trips, time.Since(start).Round(time.Millisecond))
	if cycles < 10 {
		t.Fatalf("%d probe cycles in 20s; want 10", cycles)
	}
	// Per cycle: one admit per replica as the open period ends (a replica
	// that has not heard of the half-open change yet may ask once more),
	// and the probe's record.
	if limit := cycles * (2*n + 2); trips > limit {
		t.Errorf("round trips = %d for %d cycles; want at most %d", trips, cycles, limit)
	}
}
