package memo_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/async-patterns/async/memo"
)

// This example shows a cache in front of a slow lookup: the first Get of a
// key loads it, later Gets are answered from the cache.
func Example() {
	ctx := context.Background()
	lookups := 0
	prices := memo.New(func(ctx context.Context, sku string) (int, error) {
		lookups++ // a database query or an HTTP call
		return len(sku) * 100, nil
	}, memo.WithTTL(time.Minute), memo.WithMaxEntries(1000))
	defer prices.Close()

	for _, sku := range []string{"apple", "apple", "kiwi", "apple"} {
		p, err := prices.Get(ctx, sku)
		fmt.Println(sku, p, err)
	}
	s := prices.Stats()
	fmt.Printf("lookups: %d, hits: %d, misses: %d\n", lookups, s.Hits, s.Misses)
	// Output:
	// apple 500 <nil>
	// apple 500 <nil>
	// kiwi 400 <nil>
	// apple 500 <nil>
	// lookups: 2, hits: 2, misses: 2
}

// This example shows concurrent Gets of one key sharing a single load: the
// load waits until all ten callers are waiting (Stats counts them), then
// answers them all at once.
func Example_coalescing() {
	ctx := context.Background()
	var c *memo.Cache[string, string]
	loads := 0
	c = memo.New(func(ctx context.Context, user string) (string, error) {
		loads++
		for c.Stats().Misses < 10 { // wait until every caller has joined
			runtime.Gosched()
		}
		return "profile of " + user, nil
	})
	defer c.Close()

	results := make([]string, 10)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			results[i], _ = c.Get(ctx, "ada")
		})
	}
	wg.Wait()
	fmt.Println(results[0], "/", results[9])
	fmt.Println("loads:", loads, "coalesced:", c.Stats().Coalesced)
	// Output:
	// profile of ada / profile of ada
	// loads: 1 coalesced: 9
}

// This example shows a panic in the load coming back as an error, not a
// crash, and not cached: the next Get loads again.
func Example_panic() {
	ctx := context.Background()
	calls := 0
	c := memo.New(func(ctx context.Context, id int) (string, error) {
		calls++
		if calls == 1 {
			panic("nil map write")
		}
		return fmt.Sprint("row ", id), nil
	})
	defer c.Close()

	_, err := c.Get(ctx, 7)
	var pe *memo.PanicError
	fmt.Println("panic as error:", errors.As(err, &pe), pe.Value)
	v, err := c.Get(ctx, 7)
	fmt.Println(v, err)
	// Output:
	// panic as error: true nil map write
	// row 7 <nil>
}

// This example shows Forget invalidating an entry, say after a write: the
// next Get loads the new value.
func ExampleCache_Forget() {
	ctx := context.Background()
	db := map[string]string{"color": "red"}
	c := memo.New(func(ctx context.Context, key string) (string, error) {
		return db[key], nil
	})
	defer c.Close()

	v, _ := c.Get(ctx, "color")
	fmt.Println(v)
	db["color"] = "blue"
	v, _ = c.Get(ctx, "color")
	fmt.Println("before Forget:", v)
	c.Forget("color")
	v, _ = c.Get(ctx, "color")
	fmt.Println("after Forget:", v)
	// Output:
	// red
	// before Forget: red
	// after Forget: blue
}

// This example shows a key the cache refuses: with an interface key type, a
// slice cannot be hashed. The Get gets an error, and the cache goes on.
func ExampleErrInvalidKey() {
	ctx := context.Background()
	names := memo.New(func(ctx context.Context, key any) (string, error) {
		return fmt.Sprint("name of ", key), nil
	})
	defer names.Close()

	_, err := names.Get(ctx, []int{1, 2})
	fmt.Println(errors.Is(err, memo.ErrInvalidKey))
	v, err := names.Get(ctx, 42)
	fmt.Println(v, err)
	// Output:
	// true
	// name of 42 <nil>
}
