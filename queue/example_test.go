package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/async-patterns/async/queue"
)

// This example shows producers and consumers: three workers take jobs from
// a small queue, mark each one done, and the producer waits with Join until
// every job is processed before closing the queue.
func Example() {
	ctx := context.Background()
	q := queue.New[int](2)
	squares := make([]int, 6)

	var workers sync.WaitGroup
	for range 3 {
		workers.Go(func() {
			for n := range q.All(ctx) { // ends when the queue is closed and drained
				squares[n] = n * n // each job writes its own slot
				q.TaskDone()
			}
		})
	}

	for n := range squares {
		if err := q.Put(ctx, n); err != nil { // waits while two jobs are queued
			fmt.Println("put:", err)
		}
	}
	if err := q.Join(ctx); err != nil { // every job processed
		fmt.Println("join:", err)
	}
	q.Close() // releases the workers
	workers.Wait()
	fmt.Println(squares)
	// Output: [0 1 4 9 16 25]
}

// This example shows a graceful shutdown: after Close, Put fails with
// ErrClosed (where a channel send would panic) while getters still drain
// what was queued; CloseNow instead hands back what is left at once.
func Example_gracefulShutdown() {
	ctx := context.Background()
	q := queue.New[string](4)
	q.Put(ctx, "a")
	q.Put(ctx, "b")
	q.Close()

	err := q.Put(ctx, "late")
	fmt.Println("put after close:", err, errors.Is(err, queue.ErrClosed))
	for s := range q.All(ctx) {
		fmt.Println("drained", s)
	}

	now := queue.New[string](4)
	now.Put(ctx, "x")
	now.Put(ctx, "y")
	fmt.Println("discarded", now.CloseNow())
	_, err = now.Get(ctx)
	fmt.Println("get after CloseNow:", err)
	// Output:
	// put after close: queue: closed true
	// drained a
	// drained b
	// discarded [x y]
	// get after CloseNow: queue: closed
}

// This example shows a priority queue: the most urgent job leaves first,
// and jobs of equal urgency leave in the order they were put.
func ExampleNewPriority() {
	type job struct {
		urgency int // lower is more urgent
		name    string
	}
	q := queue.NewPriority(8, func(a, b job) bool { return a.urgency < b.urgency })
	for _, j := range []job{{2, "report"}, {1, "page on-call"}, {3, "cleanup"}, {1, "restart db"}, {2, "email"}} {
		q.TryPut(j)
	}
	q.Close()
	for j := range q.All(context.Background()) {
		fmt.Println(j.urgency, j.name)
	}
	// Output:
	// 1 page on-call
	// 1 restart db
	// 2 report
	// 2 email
	// 3 cleanup
}

// This example shows an overflow policy: a queue of the latest readings
// that never blocks its producer and reports what it discards.
func ExampleWithOverflow() {
	q := queue.New[int](3,
		queue.WithOverflow(queue.DropOldest),
		queue.WithOnDrop(func(v int) { fmt.Println("dropped", v) }),
	)
	for v := range 5 {
		q.TryPut(v) // never ErrFull under DropOldest
	}
	vs, _ := q.GetBatch(context.Background(), 10)
	fmt.Println(vs, "dropped in all:", q.Dropped())
	// Output:
	// dropped 0
	// dropped 1
	// [2 3 4] dropped in all: 2
}
