package redislimit_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/limit/redislimit"
)

// valueHook records ctx.Value(key) of the first script command that
// finishes once armed, read after the command returned, as a tracing hook
// that closes its span would.
type valueHook struct {
	key   any
	armed atomic.Bool
	seen  chan any
}

func (h *valueHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *valueHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if n := cmd.Name(); (n == "evalsha" || n == "eval") && h.armed.CompareAndSwap(true, false) {
			h.seen <- ctx.Value(h.key)
		}
		return err
	}
}

func (h *valueHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func TestCommandLeftRunningFromAGoTask(t *testing.T) {
	// A decision made by an executor's fire-and-forget task, on a client
	// that does not enforce context deadlines (a Ring without
	// ContextTimeoutEnabled), returns at the limiter's timeout while
	// Redis is paused, and leaves its command running with the task's
	// ctx. The worker then runs its next task. When Redis answers, the
	// client's hook reads the command's ctx: it must see the first
	// task's value, never the next task's (and, under -race, not race
	// with the worker's reuse of the task's ctx).
	type key struct{}
	s := startRedis(t)
	hook := &valueHook{key: key{}, seen: make(chan any, 1)}
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": s.addr()}, ReadTimeout: 2 * time.Second})
	ring.AddHook(hook)
	t.Cleanup(func() { ring.Close() })
	const timeout = 50 * time.Millisecond
	r := redislimit.NewRate(ring, "reused", 1e6, 1000, redislimit.WithTimeout(timeout))
	defer r.Close()
	if !r.Allow(t.Context()) || !r.Shared() {
		t.Fatal("Allow() = false or not shared on a new limit")
	}
	ex := executor.New(executor.WithWorkers(1))
	admin := s.client(t)
	const pause = 400 * time.Millisecond
	if err := admin.Do(t.Context(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	hook.armed.Store(true)
	returned := make(chan struct{})
	ex.Go(context.WithValue(context.Background(), key{}, "first"), func(ctx context.Context) error {
		defer close(returned)
		r.Allow(ctx) // returns at the timeout; its command runs on
		return nil
	})
	<-returned
	if r.Shared() {
		t.Fatal("the decision during the pause did not time out (still shared)")
	}
	running, done := make(chan struct{}), make(chan struct{})
	ex.Go(context.WithValue(context.Background(), key{}, "second"), func(ctx context.Context) error {
		close(running)
		<-done
		return nil
	})
	<-running
	select {
	case v := <-hook.seen:
		if v != "first" {
			t.Errorf("the hook's ctx.Value(key) after the task returned = %v; want %q, the value of the task that sent the command", v, "first")
		}
	case <-time.After(10 * time.Second):
		t.Error("the command left running did not finish 10s after the pause")
	}
	close(done)
	if err := ex.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown() = %v; want nil", err)
	}
}
