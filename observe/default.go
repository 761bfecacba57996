package observe

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
)

// global is what the process has installed: the default observer and the
// task hook, read together with one atomic load.
type global struct {
	obs  Observer
	hook TaskHook
}

var (
	cur     atomic.Pointer[global] // nil while nothing is installed
	curMu   sync.Mutex             // serialises the writers of cur
	dropped atomic.Uint64          // events lost: an observer panicked, or a Buffered one was full
)

// update installs a copy of the current global changed by f.
func update(f func(g *global)) {
	curMu.Lock()
	defer curMu.Unlock()
	var g global
	if p := cur.Load(); p != nil {
		g = *p
	}
	f(&g)
	if g.obs == nil && g.hook == nil {
		cur.Store(nil)
		return
	}
	cur.Store(&g)
}

// SetDefault makes o the observer of every primitive that was not given
// one of its own (WithObserver), for the whole process, like
// slog.SetDefault. It takes effect for events reported after it returns.
// SetDefault([Discard]) turns reporting off again, back to its cost when
// nothing was ever set. SetDefault panics if o is nil.
func SetDefault(o Observer) {
	if o == nil {
		panic("observe: nil Observer passed to SetDefault (use observe.Discard to turn reporting off)")
	}
	if _, ok := o.(discard); ok {
		o = nil
	}
	update(func(g *global) { g.obs = o })
}

// Default returns the process's observer, or nil when none is set (or
// [Discard] was). It costs one atomic load.
func Default() Observer {
	if g := cur.Load(); g != nil {
		return g.obs
	}
	return nil
}

// Pick returns own when it is not nil (an instance's own observer, from a
// WithObserver option), and otherwise [Default]. Primitives call it before
// building an event, so that with no observer set an event costs one
// atomic load and a nil check:
//
//	if o := observe.Pick(b.obs); o != nil {
//		observe.Emit(ctx, o, observe.Event{Kind: observe.BreakerRejected, ...})
//	}
func Pick(own Observer) Observer {
	if own != nil {
		return own
	}
	if g := cur.Load(); g != nil {
		return g.obs
	}
	return nil
}

// Emit gives e to o, stamping e.Time if it is zero. A panic in o is
// recovered: the event is lost and counted by [Dropped], and the caller
// goes on as if o had returned. Emit panics if o is nil (call [Pick]
// first).
func Emit(ctx context.Context, o Observer, e Event) {
	if e.Time.IsZero() {
		e.Time = now()
	}
	if ctx == nil {
		ctx = context.Background()
	}
	defer func() {
		if recover() != nil {
			dropped.Add(1)
		}
	}()
	o.Observe(ctx, e)
}

// Dropped returns how many events have been lost since the process
// started: events whose observer panicked, and events a [Buffered]
// observer had no room for.
func Dropped() uint64 { return dropped.Load() }

// Discard is an [Observer] that does nothing. Given to [SetDefault] it
// turns reporting off, at the cost of reporting nothing at all; given to a
// WithObserver option it silences that instance, whatever the default.
var Discard Observer = discard{}

type discard struct{}

func (discard) Observe(context.Context, Event) {}

// Multi returns an [Observer] that gives each event to every one of os in
// turn; a panic in one of them is recovered and counted by [Dropped], and
// the rest still get the event. It panics if os holds a nil Observer.
func Multi(os ...Observer) Observer {
	for i, o := range os {
		if o == nil {
			panic("observe: nil Observer passed to Multi (os[" + strconv.Itoa(i) + "])")
		}
	}
	return multi(append([]Observer(nil), os...))
}

type multi []Observer

func (m multi) Observe(ctx context.Context, e Event) {
	for _, o := range m {
		Emit(ctx, o, e)
	}
}

// AttemptStart forwards to every one of m that is an AttemptObserver, in
// turn, each getting the ctx the one before returned.
func (m multi) AttemptStart(ctx context.Context, e Event) context.Context {
	for _, o := range m {
		if a, ok := o.(AttemptObserver); ok {
			ctx = StartAttempt(ctx, a, e)
		}
	}
	return ctx
}

// StartAttempt calls o.AttemptStart(ctx, e) if o is an [AttemptObserver]
// and returns the ctx it returns; otherwise, or if it panics (counted by
// [Dropped]) or returns nil, it returns ctx.
func StartAttempt(ctx context.Context, o Observer, e Event) (out context.Context) {
	a, ok := o.(AttemptObserver)
	if !ok {
		return ctx
	}
	if e.Time.IsZero() {
		e.Time = now()
	}
	out = ctx
	defer func() {
		if recover() != nil {
			dropped.Add(1)
			out = ctx
		}
	}()
	if c := a.AttemptStart(ctx, e); c != nil {
		out = c
	}
	return out
}
