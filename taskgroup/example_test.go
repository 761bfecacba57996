package taskgroup_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/async-patterns/async/taskgroup"
)

// This example shows a group running tasks that each write their own slot,
// then waiting for all of them.
func ExampleGroup() {
	g := taskgroup.New(context.Background())
	squares := make([]int, 5)
	for i := range squares {
		g.Go(func(ctx context.Context) error {
			squares[i] = i * i
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		fmt.Println("error:", err)
	}
	fmt.Println(squares)
	// Output: [0 1 4 9 16]
}

// This example shows how a failing task cancels its siblings: they see
// ctx.Done() with the failure as the cause, and Wait returns the failure
// alone, leaving out the cancellations it caused.
func ExampleGroup_cancelOnFailure() {
	errDown := errors.New("database is down")
	g := taskgroup.New(context.Background())
	started := make(chan struct{})
	g.Go(func(ctx context.Context) error {
		close(started)
		<-ctx.Done() // a long job, interrupted
		fmt.Println("sibling stopped because:", context.Cause(ctx))
		return ctx.Err()
	})
	<-started
	g.Go(func(ctx context.Context) error { return errDown })
	fmt.Println("Wait:", g.Wait())
	// Output:
	// sibling stopped because: database is down
	// Wait: database is down
}

// This example shows WithLimit bounding how many tasks run at once.
func ExampleWithLimit() {
	g := taskgroup.New(context.Background(), taskgroup.WithLimit(2))
	var running, peak atomic.Int32
	for range 10 {
		g.Go(func(ctx context.Context) error {
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			running.Add(-1)
			return nil
		})
	}
	_ = g.Wait()
	fmt.Println("at most", peak.Load() <= 2, "two at once")
	// Output: at most true two at once
}

// This example shows a task handle: Spawn returns a typed Task whose result
// is awaited with Wait, and whose State tells how it ended.
func ExampleSpawn() {
	g := taskgroup.New(context.Background())
	answer := taskgroup.Spawn(g, func(ctx context.Context) (int, error) {
		return 6 * 7, nil
	})
	v, err := answer.Wait(context.Background())
	fmt.Println(v, err, answer.State())
	_ = g.Wait()
	// Output: 42 <nil> succeeded
}

// This example shows cancelling a single task: it ends Cancelled and its
// group does not count it as a failure.
func ExampleTask_Cancel() {
	g := taskgroup.New(context.Background())
	started := make(chan struct{})
	slow := taskgroup.Spawn(g, func(ctx context.Context) (string, error) {
		close(started)
		<-ctx.Done()
		return "", ctx.Err()
	})
	<-started
	slow.Cancel()
	_, err := slow.Wait(context.Background())
	fmt.Println(err, slow.State())
	fmt.Println("group:", g.Wait())
	// Output:
	// context canceled cancelled
	// group: <nil>
}

// This example shows a standalone task, like asyncio.create_task: the caller
// owns it and waits for it.
func ExampleStart() {
	t := taskgroup.Start(context.Background(), func(ctx context.Context) (string, error) {
		return "hello from a task", nil
	})
	fmt.Println(t.Wait(context.Background()))
	// Output: hello from a task <nil>
}
