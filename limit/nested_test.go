package limit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/async-patterns/async/internal/observetest"
	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/limit/internal/nested"
	"github.com/async-patterns/async/observe"
)

func TestNestedNeitherRegistersNorReports(t *testing.T) {
	// A nested limiter (limit/redislimit's local share) is part of the
	// object that made it: it is not in the registry and reports no
	// refusal, to its own observer or the process's, but still refuses
	// and counts its refusals.
	rec := &observetest.Recorder{}
	observe.SetDefault(rec)
	t.Cleanup(func() { observe.SetDefault(observe.Discard) })
	opt := nested.Option.(limit.Option)
	own := &observetest.Recorder{}
	r := limit.NewRate(1, 1, opt, limit.WithName("nested-rate"), limit.WithMaxWait(0), limit.WithObserver(own))
	b := limit.NewBulkhead(1, opt, limit.WithName("nested-bulkhead"), limit.WithMaxWaiting(0))
	ctx := context.Background()
	if err := r.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(ctx); !errors.Is(err, limit.ErrRejected) {
		t.Fatalf("second Wait = %v; want a rejection", err)
	}
	p, err := b.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release(p, limit.Success)
	if _, err := b.Acquire(ctx); !errors.Is(err, limit.ErrRejected) {
		t.Fatalf("second Acquire = %v; want a rejection", err)
	}
	if r.Stats().Rejected != 1 || b.Stats().Rejected != 1 {
		t.Errorf("Stats().Rejected = %d, %d; want 1, 1", r.Stats().Rejected, b.Stats().Rejected)
	}
	if es := append(rec.Events(), own.Events()...); len(es) != 0 {
		t.Errorf("events %q; want none", observetest.Briefs(es))
	}
	for o := range observe.Objects() {
		if o.Name == "nested-rate" || o.Name == "nested-bulkhead" {
			t.Errorf("registry lists %s %q; want a nested limiter unlisted", o.Kind, o.Name)
		}
	}
}
