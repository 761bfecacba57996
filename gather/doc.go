// Package gather provides the asyncio.gather family for Go: run a set of
// functions concurrently and collect their outcomes as one value.
//
// The contract:
//
//   - [All] returns every value in input order, or the first failure (which
//     cancels the rest); [Settled] returns every outcome and cancels nothing;
//     [Race] returns the first outcome and [Any] the first success, cancelling
//     the losers; [Map] applies one function to a slice, at most n at once
//     with [WithLimit]; [AsCompleted] yields outcomes in completion order.
//   - Every call returns only after every function it started has returned:
//     losers and the rest after a failure are cancelled and awaited, never
//     left running. A loop over [AsCompleted] that breaks waits for the rest
//     before the loop statement ends.
//   - A panic or runtime.Goexit in a function becomes a [*PanicError] reported
//     where that function's error would be.
//   - Bad input is an error, not a crash: a nil function is reported by its
//     index ("gather: fns[2] is nil") before anything starts, and Race and Any
//     with no functions return [ErrEmpty] at once.
//
// The functions run on the task machinery of package taskgroup, so a
// taskgroup.Task's Wait method plugs straight in:
//
//	vals, err := gather.All(ctx, fetchUser, fetchOrders, t.Wait)
//	if err != nil {
//		return err // the first failure; the others were cancelled and awaited
//	}
package gather
