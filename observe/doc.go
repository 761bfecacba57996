// Package observe lets a program see what the primitives of this module do:
// one event type that every package reports through, a process-wide
// registry of live objects, a hook for tracking tasks, and an observer
// that writes events to log/slog.
//
//	observe.SetDefault(observe.Slog(logger)) // every primitive reports to logger
//	for o := range observe.Objects() {       // every live group, executor, queue, breaker, cache
//		fmt.Println(o.Kind, o.Name, o.Gauges.Depth)
//	}
//
// # Contract
//
//   - Events: each primitive reports what it does as an [Event] (a value,
//     passed by value), to its own observer (a WithObserver option of its
//     package) or else to the process's ([SetDefault]). [Kind] lists the
//     events and the fields each fills. Observers are called synchronously,
//     on the goroutine that caused the event, after the primitive has
//     released its locks, so an observer may call back into the object.
//   - A misbehaving observer does not break a primitive: a panic in an
//     observer (or a hook, or an object's gauges) is recovered, the event
//     is dropped, and [Dropped] counts it; the primitive carries on as if
//     the observer had returned. An observer that may block should be
//     wrapped in [NewBuffered], which hands events to it on a goroutine of
//     its own and drops (and counts) what does not fit in its buffer; an
//     observer that blocks unwrapped holds up the goroutine that reported
//     the event, and nothing else.
//   - Bad input: a nil observer given to [SetDefault] or to a WithObserver
//     option, or a nil logger given to [Slog], panics at once with a
//     message naming the function.
//   - Registry: every long-lived object (taskgroup.Group,
//     executor.Executor, queue.Queue, breaker.Breaker, memo.Cache, and the
//     jsqueue and limit objects) registers itself when made, by weak
//     reference, so the registry never keeps an object alive. It leaves at
//     Wait, Shutdown or Close, or when it is collected. Groups, made often
//     and short-lived (taskgroup's, and the one of each gather call),
//     register only while an observer or a task hook is set ([Active]). [Objects] iterates
//     the live ones, with their kind, name, parent and [Gauges], read at
//     that moment: OpenTelemetry's observable gauges and package inspect
//     read it there, so nothing is counted between reads.
//   - Tasks: while a [TaskHook] is installed ([SetTaskHook], as package
//     inspect does), taskgroup, gather and executor tell it of every task
//     they queue, start and end, with its name ([WithTaskName],
//     taskgroup's GoNamed and SpawnNamed) or its function's symbol
//     ([FuncName], resolved only when asked for), and its parent.
//   - Attempts and messages: an [AttemptObserver] (a tracer) makes the ctx
//     each retry and retryhttp attempt runs with; a [Propagator] carries a
//     ctx's trace across jsqueue, from Put to the Serve handler in another
//     process, in the message's headers.
//   - [Slog] writes failures at Warn or Error with what is needed to act
//     (which breaker, which host, attempts, the last error, a panic's
//     stack), and the rest at Debug. Events that must never be lost (an
//     executor task's failure with no error handler, a breaker's store
//     outage, a panic in a user callback that has no caller to return it
//     to, such as a breaker hook run on a breaker/redisstore Store's
//     goroutine) go to log/slog's default logger when no observer is set
//     ([Fallback]). No package of the module writes to log/slog's default
//     logger but through [Fallback].
//
// # Costs
//
//   - No observer and no hook set (the default): each place that may
//     report costs one atomic load and a nil check; no allocation, no
//     clock read. A task spawn is the same: one atomic load.
//   - An observer set: the primitive builds the event on its stack (one
//     clock read for its Time; tasks and attempts read the clock when they
//     start too) and calls the observer; what the observer does is its own
//     cost. A task is wrapped in one closure (one allocation) to see its
//     end.
//   - A hook set: per task, an ID, the hook's tracker, a context carrying
//     the task's ID, a cleanup, and the hook's own work.
//   - Registry: per long-lived object, a weak pointer and an entry (two
//     small allocations, once; a cleanup too while an [ObjectHook] is
//     installed); leaving is one map delete. A group registers only while
//     something is set, and then also costs a context that names it.
//     [Objects] allocates a snapshot of the entries and calls each live
//     object's gauges.
package observe
