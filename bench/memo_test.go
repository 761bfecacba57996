package bench

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/async-patterns/async/memo"
)

// memoWaiters is how many goroutines ask for one cold key in the stampede.
const memoWaiters = 100

// BenchmarkMemo measures the cache's two paths.
//
// hit: one goroutine looks up 1024 cached keys in turn. mutexMap (the floor)
// is a map behind a sync.Mutex, syncMap a sync.Map; ours is a memo.Cache
// with no option, oursTTL one with WithTTL and WithMaxEntries (a clock read
// and an LRU move per hit). All hold the same keys and values.
//
// stampede: each op starts memoWaiters goroutines that ask for one new key at
// once; the load waits until every goroutine has arrived (the last one to
// arrive closes a channel just before its own call), then returns.
// singleflight is raw x/sync singleflight.Group.Do, which ours is built on;
// ours is memo.Cache.Get (bounded by WithMaxEntries so the run's keys do not
// pile up). Both report loads/op (1 when every waiter shared the load) and
// ns/item per waiter.
func BenchmarkMemo(b *testing.B) {
	ctx := context.Background()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "key-" + strconv.Itoa(i)
	}
	load := func(ctx context.Context, k string) (int, error) { return len(k), nil }

	b.Run("hit", func(b *testing.B) {
		b.Run("mutexMap", func(b *testing.B) {
			var mu sync.Mutex
			m := make(map[string]int, len(keys))
			for _, k := range keys {
				m[k] = len(k)
			}
			b.ReportAllocs()
			i, sum := 0, 0
			for b.Loop() {
				mu.Lock()
				v := m[keys[i&1023]]
				mu.Unlock()
				sum += v
				i++
			}
			sinkInt = sum
		})
		b.Run("syncMap", func(b *testing.B) {
			var m sync.Map
			for _, k := range keys {
				m.Store(k, len(k))
			}
			b.ReportAllocs()
			i, sum := 0, 0
			for b.Loop() {
				v, _ := m.Load(keys[i&1023])
				sum += v.(int)
				i++
			}
			sinkInt = sum
		})
		for _, ours := range []struct {
			name string
			opts []memo.Option
		}{
			{"ours", nil},
			{"oursTTL", []memo.Option{memo.WithTTL(time.Hour), memo.WithMaxEntries(len(keys))}},
		} {
			b.Run(ours.name, func(b *testing.B) {
				c := memo.New(load, ours.opts...)
				defer c.Close()
				for _, k := range keys {
					if _, err := c.Get(ctx, k); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				i, sum := 0, 0
				for b.Loop() {
					v, err := c.Get(ctx, keys[i&1023])
					if err != nil {
						panic(err)
					}
					sum += v
					i++
				}
				sinkInt = sum
			})
		}
	})

	b.Run("stampede", func(b *testing.B) {
		// op is one stampede: its waiters, and a channel the last of them
		// closes on arrival, which the load waits for. Written before the
		// op's goroutines start, read by them.
		var op struct {
			arrived atomic.Int64
			all     chan struct{}
		}
		var loads atomic.Int64
		load := func() {
			<-op.all
			loads.Add(1)
		}
		// stampede runs the ops; get is one waiter's call.
		stampede := func(b *testing.B, get func(key string)) {
			loads.Store(0)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				key := strconv.Itoa(n)
				n++
				op.arrived.Store(0)
				op.all = make(chan struct{})
				var wg sync.WaitGroup
				for range memoWaiters {
					wg.Go(func() {
						if op.arrived.Add(1) == memoWaiters {
							close(op.all)
						}
						get(key)
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(loads.Load())/float64(b.N), "loads/op")
			perItem(b, memoWaiters)
		}
		b.Run("singleflight", func(b *testing.B) {
			var g singleflight.Group
			fn := func() (any, error) {
				load()
				return 1, nil
			}
			stampede(b, func(key string) {
				v, err, _ := g.Do(key, fn)
				if err != nil || v.(int) != 1 {
					panic(err)
				}
			})
		})
		b.Run("ours", func(b *testing.B) {
			c := memo.New(func(ctx context.Context, key string) (int, error) {
				load()
				return 1, nil
			}, memo.WithMaxEntries(1024))
			defer c.Close()
			stampede(b, func(key string) {
				v, err := c.Get(ctx, key)
				if err != nil || v != 1 {
					panic(err)
				}
			})
		})
	})
}
