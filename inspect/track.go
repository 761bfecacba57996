package inspect

import (
	"context"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/async-patterns/async/internal/task"
	"github.com/async-patterns/async/observe"
)

// Track turns task tracking on or off for the whole process. While it is
// on, every task that taskgroup, gather and executor spawn is recorded (its
// name, state, age and parent) for [Snapshot], and runs under pprof labels
// and, while runtime/trace is tracing, inside a trace task and region
// (see the package doc). It takes effect for tasks spawned after it
// returns. Tracking is off by default.
//
// Track installs the process's observe.TaskHook ([observe.SetTaskHook]):
// the hook of package inspect replaces any other one, and Track(false)
// (with debug mode off) removes whatever hook is installed.
func Track(on bool) {
	state.mu.Lock()
	defer state.mu.Unlock()
	state.tracking.Store(on)
	installLocked()
}

// Tracking reports whether task tracking is on.
func Tracking() bool { return state.tracking.Load() }

// state is the package's process-wide state.
var state struct {
	mu       sync.Mutex // serialises Track and SetDebug
	tracking atomic.Bool
	debug    atomic.Bool
	hooked   bool // the hook is installed (mu)
}

// installLocked installs the hook when tracking or debug mode is on, and
// removes it when both are off. state.mu is held.
func installLocked() {
	on := state.tracking.Load() || state.debug.Load()
	if on == state.hooked {
		return
	}
	state.hooked = on
	if !on {
		observe.SetTaskHook(nil)
		task.SetDebug(nil)
		objects.clear() // no ObjectLeft comes without the hook
		return
	}
	objects.seed()
	observe.SetTaskHook(theHook)
}

// The states of a task, as [Node].State shows them.
const (
	StateQueued    = "queued"    // spawned, its function not started yet
	StateRunning   = "running"   // its function is running
	StateDone      = "done"      // its function returned nil
	StateFailed    = "failed"    // it returned an error of its own, or panicked
	StateCancelled = "cancelled" // its ctx ended, or it was cancelled before it ran
)

const (
	stQueued int32 = iota
	stRunning
	stDone
	stFailed
	stCancelled
)

var stateNames = [...]string{StateQueued, StateRunning, StateDone, StateFailed, StateCancelled}

// epoch is the origin of the package's monotonic clock: rec times are
// nanoseconds since it.
var epoch = time.Now()

func mono() int64 { return int64(time.Since(epoch)) }

// rec is one tracked task. The fields above the line are set at TaskQueued
// and never change; those below it are written on the task's goroutine
// (TaskStarted, TaskEnded) or atomically.
type rec struct {
	id, parent observe.ID
	source     string
	name       string
	fn         uintptr
	queued     int64     // mono
	created    []uintptr // debug mode: the spawn's stack

	state   atomic.Int32
	started atomic.Int64 // mono; 0 until started
	ended   atomic.Int64 // mono; 0 until ended

	// Set by TaskStarted, read by TaskEnded on the same goroutine; gid
	// also by the debug timers, which are started after it is set.
	restore    context.Context // the ctx whose pprof labels the goroutine goes back to; nil: none set
	region     *trace.Region
	ttask      *trace.Task
	gid        uint64
	stopCtx    func() bool                   // debug: unregisters the cancellation watch
	timerSlots [2]atomic.Pointer[time.Timer] // debug: the stuck and slow checks, once armed
	reported   atomic.Uint32                 // debug: the problems already reported (bits)
}

// hook is the observe.TaskHook (and observe.ObjectHook) of the package.
type hook struct{}

var theHook hook

// TaskQueued records the task and returns it as its tracker.
func (hook) TaskQueued(ctx context.Context, t observe.TaskInfo) observe.TaskTracker {
	r := &rec{id: t.ID, parent: t.Parent, source: t.Source, name: t.Name, fn: t.Func, queued: mono()}
	if state.debug.Load() {
		r.created = callers(4) // Callers, callers, TaskQueued, task.newWatcher's closure...
	}
	tasks.add(r)
	return r
}

// TaskStarted marks the task running and, with tracking on, sets the
// goroutine's pprof labels and opens a trace region.
func (r *rec) TaskStarted(ctx context.Context) {
	r.started.Store(mono())
	r.state.Store(stRunning)
	if state.tracking.Load() {
		r.restore = ctx
		pprof.SetGoroutineLabels(labelled(ctx, r))
		if trace.IsEnabled() {
			var tctx context.Context
			tctx, r.ttask = trace.NewTask(ctx, "async."+r.source)
			r.region = trace.StartRegion(tctx, taskLabel(r))
		}
	}
	if state.debug.Load() {
		debugStarted(r, ctx)
	}
}

// TaskEnded records the outcome, takes the task out of the live table and
// undoes what TaskStarted set up.
func (r *rec) TaskEnded(o observe.Outcome, _ error) {
	st := stDone
	switch o {
	case observe.Failed, observe.Panicked, observe.Rejected:
		st = stFailed
	case observe.Cancelled:
		st = stCancelled
	}
	r.ended.Store(mono())
	r.state.Store(st)
	if r.started.Load() != 0 { // on the task's goroutine
		if r.region != nil {
			r.region.End()
			r.ttask.End()
		}
		if r.restore != nil {
			pprof.SetGoroutineLabels(r.restore)
			r.restore = nil // the ended ring keeps r, not the task's ctx
		}
		debugEnded(r)
	}
	tasks.remove(r)
}
