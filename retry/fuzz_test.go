package retry_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/retry"
)

// FuzzAttempts checks the attempt accounting against a model for any mix of
// attempt limit, number of failures before a success, and a permanent error:
// the number of calls, the number of hooks (one fewer), the hook arguments,
// the time spent (the sum of the waits the hook was told), and the result.
func FuzzAttempts(f *testing.F) {
	f.Add(uint8(5), uint8(2), uint8(0), 0.0)
	f.Add(uint8(3), uint8(7), uint8(0), 0.5)
	f.Add(uint8(4), uint8(9), uint8(2), 1.0)
	f.Add(uint8(1), uint8(0), uint8(1), 0.3)
	f.Add(uint8(6), uint8(6), uint8(6), 0.0)
	f.Fuzz(func(t *testing.T, maxAttempts, failures, permanentAt uint8, jitter float64) {
		m := int(maxAttempts%20) + 1
		k := int(failures % 25)
		p := int(permanentAt % 25) // 0: no permanent error
		if !(jitter >= 0 && jitter <= 1) {
			jitter = 0.5
		}
		want := min(m, k+1)
		if p >= 1 && p <= k {
			want = min(want, p)
		}
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			var waited time.Duration
			hooks := 0
			start := time.Now()
			err := retry.Do(t.Context(), func(context.Context) error {
				calls++
				switch {
				case calls == p && calls <= k:
					return retry.Permanent(errFlaky)
				case calls <= k:
					return errFlaky
				}
				return nil
			}, retry.WithMaxAttempts(m), retry.WithBackoff(time.Second, time.Minute), retry.WithJitter(jitter),
				retry.WithOnRetry(func(attempt int, err error, wait time.Duration) {
					hooks++
					if attempt != hooks || !errors.Is(err, errFlaky) || wait < 0 {
						t.Errorf("hook(%d, %v, %v); want attempt %d, errFlaky, a wait >= 0", attempt, err, wait, hooks)
					}
					waited += wait
				}))
			if calls != want || hooks != want-1 {
				t.Fatalf("m=%d k=%d p=%d: calls, hooks = %d, %d; want %d, %d", m, k, p, calls, hooks, want, want-1)
			}
			if took := time.Since(start); took != waited {
				t.Errorf("Do() took %v; want the sum of the waits %v", took, waited)
			}
			switch {
			case want == k+1:
				if err != nil {
					t.Errorf("Do() = %v; want nil", err)
				}
			case want == p:
				if !errors.Is(err, errFlaky) || errors.Is(err, retry.ErrExhausted) {
					t.Errorf("Do() = %v; want a permanent errFlaky", err)
				}
			default:
				if !errors.Is(err, errFlaky) || !errors.Is(err, retry.ErrExhausted) {
					t.Errorf("Do() = %v; want ErrExhausted and errFlaky", err)
				}
			}
			var re *retry.Error
			if err != nil && (!errors.As(err, &re) || re.Attempts != want) {
				t.Errorf("Do() = %#v; want *Error{Attempts: %d}", err, want)
			}
		})
	})
}
