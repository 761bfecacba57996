package breaker

import (
	"fmt"
)

// State is the state of a [Breaker].
type State int

// The states of a [Breaker]. Closed lets calls through and counts their
// outcomes; Open rejects them; HalfOpen lets a few probes through to decide
// between the two.
const (
	Closed State = iota
	HalfOpen
	Open
)

// String returns "closed", "half-open" or "open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	}
	return fmt.Sprintf("breaker.State(%d)", int(s))
}

// Counts are the numbers a [Breaker] decides on. They cover the current
// window (see [WithWindow]) in the closed state, and the probes in the
// half-open state; every change of state clears them. Requests counts calls
// let through, including those still running; TotalExclusions counts calls
// the caller cancelled, which are neither successes nor failures.
type Counts struct {
	Requests             uint32
	TotalSuccesses       uint32
	TotalFailures        uint32
	TotalExclusions      uint32
	ConsecutiveSuccesses uint32
	ConsecutiveFailures  uint32
}
