package redisstore_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/breaker/redisstore"
)

func TestMain(m *testing.M) {
	// The outage tests make the breakers report through slog; keep the
	// output readable.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	redis.SetLogger(quiet{}) // go-redis logs failed dials while the server is down
	goleak.VerifyTestMain(settle{m})
}

// settle is m, whose Run then waits, up to 3s, for the goroutines the
// tests started to end before goleak looks for leaks: after a failed dial
// go-redis's pool dials again on a goroutine of its own that sleeps a
// second between attempts and sees its pool closed only when it wakes,
// which outlives goleak's own retries when an outage test runs last (as
// -shuffle can order it). A goroutine still there after 3s is a leak.
type settle struct{ m *testing.M }

func (s settle) Run() int {
	code := s.m.Run()
	for end := time.Now().Add(3 * time.Second); goleak.Find() != nil && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	return code
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Why these tests run in real time, not in a testing/synctest bubble: the
// breaker's clock is the Redis server's TIME, in another process, which a
// bubble's fake clock cannot move; a goroutine blocked on the network is
// not durably blocked either. So open timeouts are short (tens to a few
// hundred milliseconds), a test that must let an open timeout pass on the
// server's clock sleeps past it (the only time.Sleep calls here), and every
// other wait is for an event (hooks, channels), with generous upper bounds
// only where the contract is a bound.

// server is a redis-server process the test started on a loopback port.
type server struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// startRedis starts a redis-server with no persistence on a free loopback
// port and stops it when the test ends. Without redis-server on PATH the
// test is skipped, unless ASYNC_REQUIRE_REDIS=1.
func startRedis(t testing.TB) *server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("ASYNC_REQUIRE_REDIS") == "1" {
			t.Fatalf("redis-server not on PATH and ASYNC_REQUIRE_REDIS=1: %v", err)
		}
		t.Skip("redis-server not on PATH (apt-get install redis-server); skipping the tests against a real Redis")
	}
	// The port is free when picked, not always when redis-server binds
	// it: the machine's outgoing connections take their local ports from
	// the same range, and other tests start servers too (seen under load:
	// "exited before it was ready").
	// Another port is tried then.
	s := &server{t: t}
	for attempt := 1; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.port = l.Addr().(*net.TCPAddr).Port
		l.Close()
		err = s.launch()
		if err == nil {
			break
		}
		if attempt == 5 {
			t.Fatal(err)
		}
		t.Logf("%v; trying another port", err)
	}
	t.Cleanup(s.stop)
	return s
}

// start runs redis-server on s.port and returns once it accepts connections.
func (s *server) start() {
	s.t.Helper()
	if err := s.launch(); err != nil {
		s.t.Fatal(err)
	}
}

// launch runs redis-server on s.port and returns once it accepts
// connections, or an error with what it wrote if it did not.
func (s *server) launch() error {
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "notice")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %v", err)
	}
	ready := make(chan bool, 1)
	var mu sync.Mutex
	var said []string // what it wrote, for the error
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			if !found {
				mu.Lock()
				said = append(said, sc.Text())
				mu.Unlock()
			}
			if !found && strings.Contains(sc.Text(), "Ready to accept connections") {
				found = true
				ready <- true
			}
		}
		if !found {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Process.Kill()
			cmd.Wait()
			mu.Lock()
			defer mu.Unlock()
			return fmt.Errorf("redis-server on port %d exited before it was ready: %q", s.port, said)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("redis-server on port %d not ready after 10s: %q", s.port, said)
	}
	s.cmd = cmd
	return nil
}

// stop kills the server (SIGKILL: nothing is saved) and waits for it.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// client returns a new client of s, closed when the test ends, that counts
// the commands it sends in *trips (when trips is not nil).
func (s *server) client(t testing.TB, trips *atomic.Int64) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:                  s.addr(),
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second,
	})
	if trips != nil {
		c.AddHook(counter{trips})
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// counter is a go-redis hook that counts round trips (one per command or
// pipeline sent).
type counter struct{ n *atomic.Int64 }

func (c counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

// replica is one process's view: its own client, store and breaker.
type replica struct {
	trips atomic.Int64
	store *redisstore.Store
	b     *breaker.Breaker
}

// newReplica builds a replica of the breaker named name on s; the store is
// closed when the test ends.
func newReplica(t testing.TB, s *server, name string, opts ...breaker.Option) *replica {
	r := &replica{}
	// A long timeout: these tests are about sharing, not outages, and a
	// loaded machine under -race can be slow to answer.
	r.store = redisstore.New(s.client(t, &r.trips), redisstore.WithTimeout(5*time.Second))
	t.Cleanup(func() { r.store.Close() })
	r.b = breaker.New(append([]breaker.Option{breaker.WithName(name), breaker.WithStore(r.store)}, opts...)...)
	return r
}

// scriptCalls returns how many EVALSHA and EVAL commands the server has
// run (those answered NOSCRIPT included), from INFO commandstats through
// c, or -1 if it does not answer.
func scriptCalls(ctx context.Context, c *redis.Client) int64 {
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return -1
	}
	var n int64
	for line := range strings.Lines(info) {
		for _, cmd := range []string{"cmdstat_evalsha:calls=", "cmdstat_eval:calls="} {
			if rest, ok := strings.CutPrefix(line, cmd); ok {
				v, _, _ := strings.Cut(rest, ",")
				k, _ := strconv.ParseInt(v, 10, 64)
				n += k
			}
		}
	}
	return n
}
