package breaker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/internal/observetest"
	"github.com/async-patterns/async/observe"
)

func TestObserve(t *testing.T) {
	t.Run("a breaker that trips reports its changes and its rejections", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rec := &observetest.Recorder{}
			b := New(WithName("payments"), WithConsecutiveFailures(2), WithOpenTimeout(time.Second), WithObserver(rec))
			boom := errors.New("boom")
			for range 2 {
				b.Do(t.Context(), func(context.Context) error { return boom })
			}
			time.Sleep(400 * time.Millisecond)
			if err := b.Do(t.Context(), succeed); !errors.Is(err, ErrOpen) {
				t.Fatalf("Do() = %v; want ErrOpen", err)
			}
			time.Sleep(time.Second)
			b.Do(t.Context(), succeed) // the probe closes it
			got := observetest.Briefs(rec.Events())
			want := []string{
				"breaker.state_change source=breaker name=payments from=closed to=open",
				`breaker.rejected outcome=rejected source=breaker name=payments wait=601ms err="breaker: payments: circuit open; retry after 601ms"`,
				"breaker.state_change source=breaker name=payments from=open to=half-open",
				"breaker.state_change source=breaker name=payments from=half-open to=closed",
			}
			if !slices.Equal(got, want) {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	})
	t.Run("a store outage and re-join are reported once each", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rec := &observetest.Recorder{}
			s := &stubStore{down: true}
			b := New(WithName("db"), WithStore(s), WithObserver(rec))
			b.Do(t.Context(), succeed)
			b.Do(t.Context(), succeed)
			time.Sleep(StoreRetryInterval)
			s.setDown(false)
			b.Do(t.Context(), succeed)
			got := observetest.Briefs(rec.Events(observe.BreakerStoreDown, observe.BreakerStoreUp))
			want := []string{
				`breaker.store_down outcome=failed source=breaker name=db err="store down"`,
				"breaker.store_up outcome=ok source=breaker name=db",
			}
			if !slices.Equal(got, want) {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	})
	t.Run("a breaker is listed with its state", func(t *testing.T) {
		b := New(WithName("listed-breaker"))
		b.Trip()
		var o observe.Object
		for x := range observe.Objects() {
			if x.Name == "listed-breaker" {
				o = x
			}
		}
		if o.Kind != "breaker" || o.Gauges.State != "open" {
			t.Errorf("Object = %+v; want kind breaker, state open", o)
		}
	})
	t.Run("a nil observer panics naming the option", func(t *testing.T) {
		defer func() {
			if r, _ := recover().(string); r != "breaker: nil Observer passed to WithObserver" {
				t.Errorf("panic = %q", r)
			}
		}()
		WithObserver(nil)
	})
}
