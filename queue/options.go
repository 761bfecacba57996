package queue

import (
	"fmt"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/observe"
)

// Overflow chooses what Put and TryPut do when the queue is full.
type Overflow uint8

const (
	// Block makes Put wait for room and TryPut return ErrFull. The default.
	Block Overflow = iota
	// DropOldest discards the item that was put earliest to make room for
	// the new one; Put and TryPut never wait and return nil.
	DropOldest
	// DropNewest discards the incoming item; Put and TryPut never wait and
	// return nil.
	DropNewest
)

// String returns the policy's name: "block", "drop-oldest" or
// "drop-newest".
func (o Overflow) String() string {
	if int(o) < len(overflowNames) {
		return overflowNames[o]
	}
	return fmt.Sprintf("Overflow(%d)", uint8(o))
}

var overflowNames = [...]string{Block: "block", DropOldest: "drop-oldest", DropNewest: "drop-newest"}

// Option configures a queue at construction. Options are checked by the
// constructor, which panics on a bad one.
type Option func(*config)

type config struct {
	overflow Overflow
	onDrop   any              // func(T) for the queue's T; checked by the constructor
	name     string           // observe.go
	obs      observe.Observer // observe.go
}

// WithOverflow sets the policy for a full queue (default [Block]). An
// unknown policy makes the constructor panic.
func WithOverflow(policy Overflow) Option {
	return func(o *config) {
		if policy > DropNewest {
			panic(fmt.Sprintf("queue: WithOverflow policy = %v; want Block, DropOldest or DropNewest", policy))
		}
		o.overflow = policy
	}
}

// WithOnDrop registers fn to be called with every item the overflow policy
// discards. It runs on the goroutine of the Put or TryPut that caused the
// drop, outside the queue's lock (it may call the queue), and has returned
// before that Put returns. fn must take the queue's element type: the
// constructor panics on a nil fn or a mismatch, so
// New[int](8, WithOnDrop(func(string) {})) fails at once.
//
// A panic in fn is recovered and returned by that Put or TryPut as a
// *[PanicError]. The queue is then as if fn had returned: the drop is done
// and counted, and under DropOldest the new item is in the queue. This is
// the one error from Put that does not mean "not enqueued". Why recover at
// all: the module turns every panic in user code into an error (see
// [PanicError]), and here the error can say exactly what state the queue
// is in, which a panic unwinding out of Put could not.
func WithOnDrop[T any](fn func(v T)) Option {
	return func(o *config) {
		if fn == nil {
			panic("queue: WithOnDrop fn is nil")
		}
		o.onDrop = fn
	}
}

// drop reports v, discarded by the overflow policy, to the OnDrop hook.
// Called without the lock.
func (q *Queue[T]) drop(v T) (err error) {
	q.emitDrop()
	if q.onDrop == nil {
		return nil
	}
	returned := false
	defer func() {
		if !returned {
			err = safe.Recovered(recover())
		}
	}()
	q.onDrop(v)
	returned = true
	return nil
}
