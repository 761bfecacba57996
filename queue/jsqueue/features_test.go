package jsqueue_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/async-patterns/async/queue/jsqueue"
	"github.com/nats-io/nats.go"
)

func TestDial(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()

	t.Run("Dial goes from a URL to a queue, and Disconnect closes its connection", func(t *testing.T) {
		q, err := jsqueue.Dial[string](ctx, s.URL, "dialed", jsqueue.WithCapacity(4))
		if err != nil {
			t.Fatalf("Dial() = %v", err)
		}
		if err := q.Put(ctx, "a"); err != nil {
			t.Fatalf("Put() = %v", err)
		}
		d, err := q.Get(ctx)
		if err != nil || d.Value != "a" {
			t.Fatalf("Get() = %v, %v; want \"a\"", d, err)
		}
		if err := d.Done(); err != nil {
			t.Fatalf("Done() = %v", err)
		}
		if err := q.Disconnect(); err != nil {
			t.Fatalf("Disconnect() = %v", err)
		}
		if err := q.Put(ctx, "b"); !errors.Is(err, nats.ErrConnectionClosed) {
			t.Fatalf("Put() after Disconnect = %v; want ErrConnectionClosed", err)
		}
		if err := q.Disconnect(); err != nil {
			t.Fatalf("second Disconnect() = %v; want nil", err)
		}
		// The queue itself stays open for others.
		_, js := connect(t, s)
		other := newQueue[string](t, js, "dialed")
		if other.Closed() {
			t.Fatal("Closed() = true after Disconnect; want the queue open")
		}
		if err := other.Put(ctx, "c"); err != nil {
			t.Fatalf("another handle's Put() = %v", err)
		}
	})

	t.Run("Dial to a server that is not there returns an error naming the URL", func(t *testing.T) {
		_, err := jsqueue.Dial[string](ctx, "nats://127.0.0.1:1", "nowhere")
		if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Fatalf("Dial() = %v; want an error naming the URL", err)
		}
	})
}

type job struct {
	ID   string
	Body string
}

func TestIdempotentPut(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[job](t, js, "idempotent", jsqueue.WithMsgID(func(j job) string { return j.ID }))

	t.Run("a Put retried with the same key is stored once", func(t *testing.T) {
		for range 3 {
			if err := q.Put(ctx, job{ID: "order-1", Body: "x"}); err != nil {
				t.Fatalf("Put() = %v", err)
			}
		}
		if err := q.TryPut(job{ID: "order-1", Body: "x"}); err != nil {
			t.Fatalf("TryPut() = %v", err)
		}
		if err := q.Put(ctx, job{ID: "order-2"}); err != nil {
			t.Fatalf("Put() = %v", err)
		}
		if n := queueLen(t, q); n != 2 {
			t.Fatalf("Len() = %d; want 2 (order-1 once, order-2)", n)
		}
	})

	t.Run("a key already done within the window is not stored again", func(t *testing.T) {
		for range 2 {
			d, err := q.Get(ctx)
			if err != nil {
				t.Fatalf("Get() = %v", err)
			}
			_ = d.Done()
		}
		if err := q.Join(ctx); err != nil {
			t.Fatalf("Join() = %v", err)
		}
		if err := q.Put(ctx, job{ID: "order-1"}); err != nil {
			t.Fatalf("Put() = %v", err)
		}
		if n := queueLen(t, q); n != 0 {
			t.Fatalf("Len() = %d; want 0", n)
		}
	})

	t.Run("an empty key puts without an id", func(t *testing.T) {
		for range 2 {
			if err := q.Put(ctx, job{}); err != nil {
				t.Fatalf("Put() = %v", err)
			}
		}
		if n := queueLen(t, q); n != 2 {
			t.Fatalf("Len() = %d; want 2", n)
		}
	})
}

