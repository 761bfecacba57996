package inspect_test

import (
	"context"
	"testing"

	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/taskgroup"
)

// TestOffCostsNoAllocation checks that with tracking and debug mode off a
// future and a started task cost what they cost before package inspect
// existed: one allocation for the handle (plus the goroutine's closure
// for taskgroup.Start). Debug mode's hook in the handle once made every
// resolve's error escape to the heap: one more each.
func TestOffCostsNoAllocation(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("allocation counts differ under -cover and -race")
	}
	ctx := context.Background()
	ex := executor.New(executor.WithWorkers(1))
	defer ex.Shutdown(ctx)
	fn := func(ctx context.Context) (int, error) { return 1, nil }
	if n := testing.AllocsPerRun(200, func() { executor.Submit(ctx, ex, fn).Wait(ctx) }); n > 1 {
		t.Errorf("executor.Submit and Wait: %v allocations; want 1", n)
	}
	gofn := func(ctx context.Context) error { return nil }
	if n := testing.AllocsPerRun(200, func() { ex.Go(ctx, gofn) }); n > 0 {
		t.Errorf("executor.Go: %v allocations; want 0", n)
	}
	if n := testing.AllocsPerRun(200, func() { taskgroup.Start(ctx, fn).Wait(ctx) }); n > 2 {
		t.Errorf("taskgroup.Start and Wait: %v allocations; want 2", n)
	}
}
