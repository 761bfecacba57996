package limit

import (
	"strconv"
	"sync"
)

// ledger hands out permit IDs and takes each back exactly once, so that a
// permit released twice (or one that was never granted) is caught. An ID
// is a slot and that slot's generation: the generation is odd while the
// slot is held and moves on at every release, so a stale copy of a permit
// never matches again (until its slot's 32-bit generation wraps, after 2^31
// reuses of that one slot). Slots are reused, so the ledger grows to the
// most permits ever held at once and allocates nothing after that.
//
// The zero ledger is ready to use. It is safe for concurrent use; take and
// give each hold its mutex for a few instructions.
type ledger struct {
	mu   sync.Mutex
	gen  []uint32 // per slot; odd while held
	free []uint32 // slots not held
	tag  []bool   // per slot: the tag given to takeTagged, for give
	held int      // permits held
}

// take records a new admission and returns its ID.
func (l *ledger) take() uint64 { return l.takeTagged(false) }

// takeTagged records a new admission with a tag that give returns, and
// returns its ID.
func (l *ledger) takeTagged(tag bool) uint64 {
	l.mu.Lock()
	var s uint32
	if n := len(l.free); n > 0 {
		s = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		s = uint32(len(l.gen))
		l.gen = append(l.gen, 0)
		l.tag = append(l.tag, false)
	}
	l.gen[s]++
	l.tag[s] = tag
	g := l.gen[s]
	l.held++
	l.mu.Unlock()
	return uint64(s)<<32 | uint64(g)
}

// give ends the admission id and returns its tag, panicking (with kind,
// the limiter's kind, in the message) if it is not held: released twice, or
// never granted here.
func (l *ledger) give(id uint64, kind string) bool {
	s, g := uint32(id>>32), uint32(id)
	l.mu.Lock()
	if int(s) >= len(l.gen) || g&1 == 0 || l.gen[s] != g {
		l.mu.Unlock()
		panic("limit: Release of a permit that is not held: released twice, or not acquired from this " + kind + " (permit " + strconv.FormatUint(id, 16) + ")")
	}
	l.gen[s]++
	tag := l.tag[s]
	l.free = append(l.free, s)
	l.held--
	l.mu.Unlock()
	return tag
}

// inFlight returns how many permits are held.
func (l *ledger) inFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}
