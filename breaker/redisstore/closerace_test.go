package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/breaker/redisstore"
)

// Many callers while Close runs, on a client without ContextTimeoutEnabled
// (each operation on a goroutine of its own, which Close waits for): no
// operation may start after Close began waiting for them (a data race on
// the WaitGroup, or its "reused before previous Wait has returned" panic),
// and after Close the breaker goes on with its in-process state.
func TestUseDuringClose(t *testing.T) {
	s := startRedis(t)
	c := redis.NewClient(&redis.Options{Addr: s.addr(), DialTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	const callers = 16
	for round := range 20 {
		store := redisstore.New(c, redisstore.WithTimeout(5*time.Second))
		b := breaker.New(breaker.WithName("closerace"), breaker.WithStore(store), breaker.WithConsecutiveFailures(1000))
		stop := make(chan struct{})
		var wg, warm sync.WaitGroup
		warm.Add(callers)
		for range callers {
			wg.Go(func() {
				for n := 0; ; n++ {
					if n == 3 {
						warm.Done() // Close comes while operations are under way
					}
					select {
					case <-stop:
						return
					default:
					}
					if err := b.Do(context.Background(), succeed); err != nil {
						t.Errorf("round %d: Do() = %v; want nil whatever the store does", round, err)
						return
					}
				}
			})
		}
		warm.Wait()
		if err := store.Close(); err != nil {
			t.Errorf("round %d: Close() = %v", round, err)
		}
		close(stop)
		wg.Wait()
		if _, err := store.Load(context.Background(), "closerace", &breaker.Policy{ConsecutiveFailures: 1, OpenTimeout: time.Second, HalfOpenRequests: 1}); !errors.Is(err, redisstore.ErrClosed) {
			t.Errorf("round %d: Load() after Close = %v; want ErrClosed", round, err)
		}
		if err := b.Do(context.Background(), succeed); err != nil {
			t.Errorf("round %d: Do() after Close = %v; want nil (in-process state)", round, err)
		}
	}
}
