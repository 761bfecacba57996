package observe_test

import (
	"context"
	"testing"

	"github.com/async-patterns/async/observe"
)

type ctxKey struct{}

// headerProp writes its key into the headers and reads it back into ctx.
type headerProp struct {
	observe.ObserverFunc
	key string
}

func (p headerProp) Inject(_ context.Context, h map[string][]string) { h[p.key] = []string{"v"} }
func (p headerProp) Extract(ctx context.Context, h map[string][]string) context.Context {
	return context.WithValue(ctx, ctxKey{}, h[p.key][0])
}

// Multi forwards Inject and Extract to the propagators among its
// observers; a panicking one loses only its own part.
func TestMultiPropagates(t *testing.T) {
	nop := observe.ObserverFunc(func(context.Context, observe.Event) {})
	m := observe.Multi(nop, badPropagator{nop}, headerProp{nop, "x-a"})
	before := observe.Dropped()
	h := map[string][]string{}
	ctx := context.Background()
	observe.Inject(ctx, m, h)
	if len(h["x-a"]) != 1 {
		t.Errorf("headers = %v; want x-a set", h)
	}
	got := observe.Extract(ctx, m, h)
	if v, _ := got.Value(ctxKey{}).(string); v != "v" {
		t.Errorf("Extract's ctx carries %q; want v", v)
	}
	if d := observe.Dropped() - before; d != 2 {
		t.Errorf("Dropped() grew by %d; want 2 (one Inject, one Extract)", d)
	}
}
