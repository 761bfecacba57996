package observe_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/async-patterns/async/internal/observetest"
	"github.com/async-patterns/async/observe"
)

// setDefault installs o for the test and restores "none" after it.
func setDefault(t *testing.T, o observe.Observer) {
	t.Helper()
	observe.SetDefault(o)
	t.Cleanup(func() { observe.SetDefault(observe.Discard) })
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic; want one containing %q", want)
		}
		if s, _ := r.(string); !strings.Contains(s, want) {
			t.Fatalf("panic %v; want one containing %q", r, want)
		}
	}()
	f()
}

func TestBadInput(t *testing.T) {
	mustPanic(t, "observe: nil Observer passed to SetDefault", func() { observe.SetDefault(nil) })
	mustPanic(t, "observe: nil *slog.Logger passed to Slog", func() { observe.Slog(nil) })
	mustPanic(t, "observe: nil Observer passed to Multi (os[1])", func() { observe.Multi(observe.Discard, nil) })
	mustPanic(t, "observe: nil Observer passed to NewBuffered", func() { observe.NewBuffered(nil, 1) })
	mustPanic(t, "observe: NewBuffered size must be at least 1", func() { observe.NewBuffered(observe.Discard, 0) })
	mustPanic(t, "observe: nil obj or gauges passed to Register", func() {
		observe.Register[int](nil, "x", "", 0, func(*int) observe.Gauges { return observe.Gauges{} })
	})
	if observe.Default() != nil {
		t.Errorf("Default() = %v after the panics; want nil (nothing installed)", observe.Default())
	}
}

func TestDefault(t *testing.T) {
	t.Run("nothing set: Default and Pick(nil) are nil", func(t *testing.T) {
		if o := observe.Default(); o != nil {
			t.Fatalf("Default() = %v; want nil", o)
		}
		if o := observe.Pick(nil); o != nil {
			t.Fatalf("Pick(nil) = %v; want nil", o)
		}
	})
	t.Run("an instance's own observer wins over the default", func(t *testing.T) {
		var def, own observetest.Recorder
		setDefault(t, &def)
		if o := observe.Pick(&own); o != &own {
			t.Errorf("Pick(own) = %v; want own", o)
		}
		if o := observe.Pick(nil); o != &def {
			t.Errorf("Pick(nil) = %v; want the default", o)
		}
	})
	t.Run("SetDefault(Discard) turns reporting off", func(t *testing.T) {
		setDefault(t, &observetest.Recorder{})
		observe.SetDefault(observe.Discard)
		if o := observe.Default(); o != nil {
			t.Errorf("Default() = %v after SetDefault(Discard); want nil", o)
		}
	})
	t.Run("Watching reads the observer and the hook together", func(t *testing.T) {
		var rec observetest.Recorder
		setDefault(t, &rec)
		h := &hook{}
		observe.SetTaskHook(h)
		t.Cleanup(func() { observe.SetTaskHook(nil) })
		o, th := observe.Watching(nil)
		if o != &rec || th != h {
			t.Errorf("Watching(nil) = %v, %v; want the default and the hook", o, th)
		}
		own := &observetest.Recorder{}
		if o, _ := observe.Watching(own); o != own {
			t.Errorf("Watching(own) = %v; want own", o)
		}
		observe.SetTaskHook(nil)
		if _, th := observe.Watching(nil); th != nil {
			t.Errorf("hook after SetTaskHook(nil) = %v; want nil", th)
		}
	})
}

func TestEmit(t *testing.T) {
	t.Run("a panicking observer loses the event, counted, and the caller goes on", func(t *testing.T) {
		before := observe.Dropped()
		observe.Emit(context.Background(), observe.ObserverFunc(func(context.Context, observe.Event) { panic("boom") }),
			observe.Event{Kind: observe.QueueDrop})
		if got := observe.Dropped() - before; got != 1 {
			t.Errorf("Dropped() grew by %d; want 1", got)
		}
	})
	t.Run("Time is stamped when zero and ctx defaults to Background", func(t *testing.T) {
		var got observe.Event
		var gotCtx context.Context
		//lint:ignore SA1012 a nil ctx is what is tested
		observe.Emit(nil, observe.ObserverFunc(func(ctx context.Context, e observe.Event) { got, gotCtx = e, ctx }),
			observe.Event{Kind: observe.MemoHit})
		if got.Time.IsZero() || gotCtx == nil {
			t.Errorf("Emit gave Time %v, ctx %v; want a time and a ctx", got.Time, gotCtx)
		}
	})
	t.Run("Multi gives each observer the event, past a panicking one", func(t *testing.T) {
		var a, b observetest.Recorder
		m := observe.Multi(&a, observe.ObserverFunc(func(context.Context, observe.Event) { panic("x") }), &b)
		before := observe.Dropped()
		observe.Emit(context.Background(), m, observe.Event{Kind: observe.MemoMiss})
		if len(a.Events()) != 1 || len(b.Events()) != 1 || observe.Dropped()-before != 1 {
			t.Errorf("got %d and %d events, %d dropped; want 1, 1, 1", len(a.Events()), len(b.Events()), observe.Dropped()-before)
		}
	})
	t.Run("StartAttempt uses an AttemptObserver's ctx, and survives its panic", func(t *testing.T) {
		type key struct{}
		a := attemptObs{start: func(ctx context.Context, e observe.Event) context.Context {
			return context.WithValue(ctx, key{}, e.Attempt)
		}}
		ctx := observe.StartAttempt(context.Background(), a, observe.Event{Kind: observe.RetryAttempt, Attempt: 3})
		if ctx.Value(key{}) != 3 {
			t.Errorf("StartAttempt ctx carries %v; want 3", ctx.Value(key{}))
		}
		bad := attemptObs{start: func(context.Context, observe.Event) context.Context { panic("x") }}
		base := context.Background()
		if got := observe.StartAttempt(base, bad, observe.Event{}); got != base {
			t.Errorf("StartAttempt after a panic = %v; want the ctx given", got)
		}
		if got := observe.StartAttempt(base, observe.Discard, observe.Event{}); got != base {
			t.Errorf("StartAttempt with a plain Observer = %v; want the ctx given", got)
		}
	})
}

