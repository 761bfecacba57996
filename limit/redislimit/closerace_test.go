package redislimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/limit/redislimit"
)

// otherClient hides a *redis.Client's type, so the limiters use it as
// given, without ContextTimeoutEnabled: each command on its own goroutine,
// which Close waits for.
type otherClient struct{ *redis.Client }

// Many callers while Close runs, on the path where each command runs on a
// goroutine of its own: no command may start after Close began waiting for
// them (a data race on the WaitGroup, or its "reused before previous Wait
// has returned" panic), and every call after Close decides on the local
// share.
func TestUseDuringClose(t *testing.T) {
	s := startRedis(t)
	c := otherClient{s.client(t)}
	const callers = 16
	for round := range 20 {
		r := redislimit.NewRate(c, "closerace", 1e6, 1000)
		sem := redislimit.NewSemaphore(c, "closerace", 1000)
		stop := make(chan struct{})
		var wg, warm sync.WaitGroup
		warm.Add(callers)
		for i := range callers {
			wg.Go(func() {
				for n := 0; ; n++ {
					if n == 3 {
						warm.Done() // Close comes while commands are under way
					}
					select {
					case <-stop:
						return
					default:
					}
					if i%2 == 0 {
						r.Allow(context.Background())
						continue
					}
					if p, err := sem.Acquire(context.Background()); err == nil {
						sem.Release(p, limit.Success)
					}
				}
			})
		}
		warm.Wait()
		if err := r.Close(); err != nil {
			t.Errorf("round %d: Rate.Close() = %v", round, err)
		}
		if err := sem.Close(); err != nil {
			t.Errorf("round %d: Semaphore.Close() = %v", round, err)
		}
		close(stop)
		wg.Wait()
		if r.Shared() || sem.Shared() {
			t.Errorf("round %d: after Close, Shared() = %v, %v; want false, false (the local share)", round, r.Shared(), sem.Shared())
		}
		// The callers may have left the local bucket empty (its burst is
		// 1000 over the replicas of the earlier rounds, still counted):
		// a token comes back within microseconds, not never.
		for since := time.Now(); !r.Allow(context.Background()); time.Sleep(time.Millisecond) {
			if time.Since(since) > time.Second {
				t.Errorf("round %d: Allow() after Close = false for 1s; want true from the local share", round)
				break
			}
		}
		p, err := sem.Acquire(context.Background())
		if err != nil {
			t.Fatalf("round %d: Acquire() after Close = %v; want a permit of the local share", round, err)
		}
		sem.Release(p, limit.Success)
	}
}
