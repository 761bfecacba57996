package memo_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/memo"
)

// forever is Go's usual "no limit" duration.
const forever = time.Duration(math.MaxInt64)

func TestForever(t *testing.T) {
	t.Run("WithTTL(forever) keeps a value", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var l counting
			c := memo.New(l.load, memo.WithTTL(forever))
			defer c.Close()
			mustGet(t, c, "k", "k-v1")
			time.Sleep(1000 * time.Hour)
			mustGet(t, c, "k", "k-v1")
		})
	})

	t.Run("WithErrorTTL(forever) keeps an error", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			c := memo.New(func(ctx context.Context, k string) (string, error) {
				calls++
				return "", errDown
			}, memo.WithErrorTTL(forever), memo.WithTTL(time.Minute))
			defer c.Close()
			for range 2 {
				if _, err := c.Get(context.Background(), "k"); !errors.Is(err, errDown) {
					t.Fatalf("Get() = %v; want %v", err, errDown)
				}
				time.Sleep(1000 * time.Hour)
			}
			if calls != 1 {
				t.Errorf("load ran %d times; want 1", calls)
			}
		})
	})

	t.Run("WithStale(forever) serves a value past its TTL while it is refreshed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var l counting
			c := memo.New(l.load, memo.WithTTL(time.Minute), memo.WithStale(forever))
			defer c.Close()
			mustGet(t, c, "k", "k-v1")
			time.Sleep(1000 * time.Hour)
			mustGet(t, c, "k", "k-v1") // stale, served at once; starts the refresh
			synctest.Wait()
			mustGet(t, c, "k", "k-v2")
			if s := c.Stats(); s.Stale != 1 || s.Loads != 2 {
				t.Errorf("Stats() = %+v; want 1 stale serve, 2 loads", s)
			}
		})
	})

	t.Run("WithTTL and WithStale both near forever keep a value", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var l counting
			c := memo.New(l.load, memo.WithTTL(forever-1), memo.WithStale(forever))
			defer c.Close()
			mustGet(t, c, "k", "k-v1")
			time.Sleep(1000 * time.Hour)
			mustGet(t, c, "k", "k-v1")
			if s := c.Stats(); s.Stale != 0 || s.Loads != 1 {
				t.Errorf("Stats() = %+v; want no stale serve, 1 load", s)
			}
		})
	})
}
