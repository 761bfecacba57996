package breaker

// transition is one change of state waiting for the hook, or (status set)
// one change of the store's status waiting for the WithOnStoreStatus hook.
type transition struct {
	from, to State
	status   bool
	err      error
}

// flush runs the hook for the queued changes, in order, unless another
// goroutine is already doing so (it will run them too, before it stops).
func (b *Breaker) flush() {
	b.mu.Lock()
	if b.delivering {
		b.mu.Unlock()
		return
	}
	b.delivering = true
	var batch []transition
	i, ok := 0, false
	defer func() {
		if !ok {
			// The hook panicked (or called Goexit) on batch[i]; b.mu is
			// not held. Keep the rest for the next call.
			b.mu.Lock()
			b.queue = append(append([]transition(nil), batch[i+1:]...), b.queue...)
			b.queued.Store(len(b.queue) > 0)
			b.delivering = false
			b.mu.Unlock()
		}
	}()
	for len(b.queue) > 0 {
		batch, b.queue = b.queue, nil
		b.queued.Store(false)
		b.mu.Unlock()
		for i = 0; i < len(batch); i++ {
			if t := &batch[i]; t.status {
				b.storeStatus(t.err)
			} else {
				b.emitChange(t.from, t.to)
				if b.cfg.onStateChange != nil {
					b.cfg.onStateChange(b.cfg.name, t.from, t.to)
				}
			}
		}
		b.mu.Lock()
	}
	b.delivering = false
	b.mu.Unlock()
	ok = true
}

// storeStatus reports a change of the store's status (to the observer,
// or log/slog's default logger when none is set: see emitStore) and runs
// the WithOnStoreStatus hook for it. flush calls it, so that both come out
// in the order of the changes.
func (b *Breaker) storeStatus(err error) {
	b.emitStore(err)
	if b.cfg.onStoreStatus != nil {
		b.cfg.onStoreStatus(b.cfg.name, err)
	}
}
