package memo

// Internal: these tests look at the cache's lock and its flights map, which
// a hang or a leak would leave behind.

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
)

func TestInvalidKeys(t *testing.T) {
	ctx := context.Background()

	t.Run("an unhashable key is an error, the lock stays free and the cache keeps working", func(t *testing.T) {
		type holder struct{ v any }
		var loads atomic.Int64
		c := New(func(ctx context.Context, k any) (string, error) {
			loads.Add(1)
			return "loaded", nil
		})
		for _, key := range []any{[]int{1}, map[string]int{}, holder{[]byte("x")}, [1]any{func() {}}} {
			var err error
			var panicked any
			func() {
				defer func() { panicked = recover() }()
				_, err = c.Get(ctx, key)
			}()
			if panicked != nil || !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Get(%T) = %v, panic %v; want an error matching ErrInvalidKey", key, err, panicked)
			}
			if !c.mu.TryLock() {
				t.Fatalf("after Get(%T), the cache's lock is still held: every later call would hang", key)
			}
			c.mu.Unlock()
			func() {
				defer func() { panicked = recover() }()
				c.Forget(key)
			}()
			if panicked != nil {
				t.Errorf("Forget(%T) panicked: %v; want nothing done", key, panicked)
			}
			if !c.mu.TryLock() {
				t.Fatalf("after Forget(%T), the cache's lock is still held", key)
			}
			c.mu.Unlock()
		}
		defer c.Close()
		if _, err := c.Get(ctx, []int{1}); err == nil || !strings.Contains(err.Error(), "[]int") {
			t.Errorf("Get([]int) = %v; want an error naming the key's type", err)
		}
		for _, key := range []any{1, "a", holder{2}, [1]any{"b"}} {
			if v, err := c.Get(ctx, key); v != "loaded" || err != nil {
				t.Errorf("Get(%v) = %q, %v; want \"loaded\", nil", key, v, err)
			}
		}
		if s := c.Stats(); loads.Load() != 4 || s.Loads != 4 || s.Misses != 4 || s.Hits != 0 {
			t.Errorf("%d loads, Stats() = %+v; want 4 loads, 4 misses, no hit", loads.Load(), s)
		}
	})

	t.Run("a key not equal to itself is an error and keeps nothing, however many Gets", func(t *testing.T) {
		type point struct{ X, Y float64 }
		nan := math.NaN()
		for _, key := range []any{nan, point{1, nan}, [2]float64{nan, 0}, complex(0, nan)} {
			var loads atomic.Int64
			c := New(func(ctx context.Context, k any) (int, error) {
				loads.Add(1)
				return 1, nil
			}, WithMaxEntries(10))
			refused := 0
			for range 10_000 {
				if _, err := c.Get(ctx, key); errors.Is(err, ErrInvalidKey) {
					refused++
				}
			}
			if refused != 10_000 {
				t.Errorf("%d of 10000 Gets of %v returned an error matching ErrInvalidKey; want all", refused, key)
			}
			c.Close()
			c.mu.Lock()
			flights, entries := len(c.flights), len(c.entries)
			c.mu.Unlock()
			if loads.Load() != 0 || flights != 0 || entries != 0 {
				t.Errorf("after 10000 Gets of %v: %d loads, %d flights and %d entries kept; want none", key, loads.Load(), flights, entries)
			}
		}
	})

	t.Run("a struct key with an interface field refuses what its field cannot hold", func(t *testing.T) {
		type deep struct {
			F float64
			V any
		}
		c := New(func(ctx context.Context, k deep) (int, error) { return 1, nil })
		defer c.Close()
		for _, key := range []deep{{V: []int{1}}, {F: math.NaN(), V: 1}} {
			if _, err := c.Get(ctx, key); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("Get(%v) = %v; want an error matching ErrInvalidKey", key, err)
			}
			c.Forget(key)
		}
		for range 2 {
			if v, err := c.Get(ctx, deep{F: 1, V: "x"}); v != 1 || err != nil {
				t.Errorf("Get(valid) = %v, %v; want 1, nil", v, err)
			}
		}
		if s := c.Stats(); s.Hits != 1 || s.Loads != 1 {
			t.Errorf("Stats() = %+v; want 1 hit, 1 load", s)
		}
	})

	t.Run("a float key type refuses NaN only", func(t *testing.T) {
		c := New(func(ctx context.Context, k float64) (float64, error) { return k * 2, nil })
		defer c.Close()
		if _, err := c.Get(ctx, math.NaN()); !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), "NaN") {
			t.Errorf("Get(NaN) = %v; want an error matching ErrInvalidKey that names the NaN", err)
		}
		for range 2 {
			if v, err := c.Get(ctx, math.Inf(1)); v != math.Inf(1) || err != nil {
				t.Errorf("Get(+Inf) = %v, %v; want +Inf, nil", v, err)
			}
		}
		if s := c.Stats(); s.Hits != 1 || s.Loads != 1 {
			t.Errorf("Stats() = %+v; want 1 hit, 1 load", s)
		}
	})

	t.Run("a hit with an interface, float or struct key allocates nothing", func(t *testing.T) {
		ca := New(func(ctx context.Context, k any) (int, error) { return 1, nil })
		defer ca.Close()
		cf := New(func(ctx context.Context, k float64) (int, error) { return 1, nil })
		defer cf.Close()
		type deep struct{ V any }
		cd := New(func(ctx context.Context, k deep) (int, error) { return 1, nil })
		defer cd.Close()
		var key any = "k"
		var pair any = [2]int{1, 2}
		ca.Get(ctx, key)
		ca.Get(ctx, pair)
		cf.Get(ctx, 1.5)
		cd.Get(ctx, deep{"k"})
		if n := testing.AllocsPerRun(100, func() {
			_, _ = ca.Get(ctx, key)
			_, _ = ca.Get(ctx, pair)
			_, _ = cf.Get(ctx, 1.5)
			_, _ = cd.Get(ctx, deep{"k"})
		}); n != 0 {
			t.Errorf("a hit allocated %v times; want 0", n)
		}
	})
}

func TestKeyCheckOf(t *testing.T) {
	type plain struct {
		S string
		N int
		P *int
	}
	type floats struct{ A [2]struct{ F float32 } }
	type deep struct {
		F float64
		V any
	}
	for _, tc := range []struct {
		typ  reflect.Type
		want keyCheck
	}{
		{reflect.TypeFor[string](), keyValid},
		{reflect.TypeFor[plain](), keyValid},
		{reflect.TypeFor[[4]int](), keyValid},
		{reflect.TypeFor[float64](), keyNaN},
		{reflect.TypeFor[complex64](), keyNaN},
		{reflect.TypeFor[floats](), keyNaN},
		{reflect.TypeFor[any](), keyIface},
		{reflect.TypeFor[error](), keyIface},
		{reflect.TypeFor[deep](), keyDeep},
		{reflect.TypeFor[[1]any](), keyDeep},
	} {
		if got := keyCheckOf(tc.typ); got != tc.want {
			t.Errorf("keyCheckOf(%v) = %v; want %v", tc.typ, got, tc.want)
		}
	}
}