type attemptObs struct {
	start func(context.Context, observe.Event) context.Context
}

func (attemptObs) Observe(context.Context, observe.Event) {}
func (a attemptObs) AttemptStart(ctx context.Context, e observe.Event) context.Context {
	return a.start(ctx, e)
}

func TestBuffered(t *testing.T) {
	t.Run("a blocked observer never holds up Observe: what does not fit is dropped and counted", func(t *testing.T) {
		release := make(chan struct{})
		var mu sync.Mutex
		var got []observe.Kind
		entered := make(chan struct{}, 1)
		slow := observe.ObserverFunc(func(_ context.Context, e observe.Event) {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
			mu.Lock()
			got = append(got, e.Kind)
			mu.Unlock()
		})
		b := observe.NewBuffered(slow, 2)
		before := observe.Dropped()
		b.Observe(context.Background(), observe.Event{Kind: observe.MemoHit}) // taken by the goroutine, which blocks
		<-entered
		b.Observe(context.Background(), observe.Event{Kind: observe.MemoMiss})  // buffered
		b.Observe(context.Background(), observe.Event{Kind: observe.MemoStale}) // buffered
		b.Observe(context.Background(), observe.Event{Kind: observe.MemoLoad})  // no room: dropped
		if d := observe.Dropped() - before; d != 1 {
			t.Errorf("Dropped() grew by %d; want 1", d)
		}
		close(release)
		b.Close()
		b.Close() // a second Close does nothing
		// After Close: dropped.
		b.Observe(context.Background(), observe.Event{Kind: observe.MemoHit})
		want := []observe.Kind{observe.MemoHit, observe.MemoMiss, observe.MemoStale}
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Errorf("delivered %v; want %v", got, want)
		}
		if d := observe.Dropped() - before; d != 2 {
			t.Errorf("Dropped() grew by %d; want 2", d)
		}
	})
}

func TestNames(t *testing.T) {
	if s := observe.RetryGiveUp.String(); s != "retry.give_up" {
		t.Errorf("RetryGiveUp.String() = %q", s)
	}
	if s := observe.Debug.String(); s != "inspect.debug" {
		t.Errorf("Debug.String() = %q; want inspect.debug", s)
	}
	if s := observe.Kind(200).String(); s != "Kind(200)" {
		t.Errorf("Kind(200).String() = %q", s)
	}
	if s := observe.Panicked.String(); s != "panicked" {
		t.Errorf("Panicked.String() = %q", s)
	}
	ctx := observe.WithTaskName(context.Background(), "fetch")
	if n := observe.TaskName(ctx); n != "fetch" {
		t.Errorf("TaskName = %q; want fetch", n)
	}
	pc := observe.FuncPC(TestNames)
	if n := observe.FuncName(pc); !strings.HasSuffix(n, "observe_test.TestNames") {
		t.Errorf("FuncName(FuncPC(TestNames)) = %q", n)
	}
	if observe.FuncPC(3) != 0 || observe.FuncName(0) != "" {
		t.Error("FuncPC of a non-function or FuncName(0) is not empty")
	}
	if observe.ObjectFrom(context.Background()) != 0 {
		t.Error("ObjectFrom(Background) != 0")
	}
	if id := observe.ObjectFrom(observe.WithObject(context.Background(), 7)); id != 7 {
		t.Errorf("ObjectFrom(WithObject(7)) = %d", id)
	}
	_ = errors.New
}

type badPropagator struct{ observe.ObserverFunc }

func (badPropagator) Inject(context.Context, map[string][]string) { panic("inject") }
func (badPropagator) Extract(context.Context, map[string][]string) context.Context {
	panic("extract")
}

func TestPropagator(t *testing.T) {
	before := observe.Dropped()
	h := map[string][]string{}
	ctx := context.Background()
	bad := badPropagator{observe.ObserverFunc(func(context.Context, observe.Event) {})}
	observe.Inject(ctx, bad, h)
	if got := observe.Extract(ctx, bad, h); got != ctx {
		t.Errorf("Extract after a panic = %v; want the ctx given", got)
	}
	if d := observe.Dropped() - before; d != 2 {
		t.Errorf("Dropped() grew by %d; want 2", d)
	}
	observe.Inject(ctx, observe.Discard, h) // not a Propagator: nothing
	if len(h) != 0 || observe.Extract(ctx, observe.Discard, h) != ctx {
		t.Error("a plain Observer injected or extracted something")
	}
}
