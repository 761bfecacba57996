package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/breaker/redisstore"
)

// TestRestart restarts a real redis-server under a replica that keeps
// calling, after an outage long enough for go-redis's pool to stop dialing
// (it then dials again only once a second), and measures how soon the
// replica re-joins the shared state and what its calls cost after it.
func TestRestart(t *testing.T) {
	s := startRedis(t)
	info := s.client(t, nil)
	// A small pool gives up dialing sooner (after PoolSize failed dials),
	// so the outage below needs to last only a second.
	c := redis.NewClient(&redis.Options{Addr: s.addr(), ContextTimeoutEnabled: true, DialTimeout: time.Second, PoolSize: 4})
	t.Cleanup(func() { c.Close() })
	// A bound of 1s, not the default 100ms: a killed Redis refuses at
	// once, so the bound decides nothing here, and on a busy machine (CI
	// under -race) an operation that merely took 100ms would be an outage
	// of its own (a down and an up the test would take for the restart's).
	store := redisstore.New(c, redisstore.WithTimeout(time.Second))
	t.Cleanup(func() { store.Close() })
	statuses := make(chan error, 16)
	b := breaker.New(breaker.WithName("restart"), breaker.WithStore(store),
		breaker.WithOnStoreStatus(func(_ string, err error) { statuses <- err }))
	call := func() {
		if err := b.Do(context.Background(), succeed); err != nil {
			t.Fatalf("Do() = %v; want nil", err)
		}
	}
	for i := range 3 {
		call() // known closed
		s.stop()
		for down := false; !down; {
			call()
			select {
			case err := <-statuses:
				if err == nil {
					t.Fatalf("restart %d: status hook saw a re-join while Redis was down", i)
				}
				down = true
			case <-time.After(5 * time.Millisecond):
			}
		}
		for end := time.Now().Add(time.Second); time.Now().Before(end); {
			call()
			time.Sleep(5 * time.Millisecond)
		}
		s.start()
		ready := time.Now()
		var rejoin time.Duration
		var trips int64
		for rejoin == 0 {
			before := scriptCalls(t.Context(), info)
			call()
			select {
			case err := <-statuses:
				if err != nil {
					t.Fatalf("restart %d: status hook saw %v after Redis came back; want one re-join", i, err)
				}
				rejoin, trips = time.Since(ready), scriptCalls(t.Context(), info)-before
			case <-time.After(5 * time.Millisecond):
				if time.Since(ready) > 10*time.Second {
					t.Fatalf("restart %d: no re-join 10s after Redis came back", i)
				}
			}
		}
		before := scriptCalls(t.Context(), info)
		call()
		closed := scriptCalls(t.Context(), info) - before
		t.Logf("restart %d: re-joined %v after Redis was ready; round trips: %d for the re-joining call, %d for the next (known closed)",
			i, rejoin.Round(time.Millisecond), trips, closed)
		t.Run(fmt.Sprintf("after restart %d the replica re-joins within 250ms of Redis answering", i), func(t *testing.T) {
			if rejoin > 250*time.Millisecond {
				t.Errorf("restart %d: re-joined after %v; want at most 250ms", i, rejoin)
			}
		})
		t.Run(fmt.Sprintf("after restart %d the re-joining call costs two round trips and the next one, known closed, one", i), func(t *testing.T) {
			if trips != 2 || closed != 1 {
				t.Errorf("restart %d: round trips %d and %d; want 2 (admit, record) and 1", i, trips, closed)
			}
		})
		select {
		case err := <-statuses:
			t.Fatalf("restart %d: status hook saw %v after the re-join; want one down and one up", i, err)
		default:
		}
	}
}

// TestPaused pauses a real Redis under a client built without
// ContextTimeoutEnabled (go-redis's default), which does not enforce a
// ctx deadline on its connections: the store must bound its operations
// itself, so the breaker falls back instead of stalling its callers.
func TestPaused(t *testing.T) {
	s := startRedis(t)
	admin := s.client(t, nil)
	c := redis.NewClient(&redis.Options{Addr: s.addr()}) // ReadTimeout 3s
	t.Cleanup(func() { c.Close() })
	const timeout = 100 * time.Millisecond
	store := redisstore.New(c, redisstore.WithTimeout(timeout))
	// Close waits for the commands left running until the pause ends.
	t.Cleanup(func() { store.Close() })
	statuses := make(chan error, 16)
	b := breaker.New(breaker.WithName("paused"), breaker.WithStore(store),
		breaker.WithOnStoreStatus(func(_ string, err error) { statuses <- err }))
	if err := b.Do(t.Context(), succeed); err != nil { // known closed
		t.Fatalf("Do() = %v; want nil", err)
	}
	const pause = 1500 * time.Millisecond
	if err := admin.Do(t.Context(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	t.Run("a call returns within the store's timeout and the breaker falls back", func(t *testing.T) {
		var worst time.Duration
		for range 5 {
			start := time.Now()
			if err := b.Do(t.Context(), succeed); err != nil {
				t.Fatalf("Do() = %v; want nil", err)
			}
			worst = max(worst, time.Since(start))
		}
		t.Logf("worst of 5 calls while Redis is paused: %v", worst.Round(time.Millisecond))
		// One store operation of one timeout, with room for a loaded
		// machine; the pause lasts far longer.
		if worst > 4*timeout {
			t.Errorf("worst call took %v; want at most %v", worst, 4*timeout)
		}
		select {
		case err := <-statuses:
			if err == nil {
				t.Errorf("status hook saw a re-join; want the store reported down")
			}
		default:
			t.Errorf("status hook saw nothing; want the store reported down")
		}
	})
}
