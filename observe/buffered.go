package observe

import (
	"context"
	"sync"
)

// Buffered is an [Observer] that decouples a slow or blocking observer from
// the primitives: Observe puts the event in a buffer and returns at once,
// and a goroutine of its own gives the events to the wrapped observer in
// order. When the buffer is full the event is dropped and counted by
// [Dropped], so a blocked observer never holds up a primitive.
//
// Make one with [NewBuffered]; the caller must call [Buffered.Close],
// which ends the goroutine. It is safe for concurrent use.
type Buffered struct {
	o    Observer
	mu   sync.RWMutex // Observe holds it for reading; Close for writing, to close ch
	ch   chan bufferedEvent
	shut bool // protected by mu
	done chan struct{}
}

type bufferedEvent struct {
	ctx context.Context
	e   Event
}

// NewBuffered returns a [Buffered] observer that holds up to size events
// for o. It starts one goroutine. It panics if o is nil or size < 1.
func NewBuffered(o Observer, size int) *Buffered {
	if o == nil {
		panic("observe: nil Observer passed to NewBuffered")
	}
	if size < 1 {
		panic("observe: NewBuffered size must be at least 1")
	}
	b := &Buffered{o: o, ch: make(chan bufferedEvent, size), done: make(chan struct{})}
	go b.loop()
	return b
}

// Observe queues e for the wrapped observer, or drops it (counted by
// [Dropped]) when the buffer is full or b is closed.
func (b *Buffered) Observe(ctx context.Context, e Event) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.shut {
		dropped.Add(1)
		return
	}
	select {
	case b.ch <- bufferedEvent{ctx, e}:
	default:
		dropped.Add(1)
	}
}

// Close stops taking events, gives the wrapped observer those already
// buffered, and returns once its goroutine has ended. It may be called
// more than once.
func (b *Buffered) Close() {
	b.mu.Lock()
	if !b.shut {
		b.shut = true
		close(b.ch)
	}
	b.mu.Unlock()
	<-b.done
}

func (b *Buffered) loop() {
	defer close(b.done)
	for be := range b.ch {
		Emit(be.ctx, b.o, be.e)
	}
}
