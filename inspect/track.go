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

// The pprof label keys a tracked task runs under:
// go tool pprof -tagfocus=async.task=fetch ...
const (
	LabelGroup = "async.group" // the group or executor: its name, else its kind and ID ("taskgroup#12")
	LabelTask  = "async.task"  // the task's name, else its function's symbol
)

// labelled returns ctx with the task's pprof labels added. When ctx has
// no labels of its own (the usual case) it is one of a bounded cache of
// labelled contexts, one per group and task label, so that a task costs
// no allocation for its labels.
func labelled(ctx context.Context, r *rec) context.Context {
	own := false
	pprof.ForLabels(ctx, func(string, string) bool { own = true; return false })
	if own {
		return pprof.WithLabels(ctx, pprof.Labels(LabelGroup, groupLabel(r), LabelTask, taskLabel(r)))
	}
	k := labelKey{r.parent, r.name, r.fn}
	if c, ok := labelCache.Load(k); ok {
		return c.(context.Context)
	}
	c := pprof.WithLabels(context.Background(), pprof.Labels(LabelGroup, groupLabel(r), LabelTask, taskLabel(r)))
	if labelCount.Add(1) <= maxLabelCache {
		labelCache.Store(k, c)
	}
	return c
}

// labelKey is what a task's labels are made of: its parent's ID (whose
// kind and name do not change) and its name or function.
type labelKey struct {
	parent observe.ID
	name   string
	fn     uintptr
}

var (
	labelCache sync.Map // labelKey -> context.Context carrying the labels
	labelCount atomic.Int64
)

// maxLabelCache bounds the cache: a process that makes groups without
// end (each its own parent ID) pays the labels' allocations past it.
const maxLabelCache = 4096

func taskLabel(r *rec) string {
	if r.name != "" {
		return r.name
	}
	return funcName(r.fn)
}

func groupLabel(r *rec) string {
	if o, ok := objects.get(r.parent); ok {
		if o.name != "" {
			return o.name
		}
		return o.kind + "#" + itoa(uint64(r.parent))
	}
	if r.parent == 0 {
		return r.source
	}
	return r.source + "#" + itoa(uint64(r.parent))
}

// funcNames caches FuncName, which a label needs at each task start.
var funcNames sync.Map // uintptr -> string

func funcName(pc uintptr) string {
	if s, ok := funcNames.Load(pc); ok {
		return s.(string)
	}
	s := observe.FuncName(pc)
	funcNames.Store(pc, s)
	return s
}

// tasks is the table of live tracked tasks, sharded to keep spawns on
// different cores apart, and a ring of the last ones that ended.
var tasks table

const shards = 32

type table struct {
	sh [shards]struct {
		mu sync.Mutex
		m  map[observe.ID]*rec
		_  [40]byte
	}
	endMu sync.Mutex
	ended [keepEnded]*rec // ring
	next  int
}

// keepEnded is how many ended tasks a snapshot still shows.
const keepEnded = 64

func (t *table) add(r *rec) {
	s := &t.sh[uint64(r.id)%shards]
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[observe.ID]*rec)
	}
	s.m[r.id] = r
	s.mu.Unlock()
}

func (t *table) remove(r *rec) {
	s := &t.sh[uint64(r.id)%shards]
	s.mu.Lock()
	delete(s.m, r.id)
	s.mu.Unlock()
	t.endMu.Lock()
	t.ended[t.next] = r
	t.next = (t.next + 1) % keepEnded
	t.endMu.Unlock()
}

// appendAll appends the live tasks and then the recently ended ones.
func (t *table) appendAll(rs []*rec) []*rec {
	for i := range t.sh {
		s := &t.sh[i]
		s.mu.Lock()
		for _, r := range s.m {
			rs = append(rs, r)
		}
		s.mu.Unlock()
	}
	t.endMu.Lock()
	for _, r := range t.ended {
		if r != nil {
			rs = append(rs, r)
		}
	}
	t.endMu.Unlock()
	return rs
}

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

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
