package task

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newHandle[T any](parent context.Context, fn func(context.Context) (T, error)) *Handle[T] {
	h := &Handle[T]{}
	h.Init(parent, nil, fn)
	return h
}

func TestCtx(t *testing.T) {
	t.Run("Err follows the parent before anyone asks for Done", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		h := newHandle(parent, func(context.Context) (int, error) { return 0, nil })
		ctx := h.Context()
		if ctx.Err() != nil {
			t.Fatalf("Err() = %v; want nil", ctx.Err())
		}
		cancel()
		if ctx.Err() != context.Canceled {
			t.Errorf("Err() = %v; want context.Canceled", ctx.Err())
		}
		select {
		case <-ctx.Done():
		default:
			t.Error("Done() not closed after the parent was cancelled")
		}
	})

	t.Run("Done closes when the parent ends after it was asked for", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			parent, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			h := newHandle(parent, func(context.Context) (int, error) { return 0, nil })
			ctx := h.Context()
			<-ctx.Done()
			if ctx.Err() != context.DeadlineExceeded {
				t.Errorf("Err() = %v; want context.DeadlineExceeded", ctx.Err())
			}
			h.Cancel(context.Canceled) // releases nothing new; must not panic
		})
	})

	t.Run("Cancel ends the ctx and its derived children", func(t *testing.T) {
		h := newHandle(context.Background(), func(context.Context) (int, error) { return 0, nil })
		ctx := h.Context()
		child, cancel := context.WithCancel(ctx)
		defer cancel()
		h.Start()
		h.ctx.cancel(context.Canceled)
		<-child.Done()
		if child.Err() != context.Canceled || ctx.Err() != context.Canceled {
			t.Errorf("child.Err() = %v, ctx.Err() = %v; want context.Canceled", child.Err(), ctx.Err())
		}
	})

	t.Run("AfterFunc's stop prevents the call", func(t *testing.T) {
		h := newHandle(context.Background(), func(context.Context) (int, error) { return 0, nil })
		c := &h.ctx
		called := make(chan struct{}, 1)
		stop := c.AfterFunc(func() { called <- struct{}{} })
		if !stop() {
			t.Fatal("stop() = false before cancellation; want true")
		}
		if stop() {
			t.Error("second stop() = true; want false")
		}
		c.cancel(context.Canceled)
		select {
		case <-called:
			t.Error("AfterFunc ran after stop")
		default:
		}
	})

	t.Run("AfterFunc on a done ctx runs at once", func(t *testing.T) {
		h := newHandle(context.Background(), func(context.Context) (int, error) { return 0, nil })
		h.ctx.cancel(context.Canceled)
		done := make(chan struct{})
		stop := h.ctx.AfterFunc(func() { close(done) })
		<-done
		if stop() {
			t.Error("stop() = true after the call; want false")
		}
	})

	t.Run("the owner is answered through derived contexts", func(t *testing.T) {
		type key struct{}
		owner := &struct{ name string }{"pool"}
		h := &Handle[int]{}
		h.Init(context.WithValue(context.Background(), key{}, 1), owner, nil)
		derived := context.WithValue(h.Context(), key{}, 2)
		if OwnerOf(derived) != owner {
			t.Errorf("OwnerOf(derived) = %v; want %v", OwnerOf(derived), owner)
		}
		if OwnerOf(context.Background()) != nil {
			t.Errorf("OwnerOf(Background) = %v; want nil", OwnerOf(context.Background()))
		}
		if h.Context().Value(key{}) != 1 {
			t.Errorf("Value(key) = %v; want the parent's 1", h.Context().Value(key{}))
		}
	})
}

func TestHandle(t *testing.T) {
	t.Run("Cancel on a pending task resolves it and Start refuses it", func(t *testing.T) {
		ran := false
		h := newHandle(context.Background(), func(context.Context) (int, error) { ran = true; return 1, nil })
		if !h.Cancel(context.Canceled) {
			t.Fatal("Cancel() = false on a pending task; want true")
		}
		if h.Start() {
			t.Fatal("Start() = true after Cancel; want false")
		}
		if v, err := h.Wait(context.Background()); v != 0 || err != context.Canceled || h.State() != Cancelled || ran {
			t.Errorf("Wait() = %v, %v in %v (ran %v); want 0, context.Canceled, cancelled, not run", v, err, h.State(), ran)
		}
	})

	t.Run("Reject resolves a pending task with the given state", func(t *testing.T) {
		errFull := errors.New("full")
		h := newHandle(context.Background(), func(context.Context) (int, error) { return 1, nil })
		if !h.Reject(Failed, errFull) {
			t.Fatal("Reject() = false on a pending task")
		}
		if h.Reject(Failed, errFull) {
			t.Error("second Reject() = true; want false")
		}
		if err := h.Err(); err != errFull || h.State() != Failed {
			t.Errorf("Err() = %v in %v; want %v, failed", err, h.State(), errFull)
		}
	})

	t.Run("Wait without a Done channel blocks until the task resolves", func(t *testing.T) {
		release := make(chan struct{})
		h := newHandle(context.Background(), func(context.Context) (int, error) { <-release; return 3, nil })
		h.Start()
		var wg sync.WaitGroup
		wg.Go(h.Run)
		got := make(chan int)
		go func() { v, _ := h.Wait(context.Background()); got <- v }()
		close(release)
		if v := <-got; v != 3 {
			t.Errorf("Wait() = %d; want 3", v)
		}
		wg.Wait()
		if h.Context().Err() != context.Canceled {
			t.Errorf("task ctx Err() after return = %v; want context.Canceled", h.Context().Err())
		}
	})

	t.Run("Result before resolution is the zero value", func(t *testing.T) {
		h := newHandle(context.Background(), func(context.Context) (int, error) { return 3, nil })
		if v, err := h.Result(); v != 0 || err != nil {
			t.Errorf("Result() = %v, %v; want 0, nil", v, err)
		}
	})
}

func TestIsCancellation(t *testing.T) {
	myErr := errors.New("mine")
	live := context.Background()
	cancelled, cancel := context.WithCancelCause(context.Background())
	cancel(myErr)
	cases := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"nil error", cancelled, nil, false},
		{"live ctx", live, context.Canceled, false},
		{"context.Canceled after cancellation", cancelled, context.Canceled, true},
		{"the cause after cancellation", cancelled, myErr, true},
		{"a wrapped cause", cancelled, errors.Join(errors.New("x"), myErr), true},
		{"another error after cancellation", cancelled, errors.New("other"), false},
	}
	for _, c := range cases {
		if got := IsCancellation(c.ctx, c.err); got != c.want {
			t.Errorf("IsCancellation(%s) = %v; want %v", c.name, got, c.want)
		}
	}
}
