// Package inspect shows what a running process's async work is doing: the
// tree of its live groups, executors, queues, breakers, caches and
// limiters, and, with task tracking on, every task they run, as Python's
// asyncio.all_tasks and python -m asyncio ps/pstree do. It also has a
// debug mode that reports the mistakes that make async programs hang or
// lose errors, as asyncio's debug mode does.
//
//	inspect.Track(true)                               // record tasks from now on
//	http.Handle("/debug/async", inspect.Handler())    // beside net/http/pprof
//	for depth, n := range inspect.Snapshot().All() {  // or read it in the program
//		fmt.Println(strings.Repeat("  ", depth), n.Kind, n.Label(), n.State, n.Age)
//	}
//
// From a shell: go run github.com/async-patterns/async/cmd/asyncps -tree
// http://localhost:6060/debug/async.
//
// Package inspect reads package observe's registry of live objects and
// installs its task hook; it imports none of the primitives, and the
// primitives know nothing of it.
//
// # Contract
//
//   - [Snapshot] returns a [Tree]: every live object of the registry with
//     its gauges (a queue's depth, an executor's running and queued tasks,
//     a breaker's state...), and, while tracking is on, every live task of
//     taskgroup, gather and executor, with the 64 that ended last. A task
//     shows its name (given at spawn: taskgroup's GoNamed and SpawnNamed,
//     observe.WithTaskName for executor and gather, whose functions are
//     name[0], name[1]...), its function's symbol (resolved with
//     runtime.FuncForPC when a snapshot is taken, never at spawn), its
//     state ([StateQueued], [StateRunning], [StateDone], [StateFailed],
//     [StateCancelled]), its age and its parent: the group or executor that
//     runs it; an object made with a task's ctx has that task as parent.
//   - Tracking is off by default. [Track](true) turns it on for tasks
//     spawned from then on; tasks already running stay unseen. A taskgroup
//     task waiting for a slot of WithLimit is not yet queued: it shows once
//     it has its slot. Task groups (taskgroup's, and the one behind each
//     gather call) are short-lived and many, so they register only while
//     something watches: tracking on, debug mode on, or an observer set
//     (observe.SetDefault); otherwise a snapshot lists the long-lived
//     objects (executors, queues, breakers, caches, limiters) alone.
//   - [Handler] serves the page (HTML with its script inline, no request
//     elsewhere; it refreshes itself every second, filters by state, sorts
//     siblings by age) and, with ?format=json, the [Tree] as JSON.
//   - Profiles and traces: while tracking is on, a task's function runs
//     with the pprof labels [LabelGroup] and [LabelTask] on its goroutine,
//     so that go tool pprof -tagfocus=async.task=NAME shows the CPU it
//     used (goroutines it starts inherit the labels); the goroutine's
//     labels are restored when it returns. While runtime/trace is tracing
//     (trace.IsEnabled), the task also runs in a trace task
//     "async.<source>" holding a region named as its label. The labels go
//     on the goroutine, not on the ctx the function gets: pprof.Do inside
//     it starts from the ctx's labels.
//   - Debug mode ([SetDebug], or ASYNCDEBUG=1 in the environment when the
//     program starts and imports this package): each problem is reported
//     once, as a [Problem] in an event of Kind observe.Debug to the
//     process's observer, or, with none set, to log/slog's default logger
//     at Warn; see SetDebug for the list. An executor never shut down is
//     among them: its workers do not reference the *Executor, so it is
//     collected (unless its tasks, error handler, observer or limiter
//     refer to it) and reported, and its workers finish what was queued
//     and exit.
//   - The process has one task hook: Track and SetDebug install this
//     package's (replacing any other observe.TaskHook), and remove it when
//     both are off.
//   - Bad input panics with a message starting "inspect: " ([SetStuckAfter]
//     with a delay that is not positive, [SetSlowAfter] with a negative
//     one).
//
// # Costs
//
//   - Off (the default): nothing. Each spawn of taskgroup, gather and
//     executor makes the one atomic load it makes anyway (package observe's),
//     and a task handle one more atomic load at creation and a nil check
//     where it is read; no allocation (TestOffCostsNoAllocation; the bench
//     rows of taskgroup, executor and gather are unchanged, BENCHMARKS.md).
//   - Tracking on: per task, the hook's wrapper and record (a few
//     allocations: the task's ID, its record, its entry in one of 32
//     locked maps), three clock reads, and two pprof label sets on its
//     goroutine. BenchmarkTaskCost measures it per task beside off.
//   - Debug mode: tracking's cost plus, per task and per handle, a stack
//     capture (runtime.Callers), a cleanup, a cancellation watch on the
//     task's ctx and, with SetSlowAfter, a timer. A report reads every
//     goroutine's stack (runtime.Stack). It is for development.
//   - [Snapshot]: a short lock of each of the 32 parts of the task table in
//     turn, then a node per object and task; 10 000 live tasks take a few
//     milliseconds (BenchmarkSnapshot; the target is 50 ms).
package inspect
