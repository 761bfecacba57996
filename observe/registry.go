package observe

import (
	"context"
	"iter"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// ID names a registered object, or a tracked task (see [TaskHook]), for the
// life of the process. IDs are never reused; 0 is no object.
type ID uint64

// Gauges are the numbers a live object reports about itself, read when the
// registry is iterated ([Objects]). A field the object has no use for is 0
// (or "").
type Gauges struct {
	Depth    int    // queue: items held; memo: entries held; jsqueue: messages held
	Capacity int    // queue: capacity; memo: max entries (0: no bound); executor: queue size
	Running  int    // tasks running (taskgroup, executor), loads running (memo), permits held (limit)
	Queued   int    // tasks waiting for a worker (executor), callers waiting (limit)
	Limit    int    // how many may run at once: taskgroup's WithLimit, executor's workers, a limiter's limit; 0: no limit
	State    string // breaker: "closed", "open" or "half-open"; redislimit: "shared" or "local"; "" for the others
}

// Object is a live object as the registry reports it: what [Objects]
// yields.
type Object struct {
	ID      ID
	Parent  ID        // the object or task whose ctx it was made with ([ObjectFrom]); 0 if none
	Kind    string    // "taskgroup", "executor", "queue", "breaker", "memo", "jsqueue", "jsqueue.serve", "limit.rate", ...
	Name    string    // given by the object's WithName option; "" if none
	Created time.Time // when it registered
	Gauges  Gauges    // read from the object as it was yielded
}

// Entry is an object's place in the registry, returned by [Register] and
// kept by the object so that it can [Entry.Leave] when it is finished.
type Entry struct {
	obj  Object // Gauges unset
	r    reader // the typedEntry that holds this Entry: reads the object through its weak pointer
	left atomic.Bool
}

// reader reads a registered object, reporting false once it is collected.
type reader interface {
	read() (Gauges, bool)
	alive() bool
}

// typedEntry is an Entry with the weak pointer to its object, in one
// allocation.
type typedEntry[T any] struct {
	Entry
	w      weak.Pointer[T]
	gauges func(*T) Gauges
}

func (t *typedEntry[T]) read() (Gauges, bool) {
	p := t.w.Value()
	if p == nil {
		return Gauges{}, false
	}
	return t.gauges(p), true
}

func (t *typedEntry[T]) alive() bool { return t.w.Value() != nil }

var registry struct {
	mu      sync.Mutex
	entries map[ID]*Entry // live entries, and collected ones not yet swept
	sweepAt int           // len(entries) at which Register sweeps out the collected
}

var lastID atomic.Uint64

// Active reports whether a default observer or a task hook is set. Objects
// that are made often and live briefly (taskgroup's groups, the group of
// each gather call) register only while it is true (or, for a group, when
// it has an observer of its own), so that with nothing set they cost
// nothing; long-lived objects (executors, queues, breakers, caches,
// limiters, jsqueue handles) always register. It costs one atomic load.
func Active() bool { return cur.Load() != nil }

func nextID() ID { return ID(lastID.Add(1)) }

// Register enters obj in the process's registry of live objects and returns
// its entry. The registry holds obj by weak reference (weak.Pointer), so it
// never keeps obj alive: obj leaves the registry when its owner calls
// [Entry.Leave] (at Wait, Shutdown or Close) or, failing that, when it is
// collected: from then on [Objects] skips it, and the entry itself is
// swept out by a later Register or Objects. While an [ObjectHook] is
// installed, objects registered meanwhile also get a runtime.AddCleanup,
// so that the hook hears of their collection when it happens.
//
// gauges is called with obj each time the registry is read, on the
// reader's goroutine; it must not block for long. parent is what
// [ObjectFrom] found in the ctx obj was made with.
//
// Register is for the packages of this module and for code that builds
// its own long-lived primitives; it costs two small allocations and a
// short lock, once per object. It panics if obj or gauges is nil.
func Register[T any](obj *T, kind, name string, parent ID, gauges func(*T) Gauges) *Entry {
	if obj == nil || gauges == nil {
		panic("observe: nil obj or gauges passed to Register")
	}
	t := &typedEntry[T]{w: weak.Make(obj), gauges: gauges}
	e := &t.Entry
	e.obj = Object{ID: nextID(), Parent: parent, Kind: kind, Name: name, Created: now()}
	e.r = t
	registry.mu.Lock()
	if registry.entries == nil {
		registry.entries = make(map[ID]*Entry)
	}
	if len(registry.entries) >= registry.sweepAt {
		sweepLocked()
		registry.sweepAt = max(64, 2*len(registry.entries))
	}
	registry.entries[e.obj.ID] = e
	registry.mu.Unlock()
	if oh := objectHook(); oh != nil {
		runtime.AddCleanup(obj, (*Entry).collected, e)
		safely(func() { oh.ObjectRegistered(e.obj) })
	}
	return e
}

// sweepLocked deletes the entries of collected objects. registry.mu is
// held.
func sweepLocked() {
	for id, e := range registry.entries {
		if !e.r.alive() {
			delete(registry.entries, id)
			e.left.Store(true)
		}
	}
}

func objectHook() ObjectHook {
	oh, _ := hookOf().(ObjectHook)
	return oh
}

// ID returns the object's ID; 0 for a nil Entry.
func (e *Entry) ID() ID {
	if e == nil {
		return 0
	}
	return e.obj.ID
}

// Leave takes the object out of the registry. Only the first call does
// anything; Leave on a nil Entry does nothing.
func (e *Entry) Leave() { e.leave(false) }

// Abandon is Leave for an object whose owner dropped it without its
// Wait, Shutdown or Close, for a type whose registered part outlives the
// handle its owner holds (an executor's workers keep its pool alive after
// the *Executor is collected, for instance): the type watches its handle
// with runtime.AddCleanup and calls Abandon from there, and an
// [ObjectHook] hears ObjectLeft(id, true), as for a collected object.
// Only the first of Leave and Abandon does anything; Abandon on a nil
// Entry does nothing.
func (e *Entry) Abandon() { e.leave(true) }

func (e *Entry) collected() { e.leave(true) }

func (e *Entry) leave(collected bool) {
	if e == nil || e.left.Swap(true) {
		return
	}
	registry.mu.Lock()
	delete(registry.entries, e.obj.ID)
	registry.mu.Unlock()
	if oh := objectHook(); oh != nil {
		safely(func() { oh.ObjectLeft(e.obj.ID, collected) })
	}
}

// Objects returns an iterator over the live objects of the registry, in
// the order they registered, each with its gauges read as it is yielded.
// An object that left (or was collected) since the iteration began is
// skipped. The registry is not locked while the loop body runs, so the body
// may do anything, registering objects included.
func Objects() iter.Seq[Object] {
	return func(yield func(Object) bool) {
		registry.mu.Lock()
		sweepLocked()
		es := make([]*Entry, 0, len(registry.entries))
		for _, e := range registry.entries {
			es = append(es, e)
		}
		registry.mu.Unlock()
		slices.SortFunc(es, func(a, b *Entry) int { return cmpID(a.obj.ID, b.obj.ID) })
		for _, e := range es {
			if e.left.Load() {
				continue
			}
			g, ok := readGauges(e)
			if !ok {
				continue
			}
			o := e.obj
			o.Gauges = g
			if !yield(o) {
				return
			}
		}
	}
}

// readGauges reads e's object, recovering a panic in its gauges (the
// object is then skipped).
func readGauges(e *Entry) (g Gauges, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return e.r.read()
}

func cmpID(a, b ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

type objectKey struct{}

// WithObject returns a ctx derived from ctx that carries id as the
// enclosing object (or task): an object registered with a ctx derived from
// it gets id as its Parent. A taskgroup's tasks, for instance, receive a
// ctx that carries their group (or, while tasks are tracked, themselves).
// It allocates one context.
func WithObject(ctx context.Context, id ID) context.Context {
	return context.WithValue(ctx, objectKey{}, id)
}

// ObjectFrom returns the innermost object or task that ctx carries
// ([WithObject]), or 0.
func ObjectFrom(ctx context.Context) ID {
	if ctx == nil {
		return 0
	}
	id, _ := ctx.Value(objectKey{}).(ID)
	return id
}

// ObjectHook is implemented by a [TaskHook] that also wants to hear of
// objects entering and leaving the registry (to record where they were
// made, say). ObjectRegistered runs on the goroutine that made the object,
// inside its constructor; ObjectLeft runs where the object left: collected
// is true when it was collected without its owner's Wait, Shutdown or
// Close (then on a cleanup goroutine). A panic in either is recovered and
// ignored.
type ObjectHook interface {
	ObjectRegistered(o Object)
	ObjectLeft(id ID, collected bool)
}

// safely calls f, recovering a panic.
func safely(f func()) {
	defer func() {
		if recover() != nil {
			dropped.Add(1)
		}
	}()
	f()
}

func now() time.Time { return time.Now() }
