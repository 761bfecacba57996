package bench

import (
	"context"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/limit/redislimit"
)

// BenchmarkRedisLimit measures the limiters shared on Redis against
// github.com/go-redis/redis_rate/v10 on one redis-server the benchmark
// starts (skipped without one: apt-get install redis-server), in the same
// run.
//
// allow: a decision of a limit that admits everything (1e6/s, burst 1e6:
// far above what one server serves here), by 8 goroutines per GOMAXPROCS
// sharing one limiter: ours is redislimit.Rate's Allow, redis_rate is
// Limiter.Allow (both one EVALSHA of a GCRA script that reads TIME and the
// key and writes the key back). Not 1e9/s: redis_rate keeps its time in
// float seconds, where an increment of 1 ns vanishes, so at that rate its
// script never writes the key (and never limits): not the same work.
// semaphore: one Acquire and one Release of a redislimit.Semaphore with
// free permits. Our limiters get a timeout of a second (redis_rate has
// none): on this shared machine a command can wait longer than the 50ms
// default, and a decision taken locally would not be the one measured.
// rtt/op is the writes to the connections per operation (one
// per command or pipeline sent), counted by a net.Conn the clients dial
// through (redislimit dials its own connections with the client's
// options, Dialer included, so a go-redis hook would not see them).
func BenchmarkRedisLimit(b *testing.B) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		b.Log("skipping RedisLimit: redis-server not on PATH (apt-get install redis-server)")
		return
	}
	srv := startBenchRedis(b)
	ctx := context.Background()
	var trips atomic.Int64
	client := func(b *testing.B) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: srv.addr(), ContextTimeoutEnabled: true, Dialer: countingDialer(&trips)})
		b.Cleanup(func() { c.Close() })
		return c
	}
	// run runs op in parallel and reports the round trips per op.
	run := func(b *testing.B, op func() error) {
		const parallelism = 8
		var wg sync.WaitGroup
		for range parallelism * runtime.GOMAXPROCS(0) { // dials every connection, loads the script
			wg.Go(func() {
				if err := op(); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		b.SetParallelism(parallelism)
		b.ReportAllocs()
		trips.Store(0)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(trips.Load())/float64(b.N), "rtt/op")
	}
	// Warm the server and this process (heap, scheduler, the server's
	// first allocations) with both contenders before either is timed: the
	// first row of a run is otherwise measured slower, whichever it is.
	{
		r := redislimit.NewRate(client(b), "warm", 1e6, 1e6, redislimit.WithTimeout(time.Second))
		l := redis_rate.NewLimiter(client(b))
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for range 250 {
					r.Allow(ctx)
					l.Allow(ctx, "warm", redis_rate.PerSecond(1e6))
				}
			})
		}
		wg.Wait()
		r.Close()
	}
	b.Run("allow", func(b *testing.B) {
		b.Run("ours", func(b *testing.B) {
			r := redislimit.NewRate(client(b), "bench-"+strconv.Itoa(b.N), 1e6, 1e6, redislimit.WithTimeout(time.Second))
			b.Cleanup(func() { r.Close() })
			run(b, func() error {
				if !r.Allow(ctx) {
					return errRefused
				}
				return nil
			})
		})
		b.Run("redis_rate", func(b *testing.B) {
			l := redis_rate.NewLimiter(client(b))
			key := "bench-" + strconv.Itoa(b.N)
			run(b, func() error {
				res, err := l.Allow(ctx, key, redis_rate.PerSecond(1e6))
				if err == nil && res.Allowed != 1 {
					return errRefused
				}
				return err
			})
		})
	})
	b.Run("semaphore", func(b *testing.B) {
		b.Run("ours", func(b *testing.B) {
			s := redislimit.NewSemaphore(client(b), "bench-"+strconv.Itoa(b.N), 1<<20, redislimit.WithTimeout(time.Second))
			b.Cleanup(func() { s.Close() })
			run(b, func() error {
				p, err := s.Acquire(ctx)
				if err != nil {
					return err
				}
				s.Release(p, limit.Success)
				return nil
			})
		})
	})
}

var errRefused = errorString("refused")

type errorString string

func (e errorString) Error() string { return string(e) }

// countingDialer dials TCP connections that count their writes in n.
func countingDialer(n *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{c, n}, nil
	}
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}
