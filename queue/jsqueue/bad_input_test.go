package jsqueue_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/async-patterns/async/queue/jsqueue"
)

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		msg, _ := r.(string)
		if !strings.HasPrefix(msg, "jsqueue: ") || !strings.Contains(msg, want) {
			t.Fatalf("panic = %v; want a jsqueue panic naming %q", r, want)
		}
	}()
	f()
}

type intCodec struct{ jsqueue.JSON[int] }

func TestBadInput(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()

	t.Run("New panics on a nil ctx, nil JetStream, bad name or bad option", func(t *testing.T) {
		var nilCtx context.Context
		mustPanic(t, "nil ctx passed to New", func() { _, _ = jsqueue.New[int](nilCtx, js, "q") })
		mustPanic(t, "nil JetStream", func() { _, _ = jsqueue.New[int](ctx, nil, "q") })
		mustPanic(t, `name "a.b"`, func() { _, _ = jsqueue.New[int](ctx, js, "a.b") })
		mustPanic(t, "WithCapacity(0)", func() { _, _ = jsqueue.New[int](ctx, js, "q", jsqueue.WithCapacity(0)) })
		mustPanic(t, "WithMaxDeliver(0)", func() { _, _ = jsqueue.New[int](ctx, js, "q", jsqueue.WithMaxDeliver(0)) })
		mustPanic(t, "nil Option passed to New", func() { _, _ = jsqueue.New[int](ctx, js, "q", nil) })
		mustPanic(t, "WithCodec", func() { _, _ = jsqueue.New[string](ctx, js, "q", jsqueue.WithCodec[int](intCodec{})) })
	})

	q := newQueue[int](t, js, "bad")
	t.Run("Serve returns an error naming the bad argument and starts nothing", func(t *testing.T) {
		fn := func(context.Context, int) error { return nil }
		if err := jsqueue.Serve(ctx, q, 1, nil); !errors.Is(err, jsqueue.ErrNilFunc) || !strings.Contains(err.Error(), "fn") {
			t.Fatalf("Serve(nil fn) = %v; want ErrNilFunc naming fn", err)
		}
		if err := jsqueue.Serve(ctx, q, 0, fn); err == nil || !strings.Contains(err.Error(), "workers") {
			t.Fatalf("Serve(0 workers) = %v; want an error naming workers", err)
		}
		if err := jsqueue.Serve(ctx, q, 1, fn, jsqueue.WithGrace(-1)); err == nil || !strings.Contains(err.Error(), "WithGrace") {
			t.Fatalf("Serve(WithGrace(-1)) = %v; want an error naming WithGrace", err)
		}
	})
	t.Run("GetBatch with max below 1 returns an error naming max", func(t *testing.T) {
		if _, err := q.GetBatch(ctx, 0); err == nil || !strings.Contains(err.Error(), "max") {
			t.Fatalf("GetBatch(0) = %v; want an error naming max", err)
		}
	})
}
