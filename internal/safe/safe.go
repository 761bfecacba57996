// Package safe holds the one panic capture that every package of the module
// shares: a panic or runtime.Goexit in user code becomes a *PanicError.
//
// The public packages re-export the type with an alias
// (type PanicError = safe.PanicError), so errors.As matches the same value
// whichever package's name the caller uses.
package safe

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// ErrGoexit is the Value of a [PanicError] made from a call to
// runtime.Goexit: the function stopped its goroutine without returning and
// without panicking.
var ErrGoexit = errors.New("runtime.Goexit called in user function")

// PanicError reports a panic (or a runtime.Goexit) recovered from a user
// function. Value is what was passed to panic ([ErrGoexit] for a Goexit);
// Stack is the goroutine's stack at the point of the panic.
//
// Why recover at all: a panic on a goroutine the library started would
// otherwise crash the whole process with no way for the caller to handle it,
// and a Goexit would leave whoever waits on the task hanging forever. Turning
// both into an error delivered where the function's own error would go keeps
// the failure visible (the stack rides along) without taking the program down.
type PanicError struct {
	Value any
	Stack []byte
}

// Error returns "panic: " followed by the panic value and the stack.
func (e *PanicError) Error() string {
	if e.Value == ErrGoexit {
		return "runtime.Goexit called in user function\n\n" + string(e.Stack)
	}
	return fmt.Sprintf("panic: %v\n\n%s", e.Value, e.Stack)
}

// Unwrap returns the panic value if it is an error, and nil otherwise.
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// Recovered turns the result of recover() into a *PanicError. It must be
// called from a deferred function that has established the user function did
// not return normally; a nil r then means runtime.Goexit (since Go 1.21,
// panic(nil) recovers as a *runtime.PanicNilError, never nil).
//
// The usual shape is:
//
//	returned := false
//	defer func() {
//		if !returned {
//			err = safe.Recovered(recover())
//		}
//		finish(err)
//	}()
//	err = fn()
//	returned = true
func Recovered(r any) *PanicError {
	if rt, ok := r.(rethrown); ok {
		return rt.pe
	}
	if r == nil {
		r = ErrGoexit
	}
	return &PanicError{Value: r, Stack: debug.Stack()}
}

// Rethrow wraps a *PanicError that has been recovered and reported (by
// package observe's task watcher) so that it can be panicked again and
// reach the recovery of the package that runs the task: [Recovered] then
// returns pe itself rather than wrapping it again, and the stack stays the
// one of the first panic.
func Rethrow(pe *PanicError) any { return rethrown{pe} }

type rethrown struct{ pe *PanicError }
