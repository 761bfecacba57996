package redislimit_test

import (
	"errors"
	"math"
	"testing"

	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/limit/redislimit"
)

// math.MaxInt64, Go's usual "forever", must mean forever: the conversion to
// the scripts' microseconds saturates instead of wrapping negative.
func TestForeverDurations(t *testing.T) {
	s := startRedis(t)
	t.Run("WithMaxWait(forever) lets Wait wait", func(t *testing.T) {
		r := newRate(t, s, "forever", 1000, 1, redislimit.WithMaxWait(math.MaxInt64))
		for i := range 3 { // the first is the burst; the others wait about 1ms each
			if err := r.Wait(t.Context()); err != nil {
				t.Fatalf("Wait() #%d with WithMaxWait(math.MaxInt64) = %v; want nil", i+1, err)
			}
		}
	})
	t.Run("WithLease(forever) keeps the permit", func(t *testing.T) {
		a := newSemaphore(t, s, "forever", 1, redislimit.WithLease(math.MaxInt64))
		b := newSemaphore(t, s, "forever", 1, redislimit.WithMaxWait(0))
		p, err := a.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer a.Release(p, limit.Success)
		if q, err := b.Acquire(t.Context()); !errors.Is(err, limit.ErrRejected) {
			if err == nil {
				b.Release(q, limit.Success)
			}
			t.Fatalf("second Acquire() with the only permit held on a lease of math.MaxInt64 = %v; want a rejection", err)
		}
	})
}
