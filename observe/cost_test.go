package observe_test

import (
	"context"
	"testing"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/memo"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/queue"
	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/taskgroup"
)

// TestNoObserverCostsNoAllocation checks the promise of the package doc on
// the hot paths of every primitive: with no observer and no hook set,
// reporting allocates nothing.
func TestNoObserverCostsNoAllocation(t *testing.T) {
	if observe.Default() != nil {
		t.Fatal("an observer is set")
	}
	ctx := context.Background()
	q := queue.New[int](8)
	ex := executor.New(executor.WithWorkers(1))
	defer ex.Shutdown(ctx)
	b := breaker.New()
	c := memo.New(func(ctx context.Context, k int) (int, error) { return k, nil })
	defer c.Close()
	c.Get(ctx, 1)
	ok := func(context.Context) error { return nil }
	cases := []struct {
		name string
		f    func()
	}{
		{"observe.Pick", func() { _ = observe.Pick(nil) }},
		{"queue Put+Get", func() { q.Put(ctx, 1); q.Get(ctx) }},
		{"executor Go", func() { ex.Go(ctx, ok) }},
		{"retry first try", func() { retry.Do(ctx, ok) }},
		{"breaker success", func() { b.Do(ctx, ok) }},
		{"memo hit", func() { c.Get(ctx, 1) }},
	}
	for _, tc := range cases {
		if n := testing.AllocsPerRun(1000, tc.f); n != 0 {
			t.Errorf("%s: %v allocations per run; want 0", tc.name, n)
		}
	}
	// A group's tasks: two allocations each (the go statement's closure
	// and its argument), as before observe existed (BenchmarkGoWait: 2009
	// allocations per 1000 tasks before, 2012 after: the group's own
	// registration, once).
	g := taskgroup.New(ctx)
	task := func(context.Context) error { return nil }
	if n := testing.AllocsPerRun(1000, func() { g.Go(task) }); n > 2 {
		t.Errorf("taskgroup Go: %v allocations per task; want at most 2", n)
	}
	g.Wait()
}

// BenchmarkPick is the cost of the check every place that may report
// makes: one atomic load and a nil check.
func BenchmarkPick(b *testing.B) {
	b.ReportAllocs()
	var n int
	for b.Loop() {
		if observe.Pick(nil) != nil {
			n++
		}
	}
	_ = n
}

// BenchmarkEmit is the cost of one event given to an observer that does
// nothing with it.
func BenchmarkEmit(b *testing.B) {
	b.ReportAllocs()
	o := observe.ObserverFunc(func(context.Context, observe.Event) {})
	ctx := context.Background()
	for b.Loop() {
		observe.Emit(ctx, o, observe.Event{Kind: observe.MemoHit, Source: "memo"})
	}
}

// BenchmarkRegister is the cost of a long-lived object's registration
// and leave.
func BenchmarkRegister(b *testing.B) {
	b.ReportAllocs()
	type thing struct{ _ [4]int }
	gauges := func(*thing) observe.Gauges { return observe.Gauges{} }
	for b.Loop() {
		observe.Register(&thing{}, "thing", "", 0, gauges).Leave()
	}
}
