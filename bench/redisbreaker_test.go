package bench

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redsync/redsync/v4"
	"github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/breaker/redisstore"
)

// benchmarkShared measures a breaker shared by R=8 replicas, each with M=8
// callers, every call taking 10 ms (a sleep standing for a dependency), on
// a redis-server the benchmark starts on a loopback port (skipped without
// one: apt-get install redis-server). Each replica has its own go-redis
// client, as separate processes would.
//
// Contenders: ours is breaker.New with redisstore.Store; gobreaker is local
// gobreaker v2, one independent breaker per replica (the throughput to
// match: no sharing at all); gobreakerDistributed is gobreaker v2's
// DistributedCircuitBreaker. Its Redis store (gobreaker's v2/redis module)
// is not served by the module proxy, so redsyncStore below is the
// equivalent written on go-redis and redsync following that module's code,
// with a mutex around its map of locks (the original has none: a data race).
//
// shared-8x8 is the closed breaker, every call succeeding, the callers
// starting spread over one call's time; shared-open is the open breaker,
// every call rejected. rtt/call is the Redis round trips
// (commands and pipelines sent, counted by a go-redis hook) per call;
// errors/call counts calls that failed for another reason than the
// dependency (gobreakerDistributed's lock timeouts).
func benchmarkShared(b *testing.B) {
	const replicas, callers = 8, 8
	const callTime = 10 * time.Millisecond
	ctx := context.Background()
	work := func(context.Context) error { time.Sleep(callTime); return nil }
	gwork := func() (struct{}, error) { time.Sleep(callTime); return struct{}{}, nil }
	gfail := func() (struct{}, error) { return struct{}{}, errors.New("down") }
	fail := func(context.Context) error { return errors.New("down") }

	if _, err := exec.LookPath("redis-server"); err != nil {
		b.Log("skipping Breaker/shared-*: redis-server not on PATH (apt-get install redis-server)")
		return
	}
	srv := startBenchRedis(b)
	// fleet builds one client per replica, counting round trips in trips.
	fleet := func(b *testing.B, trips *atomic.Int64) []*redis.Client {
		cs := make([]*redis.Client, replicas)
		for i := range cs {
			cs[i] = redis.NewClient(&redis.Options{Addr: srv.addr(), ContextTimeoutEnabled: true, PoolSize: 2 * callers})
			cs[i].AddHook(tripCounter{trips})
			b.Cleanup(func() { cs[i].Close() })
		}
		return cs
	}
	ours := func(b *testing.B, name string, trips *atomic.Int64) []*breaker.Breaker {
		bs := make([]*breaker.Breaker, replicas)
		for i, c := range fleet(b, trips) {
			st := redisstore.New(c, redisstore.WithTimeout(time.Second))
			b.Cleanup(func() { st.Close() })
			bs[i] = breaker.New(breaker.WithName(name), breaker.WithStore(st), breaker.WithOpenTimeout(time.Minute))
		}
		return bs
	}
	local := func() []*gobreaker.CircuitBreaker[struct{}] {
		bs := make([]*gobreaker.CircuitBreaker[struct{}], replicas)
		for i := range bs {
			bs[i] = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{Timeout: time.Minute})
		}
		return bs
	}
	distributed := func(b *testing.B, name string, trips *atomic.Int64) []*gobreaker.DistributedCircuitBreaker[struct{}] {
		bs := make([]*gobreaker.DistributedCircuitBreaker[struct{}], replicas)
		for i, c := range fleet(b, trips) {
			var err error
			bs[i], err = gobreaker.NewDistributedCircuitBreaker[struct{}](newRedsyncStore(c), gobreaker.Settings{Name: name, Timeout: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
		}
		return bs
	}

	b.Run("shared-8x8", func(b *testing.B) {
		b.Run("ours", func(b *testing.B) {
			var trips atomic.Int64
			bs := ours(b, "closed", &trips)
			runFleet(b, replicas, callers, callTime, &trips, func(r int) error { return bs[r].Do(ctx, work) })
		})
		b.Run("gobreaker", func(b *testing.B) {
			bs := local()
			runFleet(b, replicas, callers, callTime, nil, func(r int) error { _, err := bs[r].Execute(gwork); return err })
		})
		b.Run("gobreakerDistributed", func(b *testing.B) {
			var trips atomic.Int64
			bs := distributed(b, "gobreaker-closed", &trips)
			runFleet(b, replicas, callers, callTime, &trips, func(r int) error { _, err := bs[r].Execute(gwork); return err })
		})
	})
	b.Run("shared-open", func(b *testing.B) {
		b.Run("ours", func(b *testing.B) {
			var trips atomic.Int64
			bs := ours(b, "open", &trips)
			bs[0].Reset()
			for range breaker.DefaultConsecutiveFailures {
				bs[0].Do(ctx, fail)
			}
			runFleet(b, replicas, callers, 0, &trips, func(r int) error { return rejected(bs[r].Do(ctx, work)) })
		})
		b.Run("gobreaker", func(b *testing.B) {
			bs := local()
			for _, br := range bs {
				for range 6 {
					br.Execute(gfail)
				}
			}
			runFleet(b, replicas, callers, 0, nil, func(r int) error { _, err := bs[r].Execute(gwork); return rejected(err) })
		})
		b.Run("gobreakerDistributed", func(b *testing.B) {
			var trips atomic.Int64
			bs := distributed(b, "gobreaker-open-"+strconv.Itoa(b.N), &trips)
			for range 6 {
				bs[0].Execute(gfail)
			}
			runFleet(b, replicas, callers, 0, &trips, func(r int) error { _, err := bs[r].Execute(gwork); return rejected(err) })
		})
	})
}

// rejected turns the expected rejection into nil and anything else into an
// error.
func rejected(err error) error {
	if errors.Is(err, breaker.ErrOpen) || errors.Is(err, gobreaker.ErrOpenState) {
		return nil
	}
	if err == nil {
		return errors.New("call admitted by an open breaker")
	}
	return err
}

// runFleet makes b.N calls from callers goroutines on each of replicas
// replicas, after one untimed call per replica (script loading) and one per
// caller (dials), and reports the round trips and errors per call. The
// callers start spread evenly over stagger (the closed scenario passes one
// call's time), so that, as with independent requests, they do not all
// reach Redis in the same instant, 64 at a time.
func runFleet(b *testing.B, replicas, callers int, stagger time.Duration, trips *atomic.Int64, call func(replica int) error) {
	var wg sync.WaitGroup
	for r := range replicas {
		call(r)
	}
	for r := range replicas {
		for range callers {
			wg.Go(func() { call(r) })
		}
	}
	wg.Wait()
	var next, errs atomic.Int64
	if trips != nil {
		trips.Store(0)
	}
	b.ResetTimer()
	for r := range replicas {
		for c := range callers {
			wg.Go(func() {
				time.Sleep(stagger * time.Duration(r*callers+c) / time.Duration(replicas*callers))
				for next.Add(1) <= int64(b.N) {
					if call(r) != nil {
						errs.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	b.StopTimer()
	if trips != nil {
		b.ReportMetric(float64(trips.Load())/float64(b.N), "rtt/call")
	}
	b.ReportMetric(float64(errs.Load())/float64(b.N), "errors/call")
}

// redsyncStore is the gobreaker.SharedDataStore of gobreaker's v2/redis
// module, rewritten on go-redis and redsync (see benchmarkShared).
type redsyncStore struct {
	client *redis.Client
	rs     *redsync.Redsync
	mu     sync.Mutex // protects locks
	locks  map[string]*redsync.Mutex
}

func newRedsyncStore(c *redis.Client) *redsyncStore {
	return &redsyncStore{client: c, rs: redsync.New(goredis.NewPool(c)), locks: map[string]*redsync.Mutex{}}
}

func (s *redsyncStore) Lock(name string) error {
	m := s.rs.NewMutex(name, redsync.WithExpiry(5*time.Second))
	if err := m.Lock(); err != nil {
		return err
	}
	s.mu.Lock()
	s.locks[name] = m
	s.mu.Unlock()
	return nil
}

func (s *redsyncStore) Unlock(name string) error {
	s.mu.Lock()
	m := s.locks[name]
	delete(s.locks, name)
	s.mu.Unlock()
	if m == nil {
		return errors.New("unlock failed")
	}
	if ok, err := m.Unlock(); !ok || err != nil {
		return errors.New("unlock failed")
	}
	return nil
}

func (s *redsyncStore) GetData(name string) ([]byte, error) {
	return s.client.Get(context.Background(), name).Bytes()
}

func (s *redsyncStore) SetData(name string, data []byte) error {
	return s.client.Set(context.Background(), name, data, 0).Err()
}

// tripCounter is a go-redis hook counting round trips.
type tripCounter struct{ n *atomic.Int64 }

func (c tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// benchRedis is a redis-server started for the benchmarks.
type benchRedis struct{ port int }

func (s *benchRedis) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// startBenchRedis starts redis-server (no persistence) on a free loopback
// port, stopped when b ends.
func startBenchRedis(b *testing.B) *benchRedis {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "Ready to accept connections") {
			go func() {
				for sc.Scan() {
				}
			}()
			return &benchRedis{port: port}
		}
	}
	b.Fatal("redis-server exited before it was ready")
	return nil
}
