package limit_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/retry"
)

// retry needs no import of limit: it honours any error with a
// RetryAfter() time.Duration method, as it does a breaker's rejection.

func TestRetryWaitsOutARateRejection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rl := limit.NewRate(1, 1, limit.WithMaxWait(0))
		rl.Allow() // the next token is a second away
		start := time.Now()
		var calls, rejections int
		var waits []time.Duration
		err := retry.Do(t.Context(), func(ctx context.Context) error {
			err := rl.Do(ctx, func(context.Context) error { calls++; return nil })
			if errors.Is(err, limit.ErrRejected) {
				rejections++
			}
			return err
		},
			retry.WithMaxAttempts(10),
			retry.WithBackoff(10*time.Millisecond, 100*time.Millisecond),
			retry.WithOnRetry(func(_ int, _ error, wait time.Duration) { waits = append(waits, wait) }),
		)
		if err != nil {
			t.Fatalf("retry.Do() = %v; want nil", err)
		}
		if calls != 1 || rejections != 1 {
			t.Errorf("calls = %d, rejections = %d; want 1, 1 (one wait of RetryAfter, no hammering)", calls, rejections)
		}
		if len(waits) != 1 || waits[0] != time.Second {
			t.Errorf("waits = %v; want [1s]", waits)
		}
		if got := time.Since(start); got != time.Second {
			t.Errorf("retry.Do took %v; want 1s", got)
		}
	})
}

func TestRetryGivesUpWhenTheRejectionOutlastsTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rl := limit.NewRate(0.1, 1, limit.WithMaxWait(0)) // a token every 10s
		rl.Allow()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		start := time.Now()
		err := retry.Do(ctx, func(ctx context.Context) error {
			return rl.Do(ctx, func(context.Context) error { return nil })
		}, retry.WithMaxAttempts(5))
		var re *retry.Error
		if !errors.As(err, &re) || re.Attempts != 1 || !errors.Is(err, retry.ErrExhausted) || !errors.Is(err, limit.ErrRejected) {
			t.Fatalf("retry.Do() = %v; want one attempt, ErrExhausted and ErrRejected", err)
		}
		if time.Since(start) != 0 {
			t.Errorf("retry.Do took %v; want no time (the wait was bound to pass the deadline)", time.Since(start))
		}
	})
}

func TestRetryBacksOffOnAFullBulkhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bh := limit.NewBulkhead(1, limit.WithMaxWaiting(0))
		p, _ := bh.Acquire(t.Context())
		go func() {
			time.Sleep(25 * time.Millisecond)
			bh.Release(p, limit.Success)
		}()
		var waits []time.Duration
		err := retry.Do(t.Context(), func(ctx context.Context) error {
			return bh.Do(ctx, func(context.Context) error { return nil })
		},
			retry.WithBackoff(10*time.Millisecond, time.Second), retry.WithMultiplier(2), retry.WithJitter(0),
			retry.WithOnRetry(func(_ int, _ error, wait time.Duration) { waits = append(waits, wait) }),
		)
		if err != nil {
			t.Fatalf("retry.Do() = %v; want nil", err)
		}
		// RetryAfter 0: retry's own backoff applies (10ms, 20ms).
		if len(waits) != 2 || waits[0] != 10*time.Millisecond || waits[1] != 20*time.Millisecond {
			t.Errorf("waits = %v; want [10ms 20ms]", waits)
		}
	})
}
