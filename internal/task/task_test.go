package task

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/async-patterns/async/internal/safe"
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
		if !OwnedBy(derived, owner) {
			t.Errorf("OwnedBy(derived, owner) = false; want true")
		}
		if OwnedBy(context.Background(), owner) {
			t.Errorf("OwnedBy(Background, owner) = true; want false")
		}
		// A task of no owner in between, and a reused ctx of another owner
		// below it: the walk goes on past both.
		other := &struct{ name string }{"other"}
		r := NewReused(other, context.Background())
		r.Start(derived)
		inner := &Handle[int]{}
		inner.Init(r, nil, nil)
		if !OwnedBy(inner.Context(), owner) || !OwnedBy(inner.Context(), other) {
			t.Errorf("OwnedBy through a taskgroup ctx and a reused ctx = false; want true for both owners")
		}
		Retain(inner.Context())
		if !r.Retained() {
			t.Errorf("Retain through a task ctx did not reach the reused ctx above it")
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

	t.Run("every Done channel closes, whenever it is asked for", func(t *testing.T) {
		// Done publishes its channel with a bit in the state word that
		// Start, Cancel and resolve race with; a channel made in that race
		// must still be closed, and the state must still read right.
		for i := range 2000 {
			h := newHandle(context.Background(), func(context.Context) (int, error) { return i, nil })
			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() { <-h.Done() })
			}
			if i%2 == 0 {
				wg.Go(func() {
					if h.Start() {
						h.Run()
					}
				})
			} else {
				wg.Go(func() { h.Cancel(context.Canceled) })
			}
			wg.Wait() // hangs if a Done channel is never closed
			<-h.Done()
			if want := []State{Succeeded, Cancelled}[i%2]; h.State() != want {
				t.Fatalf("run %d: State() = %v; want %v", i, h.State(), want)
			}
		}
	})

	t.Run("Done on a live task leaves its state as it was", func(t *testing.T) {
		h := newHandle(context.Background(), func(context.Context) (int, error) { return 1, nil })
		d := h.Done()
		if h.State() != Pending || h.Resolved() {
			t.Fatalf("after Done: State() = %v; want pending", h.State())
		}
		if !h.Start() || h.State() != Running {
			t.Fatalf("Start() after Done: State() = %v; want running", h.State())
		}
		if h.Cancel(context.Canceled) {
			t.Error("Cancel() = true on a running task; want false")
		}
		h.Run()
		select {
		case <-d:
		default:
			t.Fatal("Done channel not closed after Run")
		}
		if h.State() != Succeeded { // its ctx was cancelled, but it returned no error
			t.Errorf("State() = %v; want succeeded", h.State())
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

// gateParent is a parent ctx whose Err can be held up on its first call,
// and whose Done channel closes only when the test says so, standing for
// the delay before a parent's cancellation reaches a child watching it.
type gateParent struct {
	context.Context
	held    atomic.Bool
	entered chan struct{} // closed when the first Err call is held
	proceed chan struct{} // closed to let it go on
	done    chan struct{}
	mu      sync.Mutex
	err     error
}

func newGateParent() *gateParent {
	return &gateParent{Context: context.Background(), entered: make(chan struct{}),
		proceed: make(chan struct{}), done: make(chan struct{})}
}

func (p *gateParent) Done() <-chan struct{} { return p.done }

func (p *gateParent) Err() error {
	if p.held.CompareAndSwap(false, true) {
		close(p.entered)
		<-p.proceed
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func TestCtxErrMatchesDone(t *testing.T) {
	t.Run("an Err that reads the parent never reports done before Done closes", func(t *testing.T) {
		parent := newGateParent()
		h := newHandle(context.Context(parent), func(context.Context) (int, error) { return 0, nil })
		ctx := h.Context()

		errc := make(chan error)
		go func() { errc <- ctx.Err() }() // held inside parent.Err
		<-parent.entered
		donec := make(chan (<-chan struct{}), 1)
		go func() { donec <- ctx.Done() }() // asks for Done meanwhile
		// Give that Done call a chance to finish while Err is held. A
		// correct Ctx makes it wait for Err instead, so this gives up
		// after a while; either way the check below must hold.
		var done <-chan struct{}
		for i := 0; i < 1000 && done == nil; i++ {
			select {
			case done = <-donec:
			default:
				runtime.Gosched()
			}
		}
		parent.mu.Lock()
		parent.err = context.Canceled // the parent ends; its notification is late
		parent.mu.Unlock()
		close(parent.proceed)
		err := <-errc
		if done == nil {
			done = <-donec
		}
		if err != nil {
			select {
			case <-done:
			default:
				t.Errorf("Err() = %v while Done() is open; want Err non-nil only once Done is closed", err)
			}
		}
		if again := ctx.Err(); again != err {
			t.Errorf("Err() = %v, then %v; want the same error once done", err, again)
		}
		close(parent.done) // lets the notification through
		<-ctx.Done()
		if err := ctx.Err(); err != context.Canceled {
			t.Errorf("Err() after Done = %v; want context.Canceled", err)
		}
	})

	t.Run("Err and Done agree while the parent is cancelled concurrently", func(t *testing.T) {
		for range 200 {
			parent, cancel := context.WithCancel(context.Background())
			h := newHandle(parent, func(context.Context) (int, error) { return 0, nil })
			ctx := h.Context()
			var wg sync.WaitGroup
			wg.Go(func() { <-ctx.Done() })
			wg.Go(cancel)
			wg.Go(func() {
				for {
					err := ctx.Err()
					if err == nil {
						continue
					}
					select {
					case <-ctx.Done():
					default:
						t.Errorf("Err() = %v while Done() is open", err)
					}
					return
				}
			})
			wg.Wait()
		}
	})
}

func TestCtxCause(t *testing.T) {
	t.Run("a live ctx has no cause", func(t *testing.T) {
		parent, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		h := newHandle(parent, func(context.Context) (int, error) { return 0, nil })
		if c := context.Cause(h.Context()); c != nil {
			t.Errorf("Cause() = %v; want nil", c)
		}
	})
	t.Run("the parent's cause reaches the task ctx", func(t *testing.T) {
		parent, cancel := context.WithCancelCause(context.Background())
		h := newHandle(parent, func(context.Context) (int, error) { return 0, nil })
		myErr := errors.New("mine")
		cancel(myErr)
		if c := context.Cause(h.Context()); c != myErr {
			t.Errorf("Cause() = %v; want %v", c, myErr)
		}
		<-h.Context().Done()
		if c := context.Cause(h.Context()); c != myErr {
			t.Errorf("Cause() after Done = %v; want %v", c, myErr)
		}
	})
	t.Run("a task cancelled alone has context.Canceled as its cause", func(t *testing.T) {
		parent, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		h := newHandle(parent, func(context.Context) (int, error) { return 0, nil })
		h.Start()
		h.Cancel(context.Canceled)
		if c := context.Cause(h.Context()); c != context.Canceled {
			t.Errorf("Cause() = %v; want context.Canceled", c)
		}
	})
}

func TestRun(t *testing.T) {
	myErr := errors.New("mine")
	cases := []struct {
		name   string
		cancel bool // cancel the task before its function returns
		fn     func(ctx context.Context) (int, error)
		want   State
	}{
		{"a nil error succeeds", false, func(context.Context) (int, error) { return 1, nil }, Succeeded},
		{"an error of its own fails", false, func(context.Context) (int, error) { return 0, myErr }, Failed},
		{"context.Canceled without a cancellation fails", false, func(context.Context) (int, error) { return 0, context.Canceled }, Failed},
		{"its cancellation coming back is Cancelled", true, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() }, Cancelled},
		{"its cause coming back is Cancelled", true, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, context.Cause(ctx) }, Cancelled},
		{"another error after cancellation fails", true, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, myErr }, Failed},
		{"a panic fails", false, func(context.Context) (int, error) { panic(myErr) }, Failed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHandle(context.Background(), c.fn)
			if !h.Start() {
				t.Fatal("Start() = false on a pending task")
			}
			if c.cancel {
				h.Cancel(context.Canceled)
			}
			h.Run()
			if h.State() != c.want {
				t.Errorf("State() = %v (err %v); want %v", h.State(), h.Err(), c.want)
			}
			if h.Context().Err() == nil {
				t.Error("the task ctx is live after Run; want it cancelled")
			}
		})
	}
	t.Run("a panic's error is a PanicError wrapping the value", func(t *testing.T) {
		h := newHandle(context.Background(), func(context.Context) (int, error) { panic(myErr) })
		h.Start()
		h.Run()
		var pe *safe.PanicError
		if err := h.Err(); !errors.As(err, &pe) || !errors.Is(err, myErr) {
			t.Errorf("Err() = %v; want a *PanicError wrapping %v", err, myErr)
		}
	})
	t.Run("runtime.Goexit resolves the task before the goroutine ends", func(t *testing.T) {
		h := newHandle(context.Background(), func(context.Context) (int, error) { runtime.Goexit(); return 0, nil })
		h.Start()
		var wg sync.WaitGroup
		wg.Go(h.Run)
		wg.Wait()
		if err := h.Err(); !errors.Is(err, safe.ErrGoexit) || h.State() != Failed {
			t.Errorf("Err() = %v in %v; want ErrGoexit, failed", err, h.State())
		}
	})
	t.Run("Wait with a ctx that ends first leaves the task alone", func(t *testing.T) {
		release := make(chan struct{})
		h := newHandle(context.Background(), func(context.Context) (int, error) { <-release; return 4, nil })
		h.Start()
		var wg sync.WaitGroup
		wg.Go(h.Run)
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(myErr)
		if v, err := h.Wait(ctx); v != 0 || err != myErr {
			t.Errorf("Wait(done ctx) = %v, %v; want 0, %v", v, err, myErr)
		}
		if h.State() != Running {
			t.Errorf("State() = %v; want running", h.State())
		}
		close(release)
		wg.Wait()
		if v, err := h.Wait(ctx); v != 4 || err != nil {
			t.Errorf("Wait() after resolution = %v, %v; want 4, nil (the result wins over a done ctx)", v, err)
		}
	})
}
