package jsqueue

import (
	"math"
	"testing"
	"time"
)

// Serve's backoff saturates: a max of "forever" (math.MaxInt64), or an
// initial that doubles past it, must never wrap round to a negative delay,
// which Fail turns into an immediate redelivery.
func TestServeDelaySaturates(t *testing.T) {
	for _, tc := range []struct {
		name             string
		initial, maxWait time.Duration
	}{
		{"a max of forever", time.Hour, math.MaxInt64},
		{"an initial at the max", math.MaxInt64, math.MaxInt64},
		{"a max just below the overflow", time.Second, math.MaxInt64 / 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &serving[int]{cfg: config{initial: tc.initial, maxDelay: tc.maxWait}}
			for attempt := 1; attempt <= 100; attempt++ {
				for range 20 { // the jitter is random
					if d := s.delay(attempt, nil); d < min(tc.initial, tc.maxWait)/2 {
						t.Fatalf("delay(%d) = %v; want >= %v (initial %v, max %v)", attempt, d, min(tc.initial, tc.maxWait)/2, tc.initial, tc.maxWait)
					}
				}
			}
		})
	}
}
