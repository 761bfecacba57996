package redislimit

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/limit"
)

// ErrLeaseLost is the error of [Semaphore.Extend] when the permit's lease
// had already ended (the holder was too slow to extend it): Redis may have
// given the permit to another holder. [Semaphore.Do] cancels its
// function's ctx with this cause.
var ErrLeaseLost = errors.New("redislimit: the permit's lease ended before it was extended")

// Extend makes the lease of the permit p end a lease ([WithLease]) from
// now, on the Redis server's clock: one round trip. It returns
// [ErrLeaseLost] when the lease had already ended, and nil for a permit
// granted by the local share (it has no lease) or while Redis does not
// answer (nobody can take the permit then; if the lease ends before Redis
// answers again, the next Extend says so). Extending a permit that is not
// held panics.
func (s *Semaphore) Extend(ctx context.Context, p limit.Permit) error {
	s.mu.Lock()
	h, ok := s.held[p.ID]
	s.mu.Unlock()
	if !ok {
		panic("redislimit: Extend of a permit that is not held (permit " + strconv.FormatUint(p.ID, 10) + ")")
	}
	if h.local != nil {
		return nil
	}
	cr, state, up := s.l.client()
	if !up {
		return nil
	}
	v, err := s.l.run(ctx, cr, state, semaphoreScript, s.keys, []any{"extend", s.leaseUS, h.member})
	if err != nil || len(v) != 1 || v[0] == 1 {
		return nil
	}
	return ErrLeaseLost
}

// Do takes a permit as [Semaphore.Acquire] does, calls fn with a ctx
// derived from ctx, and releases the permit when fn returns or panics.
// While fn runs, a goroutine of Do's extends the lease every third of it;
// if the lease is lost all the same (the process stalled longer than the
// lease), fn's ctx is cancelled with the cause [ErrLeaseLost]. When
// Acquire fails, fn is not called and Do returns its error. A panic in fn
// comes back as a [*limit.PanicError]; a nil fn returns
// [limit.ErrNilFunc] and takes nothing.
func (s *Semaphore) Do(ctx context.Context, fn func(context.Context) error) (err error) {
	if ctx == nil {
		panic("redislimit: nil ctx passed to Do")
	}
	if fn == nil {
		return limit.ErrNilFunc
	}
	p, err := s.Acquire(ctx)
	if err != nil {
		return err
	}
	fctx, cancel := context.WithCancelCause(ctx)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.keepAlive(fctx, p, stop, cancel) })
	returned := false
	defer func() {
		if !returned {
			err = safe.Recovered(recover())
		}
		close(stop)
		wg.Wait()
		o := limit.Failure
		if returned {
			o = limit.OutcomeOf(fctx, err)
		}
		cancel(nil)
		s.Release(p, o)
	}()
	err = fn(fctx)
	returned = true
	return err
}

// keepAlive extends p's lease every third of it until stop is closed,
// cancelling with ErrLeaseLost if the lease was lost.
func (s *Semaphore) keepAlive(ctx context.Context, p limit.Permit, stop <-chan struct{}, cancel context.CancelCauseFunc) {
	t := time.NewTicker(max(s.lease/3, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if err := s.Extend(ctx, p); err != nil {
				cancel(err)
				return
			}
		}
	}
}
