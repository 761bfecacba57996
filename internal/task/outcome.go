package task

import (
	"context"
	"errors"
	"strconv"
)

// State is where a task is in its life.
type State int32

// The states of a task. Pending and Running are live; the other three are
// final, and a task reaches exactly one of them.
const (
	// Pending: created, its function not started yet (queued, or waiting
	// for a slot).
	Pending State = iota
	// Running: its function is running.
	Running
	// Succeeded: its function returned a nil error.
	Succeeded
	// Failed: its function returned an error that is not its cancellation,
	// or panicked.
	Failed
	// Cancelled: it was cancelled before it started, or its function
	// returned the error its cancellation caused.
	Cancelled
)

// String returns the state's name: "pending", "running", "succeeded",
// "failed" or "cancelled".
func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Running:
		return "running"
	case Succeeded:
		return "succeeded"
	case Failed:
		return "failed"
	case Cancelled:
		return "cancelled"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Classify returns the final state of a task whose function has ended:
// returned reports whether it returned (rather than panicked or called
// runtime.Goexit), err is what it returned (or the recovered panic), and
// ctx is the ctx it was given. It is the one place where an outcome becomes
// a state, for the handle, taskgroup and the executor alike:
//
//   - a panic or Goexit: Failed;
//   - a nil error: Succeeded;
//   - the ctx's own cancellation coming back (see [IsCancellation]):
//     Cancelled, since the task did what it was told;
//   - any other error: Failed.
func Classify(ctx context.Context, err error, returned bool) State {
	switch {
	case !returned:
		return Failed
	case err == nil:
		return Succeeded
	case IsCancellation(ctx, err):
		return Cancelled
	}
	return Failed
}

// IsCancellation reports whether err, returned by a function whose ctx is
// ctx, is that ctx's cancellation coming back rather than a failure of its
// own: ctx is done and err matches ctx.Err(), context.Canceled, or
// context.Cause(ctx).
func IsCancellation(ctx context.Context, err error) bool {
	cerr := ctx.Err()
	if cerr == nil || err == nil {
		return false
	}
	if errors.Is(err, cerr) || errors.Is(err, context.Canceled) {
		return true
	}
	cause := context.Cause(ctx)
	return cause != nil && errors.Is(err, cause)
}
