package memo_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/internal/observetest"
	"github.com/async-patterns/async/memo"
	"github.com/async-patterns/async/observe"
)

func TestObserve(t *testing.T) {
	t.Run("misses, hits, loads, coalesced waiters and stale serves are reported", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rec := &observetest.Recorder{}
			release := make(chan struct{})
			c := memo.New(func(ctx context.Context, k string) (int, error) {
				if k == "bad" {
					return 0, errors.New("no such price")
				}
				<-release
				return len(k), nil
			}, memo.WithName("prices"), memo.WithObserver(rec), memo.WithTTL(time.Minute), memo.WithStale(time.Minute))
			defer c.Close()
			ctx := context.Background()
			done := make(chan struct{})
			go func() { c.Get(ctx, "abc"); close(done) }()
			synctest.Wait() // the first Get waits for its load
			go func() { c.Get(ctx, "abc") }()
			synctest.Wait() // the second joins it
			close(release)
			<-done
			synctest.Wait()
			c.Get(ctx, "abc") // hit
			c.Get(ctx, "bad") // a failing load
			time.Sleep(time.Minute + time.Second)
			c.Get(ctx, "abc") // stale, refreshed in the background
			synctest.Wait()
			got := observetest.Briefs(rec.Events())
			want := []string{
				"memo.miss source=memo name=prices",
				"memo.coalesced source=memo name=prices",
				"memo.load outcome=ok source=memo name=prices",
				"memo.hit source=memo name=prices",
				"memo.miss source=memo name=prices",
				`memo.load outcome=failed source=memo name=prices err="no such price"`,
				"memo.stale source=memo name=prices",
				"memo.load outcome=ok source=memo name=prices",
			}
			if !slices.Equal(got, want) {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	})
	t.Run("a panicking load is reported as panicked", func(t *testing.T) {
		rec := &observetest.Recorder{}
		c := memo.New(func(ctx context.Context, k int) (int, error) { panic("kaput") }, memo.WithObserver(rec))
		defer c.Close()
		c.Get(context.Background(), 1)
		es := rec.Events(observe.MemoLoad)
		if len(es) != 1 || observetest.Brief(es[0]) != `memo.load outcome=panicked source=memo err="panic: kaput"` {
			t.Errorf("events = %v", observetest.Briefs(es))
		}
	})
	t.Run("the cache is listed with its entries, and leaves at Close", func(t *testing.T) {
		c := memo.New(func(ctx context.Context, k int) (int, error) { return k, nil }, memo.WithName("listed-memo"), memo.WithMaxEntries(10))
		c.Get(context.Background(), 1)
		c.Get(context.Background(), 2)
		var o observe.Object
		for x := range observe.Objects() {
			if x.Name == "listed-memo" {
				o = x
			}
		}
		if o.Kind != "memo" || o.Gauges.Depth != 2 || o.Gauges.Capacity != 10 {
			t.Errorf("Object = %+v; want kind memo, 2 entries, capacity 10", o)
		}
		c.Close()
		for x := range observe.Objects() {
			if x.ID == o.ID {
				t.Error("the cache is still listed after Close")
			}
		}
	})
}
