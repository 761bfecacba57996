package limit_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/async-patterns/async/limit"
)

// This example shows an adaptive limiter turning work away once as many
// calls as its limit are in flight, and what its Stats report.
func ExampleNewAdaptive() {
	l := limit.NewAdaptive(limit.WithLimits(1, 2, 100), limit.WithMaxWaiting(0))
	ctx := context.Background()

	p1, _ := l.Acquire(ctx)
	p2, _ := l.Acquire(ctx)
	_, err := l.Acquire(ctx) // a third call: the limit is 2 and nobody may wait
	fmt.Println("third call rejected:", errors.Is(err, limit.ErrRejected))
	fmt.Printf("%+v\n", l.Stats())

	l.Release(p1, limit.Success)
	l.Release(p2, limit.Success)
	err = l.Do(ctx, func(ctx context.Context) error { return nil })
	fmt.Println("Do:", err, "in flight after:", l.Stats().InFlight)
	// Output:
	// third call rejected: true
	// {Limit:2 InFlight:2 Queued:0 Rejected:1}
	// Do: <nil> in flight after: 0
}