func TestServeHandlerSeesTheDelivery(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[int](t, js, "seq")
	for i := range 3 {
		if err := q.Put(ctx, i); err != nil {
			t.Fatalf("Put() = %v", err)
		}
	}
	type seen struct {
		seq     uint64
		attempt int
	}
	var mu sync.Mutex
	got := map[int][]seen{}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- jsqueue.Serve(sctx, q, 2, func(ctx context.Context, v int) error {
			mu.Lock()
			defer mu.Unlock()
			got[v] = append(got[v], seen{jsqueue.Seq(ctx), jsqueue.Attempt(ctx)})
			if len(got[v]) == 1 {
				return errors.New("once more") // the second attempt has the same Seq
			}
			return nil
		}, jsqueue.WithBackoff(0, 0))
	}()
	if err := q.Join(ctx); err != nil {
		t.Fatalf("Join() = %v", err)
	}
	stop()
	<-served
	for v := range 3 {
		want := []seen{{uint64(v + 1), 1}, {uint64(v + 1), 2}}
		if !slices.Equal(got[v], want) {
			t.Fatalf("item %d: handler saw (Seq, Attempt) %v; want %v", v, got[v], want)
		}
	}
	if jsqueue.Seq(ctx) != 0 || jsqueue.Attempt(ctx) != 0 {
		t.Fatalf("Seq, Attempt of a plain ctx = %d, %d; want 0, 0", jsqueue.Seq(ctx), jsqueue.Attempt(ctx))
	}
}

func TestStats(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[int](t, js, "stats")
	for i := range 3 {
		if err := q.Put(ctx, i); err != nil {
			t.Fatalf("Put() = %v", err)
		}
	}
	d, err := q.Get(ctx)
	if err != nil {
		t.Fatalf("Get() = %v", err)
	}
	// The consumer counts a put asynchronously: wait for the counts to settle.
	want := jsqueue.Stats{Ready: 2, InFlight: 1}
	var st jsqueue.Stats
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if st, err = q.Stats(ctx); err != nil {
			t.Fatalf("Stats() = %v", err)
		}
		if st == want {
			break
		}
	}
	if st != want {
		t.Fatalf("Stats() with one item held = %+v; want %+v", st, want)
	}
	if n := queueLen(t, q); n != 3 {
		t.Fatalf("Len() = %d; want 3", n)
	}
	_ = d.Done()
}

func TestGetIsOneRequest(t *testing.T) {
	s := startServer(t)
	_, pjs := connect(t, s)
	nc, js := connect(t, s)
	ctx := context.Background()
	producer := newQueue[int](t, pjs, "onerequest")
	q := newQueue[int](t, js, "onerequest")
	sent := func() uint64 { return nc.Stats().OutMsgs }

	t.Run("a Get on an empty queue sends one pull request and waits on it", func(t *testing.T) {
		before := sent()
		got := make(chan error, 1)
		go func() {
			d, err := q.Get(ctx)
			if err == nil && d.Value != 1 {
				err = errors.New("wrong value")
			}
			got <- err
		}()
		for sent() == before { // the pull is on its way
			time.Sleep(time.Millisecond)
		}
		if err := producer.Put(ctx, 1); err != nil {
			t.Fatalf("Put() = %v", err)
		}
		if err := <-got; err != nil {
			t.Fatalf("Get() = %v", err)
		}
		if n := sent() - before; n != 1 {
			t.Fatalf("Get() on an empty queue sent %d messages; want 1", n)
		}
	})

	t.Run("a Get with an item ready sends one pull request", func(t *testing.T) {
		if err := producer.Put(ctx, 2); err != nil {
			t.Fatalf("Put() = %v", err)
		}
		waitReady(t, pjs, "onerequest", 1)
		before := sent()
		if _, err := q.Get(ctx); err != nil {
			t.Fatalf("Get() = %v", err)
		}
		if n := sent() - before; n != 1 {
			t.Fatalf("Get() with an item ready sent %d messages; want 1", n)
		}
	})
}
