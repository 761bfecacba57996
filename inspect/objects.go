package inspect

import (
	"sync"

	"github.com/async-patterns/async/observe"
)

// objects remembers the kind, name and (in debug mode) creation stack of
// the registry's objects, by ID, for labels and debug reports. It learns
// of them through the hook (ObjectRegistered) and, for those made before
// the hook was installed, from observe.Objects.
var objects objTable

type objInfo struct {
	kind, name string
	created    []uintptr
}

type objTable struct {
	mu sync.Mutex
	m  map[observe.ID]objInfo
}

func (t *objTable) seed() {
	for o := range observe.Objects() {
		t.put(o.ID, objInfo{kind: o.Kind, name: o.Name})
	}
}

func (t *objTable) clear() {
	t.mu.Lock()
	t.m = nil
	t.mu.Unlock()
}

func (t *objTable) put(id observe.ID, o objInfo) {
	t.mu.Lock()
	if t.m == nil {
		t.m = make(map[observe.ID]objInfo)
	}
	if _, ok := t.m[id]; !ok || o.created != nil {
		t.m[id] = o
	}
	t.mu.Unlock()
}

func (t *objTable) get(id observe.ID) (objInfo, bool) {
	t.mu.Lock()
	o, ok := t.m[id]
	t.mu.Unlock()
	return o, ok
}

func (t *objTable) take(id observe.ID) (objInfo, bool) {
	t.mu.Lock()
	o, ok := t.m[id]
	delete(t.m, id)
	t.mu.Unlock()
	return o, ok
}

// ObjectRegistered remembers the object (with its creation stack in debug
// mode).
func (hook) ObjectRegistered(o observe.Object) {
	info := objInfo{kind: o.Kind, name: o.Name}
	if state.debug.Load() {
		info.created = callers(4)
	}
	objects.put(o.ID, info)
}

// ObjectLeft forgets the object; in debug mode it reports an object
// collected without its owner's Wait, Shutdown or Close.
func (hook) ObjectLeft(id observe.ID, collected bool) {
	o, ok := objects.take(id)
	if ok && collected && state.debug.Load() {
		debugCollected(id, o)
	}
}
