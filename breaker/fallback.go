package breaker

import (
	"fmt"
	"time"
)

// unavailable is doShared's answer when the store is not to be used: the
// in-process state machine takes the call, unless WithStoreRequired.
func (b *Breaker) unavailable() (handled bool, err error) {
	if !b.cfg.storeRequired {
		return false, nil
	}
	b.mu.Lock()
	serr := b.storeErr
	b.mu.Unlock()
	return true, fmt.Errorf("%w: %w", ErrStoreUnavailable, serr)
}

// tryStoreLocked reports whether to use the store now: always when it is
// not degraded; at most once per StoreRetryInterval when it is. b.mu is held.
func (b *Breaker) tryStoreLocked(now time.Time) bool {
	if !b.sh.degraded {
		return true
	}
	if n := now.UnixNano(); n-b.sh.lastTry >= int64(StoreRetryInterval) {
		b.sh.lastTry = n
		return true
	}
	return false
}

// degrade switches to the in-process state machine after an operation
// begun in epoch failed with err, starting from the last shared state
// known, and reports it the first time. If the store's status changed
// since the operation began (it re-joined), the failure is old news and
// changes nothing.
func (b *Breaker) degrade(err error, epoch uint64) {
	b.mu.Lock()
	if epoch != b.sh.epoch || b.sh.degraded {
		if b.sh.degraded {
			b.storeErr = err
		}
		b.mu.Unlock()
		return
	}
	b.storeErr = err
	b.sh.degraded = true
	b.sh.epoch++
	b.sh.lastTry = time.Now().UnixNano()
	b.queueStatusLocked(err)
	s := Closed
	if b.state == Open {
		s = Open
	}
	b.mu.Unlock()
	b.install(s)
}

// queueStatusLocked queues a change of the store's status for the log and
// the WithOnStoreStatus hook, in order with the changes of state. b.mu is
// held.
func (b *Breaker) queueStatusLocked(err error) {
	b.queue = append(b.queue, transition{status: true, err: err})
	b.queued.Store(true)
}
