package task

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Debug is what package inspect's debug mode installs ([SetDebug]) to hear
// of a task handle (a taskgroup.Task, an executor.Future) whose failure
// nobody read: asyncio's "exception was never retrieved".
//
// Unread is called, on a cleanup goroutine, when such a handle is
// collected while debug mode is on: it Failed (or was rejected), and
// neither Wait, nor Err, nor its group read the error. created is the
// stack of the call that made the handle (runtime.Callers' PCs).
type Debug struct {
	Unread func(created []uintptr, err error)
}

// debugOn is nil while debug mode is off: then a handle costs one atomic
// load where it is made, read and resolved, and nothing else.
var debugOn atomic.Pointer[Debug]

// SetDebug installs d for handles made from now on; nil turns it off.
func SetDebug(d *Debug) { debugOn.Store(d) }

// unreads holds the record of each handle made in debug mode, by the
// handle's address. It is kept outside the handle so that the handle (a
// future is 144 bytes, a size class of its own) does not grow by a field
// that is nil outside debug mode. The address is only a key, never turned
// back into a pointer; a handle collected and another made at its address
// before the cleanup ran are told apart by CompareAndDelete.
var unreads sync.Map // uintptr -> *unread

// unread follows one handle in debug mode. It is kept apart from the
// handle, which its cleanup watches.
type unread struct {
	key     uintptr
	created []uintptr
	read    atomic.Bool
	failed  atomic.Pointer[error] // set when the handle resolves Failed
}

// debugInit runs in Init: in debug mode it records where h was made and
// arranges to check h when it is collected.
func (h *Handle[T]) debugInit() {
	if debugOn.Load() == nil {
		return
	}
	pcs := make([]uintptr, 32)
	n := runtime.Callers(3, pcs) // skip Callers, debugInit, Init
	u := &unread{key: uintptr(unsafe.Pointer(h)), created: pcs[:n]}
	unreads.Store(u.key, u)
	runtime.AddCleanup(h, (*unread).collected, u)
}

// record returns h's debug record, or nil (debug mode off, or h made
// while it was off).
func (h *Handle[T]) record() *unread {
	if debugOn.Load() == nil {
		return nil
	}
	v, _ := unreads.Load(uintptr(unsafe.Pointer(h)))
	u, _ := v.(*unread)
	return u
}

// markRead notes that the handle's outcome was read.
func (h *Handle[T]) markRead() {
	if u := h.record(); u != nil && !u.read.Load() {
		u.read.Store(true)
	}
}

// debugResolved notes a failure, for the check at collection.
func (h *Handle[T]) debugResolved(st State, err error) {
	if st == Failed {
		if u := h.record(); u != nil {
			u.fail(err)
		}
	}
}

// fail records err. It copies err to the heap itself, so that taking its
// address does not make every resolve's err escape (an allocation per
// task with debug mode off).
//
//go:noinline
func (u *unread) fail(err error) {
	e := err
	u.failed.Store(&e)
}

func (u *unread) collected() {
	unreads.CompareAndDelete(u.key, u)
	d := debugOn.Load()
	if d == nil {
		return // turned off since: reads were no longer recorded
	}
	if p := u.failed.Load(); p != nil && !u.read.Load() {
		d.Unread(u.created, *p)
	}
}
