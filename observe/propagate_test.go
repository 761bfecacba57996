package observe_test

import (
	"context"
	"testing"

	"github.com/async-patterns/async/observe"
)

type mapCarrier map[string]string

func (m mapCarrier) Get(k string) string { return m[k] }
func (m mapCarrier) Set(k, v string)     { m[k] = v }
func (m mapCarrier) Keys() []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

type ctxKey struct{}

// headerProp writes its name into the carrier and reads it back into ctx.
type headerProp struct {
	observe.ObserverFunc
	key string
}

func (p headerProp) Inject(_ context.Context, e observe.Event, c observe.Carrier) {
	c.Set(p.key, e.Name)
}

func (p headerProp) Extract(ctx context.Context, _ observe.Event, c observe.Carrier) context.Context {
	return context.WithValue(ctx, ctxKey{}, c.Get(p.key))
}

type panicProp struct{ observe.ObserverFunc }

func (panicProp) Inject(context.Context, observe.Event, observe.Carrier) { panic("inject bug") }
func (panicProp) Extract(context.Context, observe.Event, observe.Carrier) context.Context {
	panic("extract bug")
}

func TestPropagator(t *testing.T) {
	nop := observe.ObserverFunc(func(context.Context, observe.Event) {})
	ctx := context.Background()
	e := observe.Event{Kind: observe.JobPut, Source: "jsqueue", Name: "orders"}

	t.Run("a plain observer propagates nothing", func(t *testing.T) {
		c := mapCarrier{}
		observe.Inject(ctx, nop, e, c)
		observe.Inject(ctx, nil, e, c)
		if len(c) != 0 {
			t.Errorf("carrier = %v; want empty", c)
		}
		if got := observe.Extract(ctx, nop, e, c); got != ctx {
			t.Error("Extract with a plain observer changed ctx")
		}
	})

	t.Run("Multi forwards to each propagator, and a panic loses only its own", func(t *testing.T) {
		m := observe.Multi(nop, panicProp{nop}, headerProp{nop, "x-a"})
		before := observe.Dropped()
		c := mapCarrier{}
		observe.Inject(ctx, m, e, c)
		if c["x-a"] != "orders" {
			t.Errorf("carrier = %v; want x-a=orders", c)
		}
		got := observe.Extract(ctx, m, e, c)
		if v, _ := got.Value(ctxKey{}).(string); v != "orders" {
			t.Errorf("Extract's ctx carries %q; want orders", v)
		}
		if d := observe.Dropped() - before; d != 2 {
			t.Errorf("Dropped() rose by %d; want 2 (one Inject, one Extract)", d)
		}
	})

	t.Run("a panicking propagator leaves ctx as it was", func(t *testing.T) {
		if got := observe.Extract(ctx, panicProp{nop}, e, mapCarrier{}); got != ctx {
			t.Error("Extract after a panic changed ctx")
		}
	})
}
