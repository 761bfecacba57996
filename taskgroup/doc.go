// Package taskgroup provides structured concurrency for Go in the manner of
// Python's asyncio.TaskGroup: a [Group] owns the goroutines started through
// it, the first failure cancels the others, and [Group.Wait] returns only
// after every one of them has returned.
//
// The contract:
//
//   - Every task receives a ctx derived from the group's. The first task to
//     fail cancels that ctx with its error as the cause.
//   - [Group.Wait] waits for every task, then returns all real failures
//     joined, the first first. Errors that tasks return because the group
//     cancelled them are not failures and are left out. Wait is called
//     once, by the group's owner: a second call panics, as Go does after
//     Wait has returned.
//   - A panic or runtime.Goexit in a task becomes a [*PanicError] failure: it
//     never crashes the process and never hangs Wait.
//   - [WithLimit] bounds how many tasks run at once; [Group.Go] waits for a
//     slot, [Group.TryGo] does not.
//   - [Spawn] returns a typed [*Task] whose result can be awaited, and
//     [Start] runs a standalone task owned by the caller
//     (asyncio.create_task).
//   - Seeing inside: a group registers in package observe's registry of
//     live objects ([WithName]) until Wait returns, and reports each task's
//     end to its observer ([WithObserver]) or the process's; [Group.GoNamed]
//     and [SpawnNamed] name a task, as create_task(name=...) does.
//
// A minimal use:
//
//	g := taskgroup.New(ctx)
//	for _, url := range urls {
//		g.Go(func(ctx context.Context) error { return fetch(ctx, url) })
//	}
//	if err := g.Wait(); err != nil {
//		return err
//	}
package taskgroup
