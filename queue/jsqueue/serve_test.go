package jsqueue_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/async-patterns/async/queue/jsqueue"
	"github.com/nats-io/nats.go"
)

func TestServeExtendsLongWork(t *testing.T) {
	// Serve extends every third of the ack wait: a redelivery needs a stall
	// of two thirds of it (of Serve's ticker or of the embedded server, both
	// in this -race process), which must not come from a loaded machine.
	const ackWait = 500 * time.Millisecond
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[int](t, js, "long", jsqueue.WithAckWait(ackWait))
	if err := q.Put(ctx, 1); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	var calls atomic.Int32
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- jsqueue.Serve(sctx, q, 2, func(ctx context.Context, v int) error {
			calls.Add(1)
			// The ack wait runs on the server's clock, so real time must
			// pass: four ack waits, which only Serve's Extend calls bridge.
			<-time.After(4 * ackWait)
			return nil
		})
	}()
	if err := q.Join(ctx); err != nil {
		t.Fatalf("Join() = %v", err)
	}
	stop()
	<-served
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler calls = %d; want 1 (no redelivery while it ran)", n)
	}
}

func TestServeRetryIf(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[int](t, js, "retryif", jsqueue.WithMaxDeliver(5))
	if err := q.Put(ctx, 1); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	errBad := errors.New("bad request")
	var calls atomic.Int32
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- jsqueue.Serve(sctx, q, 1, func(ctx context.Context, v int) error {
			calls.Add(1)
			return errBad
		}, jsqueue.WithRetryIf(func(err error) bool { return !errors.Is(err, errBad) }))
	}()
	if err := q.Join(ctx); err != nil {
		t.Fatalf("Join() = %v", err)
	}
	stop()
	<-served
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler calls = %d; want 1 (the error is not retried)", n)
	}
	dead, err := q.DeadLetters(ctx)
	if err != nil || len(dead) != 1 || dead[0].Err != "bad request" || dead[0].Attempts != 1 {
		t.Fatalf("DeadLetters() = %+v, %v; want one after 1 attempt with \"bad request\"", dead, err)
	}
}

func TestServeStopsOnClosedConnection(t *testing.T) {
	s := startServer(t)
	nc, js := connect(t, s)
	q := newQueue[int](t, js, "connclosed")
	served := make(chan error, 1)
	go func() {
		served <- jsqueue.Serve(context.Background(), q, 3, func(ctx context.Context, v int) error { return nil })
	}()
	nc.Close()
	if err := <-served; !errors.Is(err, nats.ErrConnectionClosed) {
		t.Fatalf("Serve() on a closed connection = %v; want ErrConnectionClosed", err)
	}
}

func TestAll(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[int](t, js, "all")
	for i := range 4 {
		if err := q.Put(ctx, i); err != nil {
			t.Fatalf("Put() = %v", err)
		}
	}
	if err := q.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	t.Run("All yields every item until the closed queue is drained", func(t *testing.T) {
		var got []int
		for d := range q.All(ctx) {
			got = append(got, d.Value)
			if err := d.Done(); err != nil {
				t.Fatalf("Done() = %v", err)
			}
		}
		if !slices.Equal(got, []int{0, 1, 2, 3}) {
			t.Fatalf("All() = %v; want [0 1 2 3]", got)
		}
		if _, err := q.TryGet(); !errors.Is(err, jsqueue.ErrClosed) {
			t.Fatalf("TryGet() on the drained, closed queue = %v; want ErrClosed", err)
		}
	})
}

// A panic in the WithRetryIf classifier, user code run on a worker Serve
// owns, must not crash the process: the item is dead-lettered with the
// panic, and Serve goes on.
func TestServeRetryIfPanics(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[int](t, js, "retryifpanics", jsqueue.WithMaxDeliver(5))
	if err := q.Put(ctx, 1); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	var calls atomic.Int32
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- jsqueue.Serve(sctx, q, 1, func(ctx context.Context, v int) error {
			calls.Add(1)
			return errors.New("handler failed")
		}, jsqueue.WithRetryIf(func(err error) bool { panic("classifier bug") }))
	}()
	if err := q.Join(ctx); err != nil {
		t.Fatalf("Join() = %v", err)
	}
	stop()
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve() = %v; want context.Canceled", err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler calls = %d; want 1 (a panicking classifier decides nothing: no retry)", n)
	}
	dead, err := q.DeadLetters(ctx)
	if err != nil || len(dead) != 1 || !strings.Contains(dead[0].Err, "classifier bug") || !strings.Contains(dead[0].Err, "handler failed") {
		t.Fatalf("DeadLetters() = %+v, %v; want one naming the classifier's panic and the handler's error", dead, err)
	}
}
