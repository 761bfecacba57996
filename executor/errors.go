package executor

import (
	"context"
	"errors"

	"github.com/async-patterns/async/internal/safe"
)

// PanicError is the error a task's panic (or runtime.Goexit) becomes: Value
// is what was passed to panic, Stack the goroutine's stack. It is the same
// type in every package of this module, so errors.As with any package's
// *PanicError matches it.
//
// Why recover at all: a panic on a worker would otherwise crash the whole
// process, and a Goexit would silently kill the worker and leave whoever
// waits on the task hanging. Turning both into the task's error keeps the
// failure visible, with its stack, and keeps the worker serving the queue.
type PanicError = safe.PanicError

var (
	// ErrClosed is the error of work submitted after [Executor.Shutdown] or
	// [Executor.ShutdownNow] was called, or while Submit was waiting for room
	// when the executor shut down.
	ErrClosed = errors.New("executor: executor is shut down")

	// ErrFull is the error of [TrySubmit] when the queue has no room.
	ErrFull = errors.New("executor: queue is full")

	// ErrNilFunc is matched (with errors.Is) by the error of a submit
	// given a nil function; the error itself names the argument:
	// "executor: fn is nil".
	ErrNilFunc = errors.New("executor: nil function")
)

// errShutdownNow resolves the futures that ShutdownNow cancelled before
// they started, and errTooLate those that a submit racing Shutdown queued
// after the workers had exited. Both match ErrClosed and context.Canceled.
var (
	errShutdownNow error = &closedError{"executor: cancelled by ShutdownNow before it started"}
	errTooLate     error = &closedError{"executor: queued as the executor shut down, after its workers had exited; never started"}
)

type closedError struct{ msg string }

func (e *closedError) Error() string { return e.msg }

func (*closedError) Is(target error) bool {
	return target == ErrClosed || target == context.Canceled
}

// errNilFn is the error of a submit given a nil fn.
var errNilFn error = &nilFuncError{"executor: fn is nil"}

type nilFuncError struct{ msg string }

func (e *nilFuncError) Error() string { return e.msg }

func (*nilFuncError) Is(target error) bool { return target == ErrNilFunc }
