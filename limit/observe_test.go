package limit_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/async-patterns/async/internal/observetest"
	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/observe"
)

func TestObserve(t *testing.T) {
	t.Run("rejections are reported with their RetryAfter", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rec := &observetest.Recorder{}
			ctx := context.Background()
			b := limit.NewBulkhead(1, limit.WithMaxWaiting(0), limit.WithName("db"), limit.WithObserver(rec))
			p, err := b.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			b.Acquire(ctx) // no slot, no waiting: rejected
			b.Release(p, limit.Success)
			r := limit.NewRate(1, 1, limit.WithMaxWait(0), limit.WithObserver(rec))
			r.Wait(ctx)
			r.Wait(ctx) // the next token is a second away: rejected
			got := observetest.Briefs(rec.Events())
			want := []string{
				`limit.rejected outcome=rejected source=limit name=db err="limit: db: too many waiting"`,
				`limit.rejected outcome=rejected source=limit wait=1s err="limit: rate: no token within the max wait; retry after 1s"`,
			}
			if !slices.Equal(got, want) {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	})
	t.Run("a limiter is listed with its limit and what it holds", func(t *testing.T) {
		b := limit.NewBulkhead(3, limit.WithName("listed-bulkhead"))
		p, _ := b.Acquire(context.Background())
		defer b.Release(p, limit.Success)
		var o observe.Object
		for x := range observe.Objects() {
			if x.Name == "listed-bulkhead" {
				o = x
			}
		}
		if o.Kind != "limit.bulkhead" || o.Gauges.Limit != 3 || o.Gauges.Running != 1 {
			t.Errorf("Object = %+v; want kind limit.bulkhead, limit 3, 1 running", o)
		}
	})
}
