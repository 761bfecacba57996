package observe_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/async-patterns/async/observe"
)

type widget struct {
	depth int
	_     [4]int // big enough not to be batched with other tiny objects
}

func widgetGauges(w *widget) observe.Gauges { return observe.Gauges{Depth: w.depth} }

// find returns the live object with id, if the registry has it.
func find(id observe.ID) (observe.Object, bool) {
	for o := range observe.Objects() {
		if o.ID == id {
			return o, true
		}
	}
	return observe.Object{}, false
}

// registerGarbage registers a widget that nothing keeps, and returns its
// entry's ID and a flag set when the widget is collected.
//
//go:noinline
func registerGarbage() (observe.ID, *atomic.Bool) {
	w := &widget{depth: 1}
	collected := new(atomic.Bool)
	runtime.AddCleanup(w, func(f *atomic.Bool) { f.Store(true) }, collected)
	return observe.Register(w, "widget", "garbage", 0, widgetGauges).ID(), collected
}

func TestRegistry(t *testing.T) {
	t.Run("an object is listed with its kind, name, parent and gauges, read at iteration", func(t *testing.T) {
		w := &widget{depth: 3}
		e := observe.Register(w, "widget", "w1", 42, widgetGauges)
		defer e.Leave()
		o, ok := find(e.ID())
		if !ok {
			t.Fatal("the registered object is not in Objects()")
		}
		if o.Kind != "widget" || o.Name != "w1" || o.Parent != 42 || o.Gauges.Depth != 3 || o.Created.IsZero() {
			t.Errorf("Object = %+v; want kind widget, name w1, parent 42, depth 3, a creation time", o)
		}
		w.depth = 5
		if o, _ := find(e.ID()); o.Gauges.Depth != 5 {
			t.Errorf("Depth = %d after a change; want 5 (read at iteration)", o.Gauges.Depth)
		}
		runtime.KeepAlive(w)
	})
	t.Run("Leave takes it out, once", func(t *testing.T) {
		w := &widget{}
		e := observe.Register(w, "widget", "", 0, widgetGauges)
		e.Leave()
		e.Leave()
		if _, ok := find(e.ID()); ok {
			t.Error("the object is still listed after Leave")
		}
		var nilEntry *observe.Entry
		nilEntry.Leave() // does nothing
		if nilEntry.ID() != 0 {
			t.Error("nil Entry's ID != 0")
		}
		runtime.KeepAlive(w)
	})
	t.Run("the registry never keeps an object alive, and a collected object leaves", func(t *testing.T) {
		id, collected := registerGarbage()
		for i := 0; i < 50 && !collected.Load(); i++ {
			runtime.GC()
		}
		if !collected.Load() {
			t.Fatal("the widget was not collected after 50 GCs: something keeps it alive")
		}
		if _, ok := find(id); ok {
			t.Error("a collected object is still listed")
		}
	})
	t.Run("objects are yielded in the order they registered, and the loop can stop", func(t *testing.T) {
		ws := []*widget{{}, {}, {}}
		var ids []observe.ID
		for _, w := range ws {
			e := observe.Register(w, "widget", "order", 0, widgetGauges)
			defer e.Leave()
			ids = append(ids, e.ID())
		}
		var seen []observe.ID
		for o := range observe.Objects() {
			if o.Name == "order" {
				seen = append(seen, o.ID)
				if len(seen) == 2 {
					break
				}
			}
		}
		if len(seen) != 2 || seen[0] != ids[0] || seen[1] != ids[1] {
			t.Errorf("seen %v; want the first two of %v", seen, ids)
		}
		runtime.KeepAlive(ws)
	})
	t.Run("an object whose gauges panic is skipped", func(t *testing.T) {
		w := &widget{}
		e := observe.Register(w, "widget", "", 0, func(*widget) observe.Gauges { panic("bad gauges") })
		defer e.Leave()
		if _, ok := find(e.ID()); ok {
			t.Error("an object whose gauges panic is listed")
		}
		runtime.KeepAlive(w)
	})
	t.Run("the loop body may register and leave objects", func(t *testing.T) {
		w := &widget{}
		e := observe.Register(w, "widget", "", 0, widgetGauges)
		for range observe.Objects() {
			e2 := observe.Register(&widget{}, "widget", "", 0, widgetGauges)
			e2.Leave()
		}
		e.Leave()
		runtime.KeepAlive(w)
	})
}

// hook records what a TaskHook and ObjectHook are told.
type hook struct {
	mu         sync.Mutex
	registered []observe.Object
	left       map[observe.ID]bool // collected?
	queued     []observe.TaskInfo
}

func (h *hook) TaskQueued(_ context.Context, t observe.TaskInfo) observe.TaskTracker {
	h.mu.Lock()
	h.queued = append(h.queued, t)
	h.mu.Unlock()
	return nil
}

func (h *hook) ObjectRegistered(o observe.Object) {
	h.mu.Lock()
	h.registered = append(h.registered, o)
	h.mu.Unlock()
}

func (h *hook) ObjectLeft(id observe.ID, collected bool) {
	h.mu.Lock()
	if h.left == nil {
		h.left = map[observe.ID]bool{}
	}
	h.left[id] = collected
	h.mu.Unlock()
}

func (h *hook) leftOf(id observe.ID) (collected, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	collected, ok = h.left[id]
	return collected, ok
}

func TestObjectHook(t *testing.T) {
	h := &hook{}
	observe.SetTaskHook(h)
	defer observe.SetTaskHook(nil)

	w := &widget{}
	e := observe.Register(w, "widget", "hooked", 0, widgetGauges)
	e.Leave()
	if c, ok := h.leftOf(e.ID()); !ok || c {
		t.Errorf("ObjectLeft(%d) = collected %v, told %v; want told, not collected", e.ID(), c, ok)
	}
	id, collected := registerGarbage()
	for i := 0; i < 50; i++ {
		runtime.GC()
		if _, ok := h.leftOf(id); ok && collected.Load() {
			break
		}
		runtime.Gosched()
	}
	if c, ok := h.leftOf(id); !ok || !c {
		t.Errorf("ObjectLeft(%d) for a collected object: collected %v, told %v; want told, collected", id, c, ok)
	}
	h.mu.Lock()
	n := len(h.registered)
	h.mu.Unlock()
	if n < 2 {
		t.Errorf("ObjectRegistered called %d times; want at least 2", n)
	}
	runtime.KeepAlive(w)
}

// Abandon takes a live object out of the registry as collected: the hook
// hears ObjectLeft(id, true) once, and a later Leave changes nothing.
func TestAbandon(t *testing.T) {
	h := &hook{}
	observe.SetTaskHook(h)
	defer observe.SetTaskHook(nil)

	w := &widget{}
	e := observe.Register(w, "widget", "abandoned", 0, widgetGauges)
	e.Abandon()
	if c, ok := h.leftOf(e.ID()); !ok || !c {
		t.Errorf("after Abandon, ObjectLeft(%d): collected %v, told %v; want told, collected", e.ID(), c, ok)
	}
	e.Leave()
	if c, _ := h.leftOf(e.ID()); !c {
		t.Error("Leave after Abandon told the hook again, as not collected")
	}
	for o := range observe.Objects() {
		if o.ID == e.ID() {
			t.Errorf("Objects lists %+v after Abandon", o)
		}
	}
	var nilEntry *observe.Entry
	nilEntry.Abandon() // does nothing
	runtime.KeepAlive(w)
}
