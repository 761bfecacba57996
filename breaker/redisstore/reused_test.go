package redisstore_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/breaker/redisstore"
	"github.com/async-patterns/async/executor"
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

func TestOperationLeftRunningFromAGoTask(t *testing.T) {
	// A breaker call made by an executor's fire-and-forget task, on a
	// client that does not enforce context deadlines (no
	// ContextTimeoutEnabled), returns at the store's timeout while Redis
	// is paused, and leaves the store's command running with a ctx derived
	// from the task's (the breaker passes context.WithoutCancel of it,
	// which the context package does not watch). The worker then runs its
	// next task. When Redis answers, the client's hook reads the command's
	// ctx: it must see the first task's value, never the next task's (and,
	// under -race, not race with the worker's reuse of the task's ctx).
	type key struct{}
	s := startRedis(t)
	admin := s.client(t, nil)
	hook := &valueHook{key: key{}, seen: make(chan any, 1)}
	c := redis.NewClient(&redis.Options{Addr: s.addr()}) // ReadTimeout 3s
	c.AddHook(hook)
	t.Cleanup(func() { c.Close() })
	const timeout = 50 * time.Millisecond
	store := redisstore.New(c, redisstore.WithTimeout(timeout))
	// Close waits for the command left running until the pause ends.
	t.Cleanup(func() { store.Close() })
	b := breaker.New(breaker.WithName("reused"), breaker.WithStore(store))
	if err := b.Do(t.Context(), succeed); err != nil {
		t.Fatalf("Do() = %v; want nil", err)
	}
	ex := executor.New(executor.WithWorkers(1))
	const pause = 400 * time.Millisecond
	if err := admin.Do(t.Context(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	hook.armed.Store(true)
	returned := make(chan struct{})
	ex.Go(context.WithValue(context.Background(), key{}, "first"), func(ctx context.Context) error {
		defer close(returned)
		if err := b.Do(ctx, succeed); err != nil { // the store times out; the breaker falls back
			t.Errorf("Do() = %v; want nil", err)
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
