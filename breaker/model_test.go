package breaker_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/breaker/internal/breakermodel"
)

// FuzzModel checks the in-process breaker against the sequential model of
// package breakermodel, in a synctest bubble, so that the open timeout's
// boundary is hit to the nanosecond. breaker/redisstore runs the same model
// on the shared breaker.
func FuzzModel(f *testing.F) {
	for _, seed := range breakermodel.Seeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		synctest.Test(t, func(t *testing.T) {
			breakermodel.Run(t, breakermodel.Config{
				New:             breaker.New,
				Sleeps:          []time.Duration{0, time.Nanosecond, 100 * time.Millisecond, 500 * time.Millisecond, time.Second, time.Second + time.Nanosecond},
				Sleep:           time.Sleep,
				Timeout:         time.Second,
				ExactRetryAfter: true,
			}, ops)
		})
	})
}
