package jsqueue

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/observe"
)

// ErrGraceExpired is the cause of a handler's ctx when Serve's grace period
// ends before the handler returns.
var ErrGraceExpired = errors.New("jsqueue: grace period expired")

// Serve runs fn on the queue's items with workers goroutines, in this
// process, alongside any other process serving the same queue: the executor
// across machines.
//
// Each worker takes one item at a time with Get and calls fn with a ctx
// derived from ctx (it keeps ctx's values and survives ctx by the grace
// period, see below) and the item's value. While fn runs, Serve extends the
// delivery every third of the ack wait, so long work is not delivered twice;
// the ack wait is the shared consumer's, read when Serve starts (one round
// trip; the one New read if the server does not answer).
//
// When fn returns nil the item is done. When it returns an error or panics
// (the panic becomes a *[PanicError]) the item is delivered again after a
// backoff ([WithBackoff]: exponential in the attempt number, jittered, at
// least an error's RetryAfter()), to any process; on the last attempt
// ([WithMaxDeliver]) or for an error [WithRetryIf] rejects, it is
// dead-lettered with that error instead.
//
// When ctx ends, workers stop taking items and running handlers get the
// grace period ([WithGrace]) to finish; then their ctx is cancelled with
// [ErrGraceExpired] and Serve stops extending them. A handler that returns
// an error after that hands its item back at once (it counts as an
// attempt); one that does not return keeps Serve waiting, so fn must
// honour ctx. Items not finished are delivered again to other processes.
//
// Serve returns after every goroutine it started has ended: nil when the
// queue was closed and drained, context.Cause(ctx) when ctx ended, or the
// error that made a worker stop (a closed connection, a deleted stream),
// which also stops the others. Transient Get errors are retried with a
// backoff. Bad arguments (a nil queue or fn, workers below 1, a bad option)
// return an error naming them and start nothing.
//
// Options: those of Serve given to New are this handle's defaults, which
// opts override; those of New given here must agree with the queue (the
// consumer's ack wait and max deliver, the stream's bound, storage and
// replicas, the codec's type), else Serve returns an error naming the
// conflict and starts nothing.
//
// The handler's ctx carries the delivery: [Attempt] and [Seq] read its
// attempt number and the item's sequence (to deduplicate on). The handler
// keeps its plain shape, func(ctx, v) error, so that a function written for
// the in-process executor fits.
//
// Cost: one goroutine per worker, plus one goroutine, a ticker and a
// context value per item handled, beside the round trips of Get and the ack.
func Serve[T any](ctx context.Context, q *Queue[T], workers int, fn func(ctx context.Context, v T) error, opts ...Option) error {
	if ctx == nil {
		panic("jsqueue: nil ctx passed to Serve")
	}
	switch {
	case q == nil:
		return errors.New("jsqueue: Serve: nil q")
	case fn == nil:
		return fmt.Errorf("jsqueue: Serve: fn: %w", ErrNilFunc)
	case workers < 1:
		return fmt.Errorf("jsqueue: Serve: workers = %d; want >= 1", workers)
	}
	cfg := applyOptionsTo(q.cfg, "Serve", opts)
	if cfg.badOption != "" {
		return errors.New("jsqueue: Serve: " + cfg.badOption)
	}
	if err := q.checkServeOptions(cfg); err != nil {
		return err
	}
	s := &serving[T]{q: q, fn: fn, cfg: cfg, extend: max(q.ackWait(ctx)/3, time.Millisecond)}
	s.register(ctx, workers)
	defer s.reg.Leave()

	// Handlers run under hctx: ctx's values, not its cancellation, which
	// reaches them only after the grace period.
	hctx, hcancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer hcancel(nil)
	// Workers take items under gctx: ctx, or the first fatal error.
	gctx, gcancel := context.WithCancelCause(ctx)
	defer gcancel(nil)

	stop := make(chan struct{})
	graceDone := make(chan struct{})
	go func() {
		defer close(graceDone)
		select {
		case <-stop:
			return
		case <-ctx.Done():
		}
		t := time.NewTimer(cfg.grace)
		defer t.Stop()
		select {
		case <-t.C:
			hcancel(ErrGraceExpired)
		case <-stop:
		}
	}()

	var wg sync.WaitGroup
	var fatalOnce sync.Once
	var fatal error
	for range workers {
		wg.Go(func() {
			if err := s.work(gctx, hctx); err != nil {
				fatalOnce.Do(func() { fatal = err })
				gcancel(err)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-graceDone
	switch {
	case fatal != nil:
		return fatal
	case ctx.Err() != nil:
		return context.Cause(ctx)
	}
	return nil
}

type serving[T any] struct {
	q      *Queue[T]
	fn     func(context.Context, T) error
	cfg    config
	extend time.Duration // a third of the consumer's ack wait

	reg     *observe.Entry // the Serve in the registry of live objects (observe.go)
	workers int
	running atomic.Int64 // handlers running
}

// work takes and handles items until gctx ends (nil), the queue is closed
// and drained (nil), or a fatal error (returned).
func (s *serving[T]) work(gctx, hctx context.Context) error {
	wait := 100 * time.Millisecond
	for {
		d, err := s.q.Get(gctx)
		if err != nil {
			switch {
			case gctx.Err() != nil, errors.Is(err, ErrClosed):
				return nil
			case fatal(err):
				return err
			}
			// Transient (a timeout, a reconnect): back off and try again.
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-gctx.Done():
				t.Stop()
				return nil
			}
			wait = min(2*wait, 5*time.Second)
			continue
		}
		wait = 100 * time.Millisecond
		s.handle(hctx, d)
	}
}

// handle runs fn on d, extending d while it runs, and settles d.
func (s *serving[T]) handle(hctx context.Context, d *Delivery[T]) {
	s.deposit(d)
	s.running.Add(1)
	defer s.running.Add(-1)
	done := make(chan error, 1)
	go run(context.WithValue(d.extract(hctx), deliveryKey{}, &deliveryInfo{d.Attempt, d.seq}), s.fn, d.Value, done)
	tick := time.NewTicker(s.extend)
	defer tick.Stop()
	var err error
wait:
	for {
		select {
		case err = <-done:
			break wait
		case <-tick.C:
			if hctx.Err() == nil {
				_ = d.Extend()
			}
		}
	}
	switch {
	case err == nil:
		_ = d.Done()
	case hctx.Err() != nil:
		// Cut short by the end of the grace period: hand it back at once.
		_ = d.msg.Nak()
	case s.cfg.retryIf == nil || isPanic(err):
		s.retry(d, err)
	default:
		switch again, perr := s.retries(err); {
		case perr != nil:
			_ = d.DeadLetter(fmt.Errorf("%w (WithRetryIf panicked: %w)", err, perr))
		case again:
			s.retry(d, err)
		default:
			_ = d.DeadLetter(err)
		}
	}
}

// retry hands d back for redelivery after err, or dead-letters it when the
// budget refuses.
func (s *serving[T]) retry(d *Delivery[T], err error) {
	if refused := s.refused(d, err); refused != nil {
		_ = d.DeadLetter(refused)
		return
	}
	_ = d.Fail(err, s.delay(d.Attempt, err))
}

// retries asks WithRetryIf about err. It runs on a worker Serve owns, so a
// panic in it is recovered (as a *PanicError) rather than crashing the
// process; the item is then dead-lettered, since nothing was decided.
func (s *serving[T]) retries(err error) (again bool, perr error) {
	returned := false
	defer func() {
		if !returned {
			perr = safe.Recovered(recover())
		}
	}()
	again = s.cfg.retryIf(err)
	returned = true
	return again, nil
}

// delay is the wait before attempt+1: initial·2^(attempt-1), capped, ±50%,
// and at least the error's RetryAfter() hint.
func (s *serving[T]) delay(attempt int, err error) time.Duration {
	w := s.cfg.initial
	for i := 1; i < attempt && w < s.cfg.maxDelay; i++ {
		if w > s.cfg.maxDelay/2 {
			w = s.cfg.maxDelay // doubling would pass the max, or overflow
			break
		}
		w *= 2
	}
	w = min(w, s.cfg.maxDelay)
	if w > 0 {
		// Saturate: +50% of a wait near the largest Duration would wrap
		// round to a negative one, which Fail sends as "now".
		if f := float64(w) * (0.5 + rand.Float64()); f < math.MaxInt64 {
			w = time.Duration(f)
		} else {
			w = math.MaxInt64
		}
	}
	var h interface{ RetryAfter() time.Duration }
	if errors.As(err, &h) {
		w = max(w, h.RetryAfter())
	}
	return w
}

func isPanic(err error) bool {
	var p *PanicError
	return errors.As(err, &p)
}

// run sends fn's error on done, or a *PanicError if fn panics or calls
// runtime.Goexit (which would otherwise skip the send and leave the worker
// waiting forever).
func run[T any](ctx context.Context, fn func(context.Context, T) error, v T, done chan<- error) {
	returned := false
	defer func() {
		if !returned {
			done <- safe.Recovered(recover())
		}
	}()
	err := fn(ctx, v)
	returned = true
	done <- err
}
