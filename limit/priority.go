package limit

import (
	"context"
	"fmt"
)

// Priority is the importance of a piece of work, carried in its ctx
// ([WithPriority]) so that it crosses package boundaries: a limiter that
// sheds load (the adaptive limiter) turns away the lowest priority first.
// The zero Priority is [Normal], what a ctx without one carries.
type Priority int8

// The priorities, lowest first.
const (
	Lowest  Priority = -2 // shed first: prefetches, batch work
	Low     Priority = -1 // background work a user is not waiting for
	Normal  Priority = 0  // the default
	High    Priority = 1  // interactive requests
	Highest Priority = 2  // shed last: health checks, control traffic
)

// String returns "lowest", "low", "normal", "high" or "highest".
func (p Priority) String() string {
	switch p {
	case Lowest:
		return "lowest"
	case Low:
		return "low"
	case Normal:
		return "normal"
	case High:
		return "high"
	case Highest:
		return "highest"
	}
	return fmt.Sprintf("Priority(%d)", int8(p))
}

type priorityKey struct{}

// WithPriority returns a ctx derived from ctx that carries priority p,
// clamped to [Lowest, Highest]. It allocates one context.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, min(max(p, Lowest), Highest))
}

// PriorityFrom returns the priority ctx carries ([WithPriority]), or
// [Normal] when it carries none.
func PriorityFrom(ctx context.Context) Priority {
	if p, ok := ctx.Value(priorityKey{}).(Priority); ok {
		return p
	}
	return Normal
}
