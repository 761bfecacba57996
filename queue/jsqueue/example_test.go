package jsqueue_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/async-patterns/async/queue/jsqueue"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// This example shows a producer and a pool of workers sharing a durable
// queue: the producer puts jobs and closes the queue, Serve's workers do
// them and return once the closed queue is drained. With a real cluster,
// only the URL changes, and the two sides may run in different processes.
func Example() {
	dir, _ := os.MkdirTemp("", "jsqueue-example")
	defer os.RemoveAll(dir)
	srv, err := jsqueue.StartEmbedded(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)

	ctx := context.Background()
	q, err := jsqueue.New[string](ctx, js, "emails", jsqueue.WithCapacity(100))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, to := range []string{"ada", "alan", "grace"} {
		if err := q.Put(ctx, to); err != nil {
			fmt.Println(err)
			return
		}
	}
	_ = q.Close(ctx) // no more puts, in any process; workers drain what is left

	var mu sync.Mutex
	var sent []string
	err = jsqueue.Serve(ctx, q, 2, func(ctx context.Context, to string) error {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, "mail to "+to)
		return nil
	})
	slices.Sort(sent)
	fmt.Println(sent, err)
	fmt.Println(errors.Is(q.Put(ctx, "late"), jsqueue.ErrClosed))
	// Output:
	// [mail to ada mail to alan mail to grace] <nil>
	// true
}

// This example shows an item that keeps failing: after WithMaxDeliver
// attempts it lands in the dead-letter stream with its last error, and Join
// returns because nothing is left to do.
func ExampleQueue_DeadLetters() {
	dir, _ := os.MkdirTemp("", "jsqueue-example")
	defer os.RemoveAll(dir)
	srv, err := jsqueue.StartEmbedded(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)

	ctx := context.Background()
	q, err := jsqueue.New[int](ctx, js, "charges", jsqueue.WithMaxDeliver(3))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = q.Put(ctx, 42)

	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- jsqueue.Serve(sctx, q, 1, func(ctx context.Context, amount int) error {
			return fmt.Errorf("card declined (attempt %d)", jsqueue.Attempt(ctx))
		}, jsqueue.WithBackoff(0, 0))
	}()
	_ = q.Join(ctx) // returns once the item is dead-lettered
	stop()
	<-served

	dead, _ := q.DeadLetters(ctx)
	for _, dl := range dead {
		fmt.Printf("%s: %s after %d attempts\n", dl.Data, dl.Err, dl.Attempts)
	}
	// Output:
	// 42: card declined (attempt 3) after 3 attempts
}

// This example shows the one call from a URL to a queue, and a put made
// idempotent by a key: the retried order is stored once.
func ExampleDial() {
	dir, _ := os.MkdirTemp("", "jsqueue-example")
	defer os.RemoveAll(dir)
	srv, err := jsqueue.StartEmbedded(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown()

	type order struct{ ID string }
	ctx := context.Background()
	q, err := jsqueue.Dial[order](ctx, srv.URL, "orders",
		jsqueue.WithMsgID(func(o order) string { return o.ID }))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer q.Disconnect() // closes the connection Dial made; the queue stays open

	_ = q.Put(ctx, order{ID: "A-1"})
	_ = q.Put(ctx, order{ID: "A-1"}) // a retry: not stored again
	_ = q.Put(ctx, order{ID: "A-2"})
	d1, _ := q.Get(ctx)
	d2, _ := q.Get(ctx)
	stats, _ := q.Stats(ctx)
	fmt.Printf("got %s, %s; ready %d, in flight %d\n", d1.Value.ID, d2.Value.ID, stats.Ready, stats.InFlight)
	_, _ = d1.Done(), d2.Done()
	fmt.Println(q.Join(ctx))
	// Output:
	// got A-1, A-2; ready 0, in flight 2
	// <nil>
}
