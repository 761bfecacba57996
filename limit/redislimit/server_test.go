package redislimit_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv("REDISLIMIT_CHILD"); mode != "" {
		child(mode) // a process of the semaphore model test; exits
	}
	redis.SetLogger(quiet{}) // go-redis logs failed dials while the server is down
	goleak.VerifyTestMain(m)
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Why these tests run in real time, not in a testing/synctest bubble: the
// limiters' clock is the Redis server's TIME, in another process, and a
// goroutine blocked on the network is not durably blocked. Waits are for
// events (log records, a child's line), with generous upper bounds only
// where the contract is a bound (the re-join's 250ms, the lease + 1s).

// server is a redis-server process the test started on a loopback port.
type server struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// startRedis starts a redis-server with no persistence on a free loopback
// port and kills it when the test ends. Without redis-server on PATH the
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

// start runs redis-server on s.port and returns once it accepts
// connections.
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
		"--save", "", "--appendonly", "no", "--daemonize", "no")
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

// stop kills the server (SIGKILL) and waits for it.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// client returns a new client of s, closed when the test ends.
func (s *server) client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.addr(), DialTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

// now is the server's TIME in microseconds.
func now(t testing.TB, c *redis.Client) int64 {
	t.Helper()
	tm, err := c.Time(context.Background()).Result()
	if err != nil {
		t.Fatalf("TIME: %v", err)
	}
	return tm.UnixMicro()
}

// scriptCalls returns how many EVALSHA and EVAL commands the server ran.
func scriptCalls(t testing.TB, c *redis.Client) (evalsha, eval int64) {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
		switch name {
		case "cmdstat_evalsha":
			evalsha = n
		case "cmdstat_eval":
			eval = n
		}
	}
	return evalsha, eval
}

// recorder is a slog handler that keeps the messages logged and signals
// each on a channel.
type recorder struct {
	mu   sync.Mutex
	msgs []string
	ch   chan string
}

func newRecorder() *recorder { return &recorder{ch: make(chan string, 64)} }

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, rec.Message)
	r.mu.Unlock()
	select {
	case r.ch <- rec.Message:
	default:
	}
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) logger() *slog.Logger { return slog.New(r) }

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

func isDown(msg string) bool { return strings.Contains(msg, "does not answer") }
func isUp(msg string) bool   { return strings.Contains(msg, "answers again") }
