package executor

import "sync/atomic"

// ring is the executor's bounded FIFO queue of jobs: a pure queue, which
// never blocks and wakes nobody. Waiting for work and for room is the
// business of the worker and the submitter (see worker.go and
// [pool.put]).
//
// Why not a buffered channel: with tiny tasks a pool spends most of its time
// on the queue's lock, which the submitter and every worker take for each
// job (and hold while the job is copied in or out). ring takes no lock: a
// put and a get each claim a position with one compare-and-swap, on
// separate cache lines, and copy the job outside any critical section. The
// algorithm is Dmitry Vyukov's bounded MPMC queue: each slot carries a
// sequence number that says whether it is free for the put of a given
// position or holds the job for the get of that position. The positions
// only grow; a position's slot is pos % size.
type ring struct {
	tail atomic.Uint64 // the next position to put to
	_    [56]byte
	head atomic.Uint64 // the next position to get from
	_    [56]byte

	// Read on every put and get, written once.
	slots []slot
	size  uint64
	mask  uint64 // size-1 when size is a power of two (pow2)
	pow2  bool
}

// slot is one cell of the ring: the job and the sequence number that says
// what it holds. For position pos with this slot, seq == 2*pos means free
// for that put, and seq == 2*pos+1 means holding that put's job; a get of
// pos sets seq to 2*(pos+size), freeing the slot for the next lap. (Vyukov's
// pos and pos+1 would make a ring of one slot ambiguous: its next lap's
// "free" would be this lap's "holding".)
type slot struct {
	seq atomic.Uint64
	j   job
}

func newRing(size int) *ring {
	r := &ring{
		slots: make([]slot, size),
		size:  uint64(size),
	}
	if size&(size-1) == 0 {
		r.pow2 = true
		r.mask = uint64(size - 1)
	}
	for i := range r.slots {
		r.slots[i].seq.Store(2 * uint64(i))
	}
	return r
}

func (r *ring) slot(pos uint64) *slot {
	if r.pow2 {
		return &r.slots[pos&r.mask]
	}
	return &r.slots[pos%r.size]
}

// tryPut adds j at the tail. It reports false, adding nothing, when the
// ring is full.
func (r *ring) tryPut(j job) bool {
	pos := r.tail.Load()
	for {
		s := r.slot(pos)
		seq := s.seq.Load()
		switch {
		case seq == 2*pos:
			if !r.tail.CompareAndSwap(pos, pos+1) {
				pos = r.tail.Load() // another put took pos
				continue
			}
			s.j = j
			s.seq.Store(2*pos + 1)
			return true
		case seq < 2*pos:
			// The slot still holds the job of pos-size, or a get of it is
			// under way: full.
			return false
		default:
			pos = r.tail.Load() // another put filled pos already
		}
	}
}

// tryGet takes the job at the head. It reports false when the ring is
// empty, or when the put of the head's position is still copying its job
// in (the caller sees that as empty; see [ring.empty] for the difference).
func (r *ring) tryGet() (job, bool) {
	pos := r.head.Load()
	for {
		s := r.slot(pos)
		seq := s.seq.Load()
		switch {
		case seq == 2*pos+1:
			if !r.head.CompareAndSwap(pos, pos+1) {
				pos = r.head.Load()
				continue
			}
			j := s.j
			s.j = job{} // let the job's fn and ctx be collected
			s.seq.Store(2 * (pos + r.size))
			return j, true
		case seq < 2*pos+1:
			return job{}, false
		default:
			pos = r.head.Load()
		}
	}
}

// empty reports whether the ring holds no job and no put is under way.
func (r *ring) empty() bool {
	h := r.head.Load() // head first: tail >= head at every instant
	return r.tail.Load() == h
}

// len returns about how many jobs the ring holds: puts under way count.
func (r *ring) len() int {
	h := r.head.Load()
	t := r.tail.Load()
	if t <= h {
		return 0
	}
	return int(min(t-h, r.size))
}
