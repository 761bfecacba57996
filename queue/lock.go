package queue

import "runtime"

// This file is how every call takes the queue's lock.

// lockYields is how many times lock yields the processor, trying again
// after each, before it blocks.
const lockYields = 4

// lock acquires q.mu. When the lock is taken, it yields the processor and
// tries again, a few times, and only then blocks in mu.Lock: the lock is
// held for a few dozen nanoseconds at a time, and the goroutine that
// holds it is running on another processor or is about to run here.
// sync.Mutex itself spins only while the processor's run queue is empty;
// with more goroutines than processors it soon parks the caller, which
// costs two goroutine switches and can push the mutex into starvation
// mode, where every unlock hands off to a parked goroutine that must first
// be scheduled. Spinning on TryLock without yielding measured worse: the
// spinner keeps pulling the lock's cache line from the holder.
func (q *Queue[T]) lock() {
	if q.mu.TryLock() {
		return
	}
	for range lockYields {
		runtime.Gosched()
		if q.mu.TryLock() {
			return
		}
	}
	q.mu.Lock()
}
