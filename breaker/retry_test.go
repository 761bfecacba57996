package breaker_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/retry"
)

func TestRetryWaitsOutTheOpenState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := breaker.New(breaker.WithConsecutiveFailures(1), breaker.WithOpenTimeout(30*time.Second))
		b.Do(t.Context(), func(context.Context) error { return errors.New("down") })

		start := time.Now()
		var calls, rejections int
		var waits []time.Duration
		err := retry.Do(t.Context(), func(ctx context.Context) error {
			err := b.Do(ctx, func(context.Context) error {
				calls++
				return nil
			})
			if errors.Is(err, breaker.ErrOpen) {
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
			t.Errorf("dependency calls = %d, rejections = %d; want 1, 1 (no hammering)", calls, rejections)
		}
		if want := 30*time.Second + time.Millisecond; len(waits) != 1 || waits[0] != want {
			t.Errorf("waits = %v; want [%v]", waits, want)
		}
		if got := time.Since(start); got != 30*time.Second+time.Millisecond {
			t.Errorf("retry.Do took %v; want 30.001s", got)
		}
		if got := b.State(); got != breaker.Closed {
			t.Errorf("State() = %v; want closed", got)
		}
	})
}
