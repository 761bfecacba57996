package redisstore_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/async-patterns/async/breaker"
)

// An open timeout of math.MaxInt64 (forever, which the in-process breaker
// supports: its RetryAfter saturates) must stay forever on the shared
// state: the conversion to the script's microseconds must not wrap
// negative and half-open the breaker at once.
func TestForeverOpenTimeout(t *testing.T) {
	s := startRedis(t)
	a := newReplica(t, s, "forever", breaker.WithOpenTimeout(math.MaxInt64))
	if err := a.b.Do(t.Context(), succeed); err != nil { // a knows the shared state
		t.Fatalf("Do() = %v; want nil", err)
	}
	a.b.Trip()
	if st := a.b.State(); st != breaker.Open {
		t.Fatalf("State() after Trip = %v; want open", st)
	}
	err := a.b.Do(t.Context(), succeed)
	var re *breaker.RejectedError
	if !errors.As(err, &re) || re.State != breaker.Open || re.RetryAfter() < 100*365*24*time.Hour {
		t.Fatalf("Do() on a breaker tripped with an open timeout of forever = %v; want ErrOpen with a wait of centuries", err)
	}
}
