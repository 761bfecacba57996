// Package task holds what taskgroup and executor share about a task:
//
//   - [Handle], the one implementation behind taskgroup.Task and
//     executor.Future: a typed, cancellable handle on a function's result,
//     with its own context, that costs one allocation (handle.go);
//   - the task contexts, one family under one context key: [Ctx], the ctx
//     a handle's function receives, and [Reused], the ctx an executor
//     worker hands to one fire-and-forget task after another; [OwnedBy]
//     and [Retain] walk up them (ctx.go, reused.go);
//   - [Classify], the one place where the way a function ended (a value,
//     an error, its own cancellation, a panic) becomes a [State]
//     (outcome.go).
package task
