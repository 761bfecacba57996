package executor

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
)

// ring is the executor's bounded FIFO queue of jobs.
//
// Why not a buffered channel: with tiny tasks a pool spends most of its time
// on the queue's lock, which the submitter and every worker take for each
// job (and hold while the job is copied in or out). ring takes no lock on
// its common paths: a put and a get each claim a position with one
// compare-and-swap, on separate cache lines, and copy the job outside any
// critical section. The algorithm is Dmitry Vyukov's bounded MPMC queue:
// each slot carries a sequence number that says whether it is free for the
// put of a given position or holds the job for the get of that position.
// The positions only grow; a position's slot is pos % size.
//
// A worker that finds the ring empty parks (see [ring.park]) and a
// submitter that finds it full waits for room (see [ring.waitRoom]); both
// are woken by whoever makes the change they wait for, which checks a
// counter of waiters after its own put or get. Each side writes before it
// reads the other side's word, with sequentially consistent atomics, so at
// least one of the two sees the other: no wake-up is lost. A wake-up goes
// to one named waiter, on a channel of its own: an anonymous token could be
// taken by a worker it was not meant for while the one it was meant for
// waits for it holding a job.
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
	_     [64]byte

	idle    atomic.Int32 // workers parked, or about to park: len(parked)
	putters atomic.Int32 // submitters waiting for room: len(waiters)
	mu      sync.Mutex   // protects parked and waiters
	parked  []*parker    // a stack: the worker that parked last, whose cache is warmest, is woken first
	waiters []*roomWaiter
}

// parker is a worker's own wake-up channel.
type parker struct {
	wake chan struct{} // receives one token each time a waker takes the worker off parked
}

func newParker() *parker { return &parker{wake: make(chan struct{}, 1)} }

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

// roomWaiter is a submitter waiting for room in the ring.
type roomWaiter struct {
	ready chan struct{} // receives one token when a get freed a slot
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

// tryPut adds j at the tail and wakes a parked worker. It reports false,
// adding nothing, when the ring is full.
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
			if r.idle.Load() > 0 {
				r.wakeWorker()
			}
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

// tryGet takes the job at the head and wakes a submitter waiting for room.
// It reports false when the ring is empty, or when the put of the head's
// position is still copying its job in (that put wakes a parked worker once
// it is done).
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
			if r.putters.Load() > 0 {
				r.wakePutter()
			}
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

// park blocks a worker (p is its own) that found the ring empty until a put
// or a wakeAll may have given it something to do. It returns without
// blocking if recheck, called once the worker is listed as parked, reports
// true: recheck must look for work (a tryGet, keeping what it takes) and
// for the reasons wakeAll is called. A woken worker may find nothing: it
// checks again and parks again.
func (r *ring) park(p *parker, recheck func() bool) {
	r.mu.Lock()
	r.parked = append(r.parked, p)
	r.idle.Add(1)
	r.mu.Unlock()
	if recheck() {
		r.mu.Lock()
		listed := remove(&r.parked, p)
		if listed {
			r.idle.Add(-1)
		}
		r.mu.Unlock()
		if listed {
			return
		}
		// A waker took p off the list already: its token is p's alone, and
		// is sent right after; take it, so that the next park starts clean.
	}
	<-p.wake
}

// wakeWorker wakes the worker that parked last, if any is parked.
func (r *ring) wakeWorker() {
	r.mu.Lock()
	n := len(r.parked)
	if n == 0 {
		r.mu.Unlock()
		return
	}
	p := r.parked[n-1]
	r.parked[n-1] = nil
	r.parked = r.parked[:n-1]
	r.idle.Add(-1)
	r.mu.Unlock()
	p.wake <- struct{}{} // never blocks: one token per time off the list
}

// wakeAll wakes every parked worker. The caller has set what the workers'
// recheck looks for first, so that a worker parking later sees it.
func (r *ring) wakeAll() {
	r.mu.Lock()
	ps := r.parked
	r.parked = nil
	r.idle.Add(-int32(len(ps)))
	r.mu.Unlock()
	for _, p := range ps {
		p.wake <- struct{}{}
	}
}

// put adds j, waiting for room while the ring is full, until ctx ends or
// closing is closed; it returns context.Cause(ctx) or ErrClosed then.
// Submitters waiting for room are served in the order they began to wait.
func (r *ring) put(ctx context.Context, closing <-chan struct{}, j job) error {
	for {
		if r.tryPut(j) {
			return nil
		}
		w := r.waitRoom()
		if r.tryPut(j) {
			r.stopWaiting(w)
			return nil
		}
		select {
		case <-w.ready:
			// A slot was freed: try again (another put may take it first),
			// unless the executor shut down meanwhile.
			select {
			case <-closing:
				return ErrClosed
			default:
			}
		case <-ctx.Done():
			r.stopWaiting(w)
			return context.Cause(ctx)
		case <-closing:
			r.stopWaiting(w)
			return ErrClosed
		}
	}
}

// waitRoom registers a submitter that found the ring full. The caller
// tries again before it blocks on the waiter's ready channel.
func (r *ring) waitRoom() *roomWaiter {
	w := &roomWaiter{ready: make(chan struct{}, 1)}
	r.mu.Lock()
	r.waiters = append(r.waiters, w)
	r.putters.Add(1)
	r.mu.Unlock()
	return w
}

// stopWaiting removes w, which has given up or succeeded, from the waiters.
// If a get already woke w, its slot may go unused by w: the wake-up is
// passed on to the next waiter.
func (r *ring) stopWaiting(w *roomWaiter) {
	r.mu.Lock()
	listed := remove(&r.waiters, w)
	if listed {
		r.putters.Add(-1)
	}
	r.mu.Unlock()
	if !listed {
		r.wakePutter()
	}
}

// remove deletes x from *list and reports whether it was there.
func remove[T comparable](list *[]T, x T) bool {
	i := slices.Index(*list, x)
	if i < 0 {
		return false
	}
	*list = slices.Delete(*list, i, i+1)
	return true
}

// wakePutter wakes the submitter that has waited for room the longest.
func (r *ring) wakePutter() {
	r.mu.Lock()
	if len(r.waiters) == 0 {
		r.mu.Unlock()
		return
	}
	w := r.waiters[0]
	r.waiters[0] = nil
	r.waiters = r.waiters[1:]
	r.putters.Add(-1)
	r.mu.Unlock()
	w.ready <- struct{}{} // never blocks: a waiter is woken once
}
