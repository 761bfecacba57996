package jsqueue_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/async-patterns/async/queue/jsqueue"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

// childEnv, when set to a server URL, makes the test binary a worker
// process for TestKilledWorker instead of running tests.
const childEnv = "JSQUEUE_TEST_CHILD_URL"

func TestMain(m *testing.M) {
	if url := os.Getenv(childEnv); url != "" {
		os.Exit(runChild(url))
	}
	goleak.VerifyTestMain(m)
}

// runChild serves the "killed" queue with three workers whose handlers
// report their item on stdout and never return (Serve keeps extending
// them), until the process is killed.
func runChild(url string) int {
	nc, err := nats.Connect(url)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	ctx := context.Background()
	q, err := jsqueue.New[int](ctx, js, "killed", jsqueue.WithAckWait(killedAckWait))
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	var mu sync.Mutex
	err = jsqueue.Serve(ctx, q, 3, func(ctx context.Context, v int) error {
		mu.Lock()
		fmt.Println("held", v)
		mu.Unlock()
		select {} // mid-task: killed here
	})
	fmt.Println("error: Serve returned", err)
	return 1
}

const killedAckWait = 500 * time.Millisecond

// startServer runs an embedded server for one test; it is shut down after
// the test's connections are closed.
func startServer(t testing.TB) *jsqueue.Server {
	t.Helper()
	s, err := jsqueue.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatalf("StartEmbedded() = %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// connect opens a connection closed at the end of the test.
func connect(t testing.TB, s *jsqueue.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.URL)
	if err != nil {
		t.Fatalf("nats.Connect() = %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New() = %v", err)
	}
	return nc, js
}

func newQueue[T any](t testing.TB, js jetstream.JetStream, name string, opts ...jsqueue.Option) *jsqueue.Queue[T] {
	t.Helper()
	q, err := jsqueue.New[T](context.Background(), js, name, opts...)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return q
}

// waitReady returns once the consumer of the queue named name counts n
// items ready. JetStream acknowledges a put once the item is stored and tells
// the stream's consumers of it afterwards, on another goroutine: for an
// instant after Put returns, a no-wait fetch (TryGet, GetBatch) may not see
// the item yet.
func waitReady(t testing.TB, js jetstream.JetStream, name string, n uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.Consumer(ctx, name, "workers")
	if err != nil {
		t.Fatalf("Consumer() = %v", err)
	}
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatalf("consumer Info() = %v; want %d items ready within 10s", err, n)
		}
		if info.NumPending == n {
			return
		}
	}
}

func queueLen[T any](t testing.TB, q *jsqueue.Queue[T]) int {
	t.Helper()
	n, err := q.Len(context.Background())
	if err != nil {
		t.Fatalf("Len() = %v", err)
	}
	return n
}
