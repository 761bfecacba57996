package memo_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/memo"
)

// TestStaleRefreshFromAGoTask covers a background refresh started by a Get
// from an executor's fire-and-forget task: the refresh's load reads the
// caller's values after the task returned, while the worker reuses the
// task's ctx for its next task. The load must see the first task's values,
// never the next task's (and, under -race, not race with the reuse).
func TestStaleRefreshFromAGoTask(t *testing.T) {
	type key struct{}
	synctest.Test(t, func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(1))
		var calls atomic.Int64
		release := make(chan struct{})
		seen := make(chan any, 1)
		c := memo.New(func(ctx context.Context, k string) (int, error) {
			if calls.Add(1) == 1 {
				return 1, nil
			}
			<-release // the refresh: its caller's task has returned meanwhile
			seen <- ctx.Value(key{})
			return 2, nil
		}, memo.WithTTL(time.Second), memo.WithStale(time.Hour))
		if _, err := c.Get(context.Background(), "k"); err != nil {
			t.Fatalf("Get() = %v; want nil", err)
		}
		time.Sleep(2 * time.Second) // past the TTL, within the stale window

		returned := make(chan struct{})
		ex.Go(context.WithValue(context.Background(), key{}, "first"), func(ctx context.Context) error {
			defer close(returned)
			if v, err := c.Get(ctx, "k"); v != 1 || err != nil {
				t.Errorf("Get() = %v, %v; want the stale 1, nil", v, err)
			}
			return nil
		})
		<-returned
		running, done := make(chan struct{}), make(chan struct{})
		ex.Go(context.WithValue(context.Background(), key{}, "second"), func(ctx context.Context) error {
			close(running)
			<-done
			return nil
		})
		<-running
		close(release)
		if v := <-seen; v != "first" {
			t.Errorf("the refresh's ctx.Value(key) = %v; want %q, the value of the Get's caller", v, "first")
		}
		close(done)
		if err := ex.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown() = %v; want nil", err)
		}
		c.Close()
	})
}
