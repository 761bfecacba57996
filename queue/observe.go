package queue

import (
	"context"

	"github.com/async-patterns/async/observe"
)

// WithName names the queue in the registry of live objects
// ([observe.Objects]), in its events and in package inspect's view. A
// queue has no name by default.
func WithName(name string) Option {
	return func(o *config) { o.name = name }
}

// WithObserver makes o the observer of this queue's events (items dropped
// by the overflow policy, Close and CloseNow), instead of the process's
// default ([observe.SetDefault]). WithObserver panics if o is nil.
func WithObserver(o observe.Observer) Option {
	if o == nil {
		panic("queue: nil Observer passed to WithObserver")
	}
	return func(c *config) { c.obs = o }
}

// observed is what a queue needs to report itself: apart from the queue's
// hot fields, in an allocation of its own.
type observed struct {
	reg  *observe.Entry
	obs  observe.Observer // WithObserver's, or nil for the default
	name string
}

// register enters q in the registry of live objects; it leaves at Close
// or CloseNow.
func (q *Queue[T]) register(o config) {
	q.ob = &observed{obs: o.obs, name: o.name}
	q.ob.reg = observe.Register(q, "queue", o.name, 0, (*Queue[T]).gauges)
}

func (q *Queue[T]) gauges() observe.Gauges {
	return observe.Gauges{Depth: q.Len(), Capacity: q.capacity}
}

// emitDrop reports an item dropped by the overflow policy.
func (q *Queue[T]) emitDrop() {
	if o := observe.Pick(q.ob.obs); o != nil {
		out := observe.Rejected // DropNewest: the item put is refused
		if q.overflow == DropOldest {
			out = observe.Cancelled
		}
		observe.Emit(context.Background(), o, observe.Event{
			Kind: observe.QueueDrop, Outcome: out, Source: "queue", Name: q.ob.name, Object: q.ob.reg.ID(), Depth: q.capacity,
		})
	}
}

// closed takes q out of the registry and reports a Close (Outcome OK,
// depth: items left) or a CloseNow (Cancelled, depth: items discarded).
func (q *Queue[T]) emitClose(out observe.Outcome, depth int) {
	q.ob.reg.Leave()
	if o := observe.Pick(q.ob.obs); o != nil {
		observe.Emit(context.Background(), o, observe.Event{
			Kind: observe.QueueClose, Outcome: out, Source: "queue", Name: q.ob.name, Object: q.ob.reg.ID(), Depth: depth,
		})
	}
}
