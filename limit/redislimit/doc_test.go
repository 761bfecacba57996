package redislimit_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/limit/redislimit"
)

// TestDocExample runs the package doc's example against a real Redis.
func TestDocExample(t *testing.T) {
	s := startRedis(t)
	addr := s.addr()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	var charges atomic.Int64
	charge := func(context.Context) error { charges.Add(1); return nil }

	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	payments := redislimit.NewRate(client, "payments", 100, 10) // 100/s across replicas, bursts of 10
	defer payments.Close()
	db := redislimit.NewSemaphore(client, "db", 50, redislimit.WithLease(30*time.Second))
	defer db.Close()
	var refused, expired int
	for range 40 {
		err := payments.Do(ctx, func(ctx context.Context) error {
			return db.Do(ctx, func(ctx context.Context) error { return charge(ctx) })
		})
		var re *limit.RejectedError
		if errors.Is(err, limit.ErrRejected) && errors.As(err, &re) && re.RetryAfter() > 0 {
			refused++
			continue
		}
		if errors.Is(err, context.DeadlineExceeded) { // the machine stalled past the deadline
			expired++
			continue
		}
		if err != nil {
			t.Fatalf("Do() = %v", err)
		}
	}
	// A burst of 10 at once, then one every 10ms: within the 200ms
	// deadline about 29 of 40 get through, the rest are refused at once.
	n := charges.Load()
	t.Logf("%d charged, %d refused at once, %d past the deadline", n, refused, expired)
	if n < 10 || n+int64(refused+expired) != 40 || refused+expired == 0 {
		t.Errorf("%d charges, %d refused, %d expired; want the burst of 10 and more, the rest refused", n, refused, expired)
	}
	if !payments.Shared() || !db.Shared() {
		t.Error("the limiters fell back; want them on Redis")
	}
}
