package memo_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/async-patterns/async/memo"
)

// BenchmarkGet measures a hit, with no option and with a TTL and an LRU
// bound, from one goroutine and from GOMAXPROCS goroutines. The side-by-side
// comparison with a mutex-guarded map, sync.Map and singleflight is in the
// bench module.
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	for _, cfg := range []struct {
		name string
		opts []memo.Option
	}{
		{"hit", nil},
		{"hit-ttl-lru", []memo.Option{memo.WithTTL(time.Hour), memo.WithMaxEntries(len(keys))}},
	} {
		c := memo.New(func(ctx context.Context, k string) (int, error) { return len(k), nil }, cfg.opts...)
		for _, k := range keys {
			if _, err := c.Get(ctx, k); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(cfg.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := c.Get(ctx, keys[i&1023]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(cfg.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := c.Get(ctx, keys[i&1023]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
		c.Close()
	}
}
