package task

import (
	"runtime"
	"sync/atomic"
)

// Debug is what package inspect's debug mode installs ([SetDebug]) to hear
// of a task handle (a taskgroup.Task, an executor.Future) whose failure
// nobody read: asyncio's "exception was never retrieved".
//
// Unread is called, on a cleanup goroutine, when such a handle is
// collected: it Failed (or was rejected), and neither Wait, nor Err, nor
// its group read the error. created is the stack of the call that made the
// handle (runtime.Callers' PCs).
type Debug struct {
	Unread func(created []uintptr, err error)
}

// debugOn is nil while debug mode is off: then a handle costs one atomic
// load at Init and a nil check where it is read and resolved.
var debugOn atomic.Pointer[Debug]

// SetDebug installs d for handles made from now on; nil turns it off.
func SetDebug(d *Debug) { debugOn.Store(d) }

// unread follows one handle in debug mode. It is kept apart from the
// handle, which its cleanup watches.
type unread struct {
	d       *Debug
	created []uintptr
	read    atomic.Bool
	failed  atomic.Pointer[error] // set when the handle resolves Failed
}

// debugInit runs in Init: in debug mode it records where h was made and
// arranges to check h when it is collected.
func (h *Handle[T]) debugInit() {
	d := debugOn.Load()
	if d == nil {
		return
	}
	pcs := make([]uintptr, 32)
	n := runtime.Callers(3, pcs) // skip Callers, debugInit, Init
	h.dbg = &unread{d: d, created: pcs[:n]}
	runtime.AddCleanup(h, (*unread).collected, h.dbg)
}

// markRead notes that the handle's outcome was read.
func (h *Handle[T]) markRead() {
	if h.dbg != nil && !h.dbg.read.Load() {
		h.dbg.read.Store(true)
	}
}

// debugResolved notes a failure, for the check at collection.
func (h *Handle[T]) debugResolved(st State, err error) {
	if h.dbg != nil && st == Failed {
		h.dbg.fail(err)
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
	if p := u.failed.Load(); p != nil && !u.read.Load() {
		u.d.Unread(u.created, *p)
	}
}
