package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/observe"
)

// Watch implements [breaker.Store]: it subscribes to the breaker's channel,
// starting the receiving goroutine on first use. Changes published while
// the subscription is down (Redis unreachable) are not seen; the breaker
// learns the state from its next operation instead. Changes made through
// this Store are not passed to fn (the breaker that made them had them in
// the reply), so two breakers of the same name should not share one Store:
// they would learn of each other's changes only at their next operation.
// After Close, Watch does nothing.
//
// fn runs on the Store's receiving goroutine (for a [breaker.Breaker], it
// runs the breaker's OnStateChange hook for the change). A panic in fn does
// not crash the process: the Store recovers it and reports it through
// package observe, as an executor reports a panic in its error handler: a
// TaskEnd event with Outcome Panicked, Source "redisstore", Name the
// breaker's name, Task "watcher" and Err the *[breaker.PanicError] with
// the panic value and the stack, given to the process's observer
// ([observe.SetDefault]) or, with none set, logged at level Error by
// log/slog's default logger ([observe.Fallback]). The breaker delivers the
// changes after it as it does after a panicking hook on a caller's
// goroutine. A runtime.Goexit in fn is reported the same way (the error
// says Goexit), and the Store goes on receiving on a new goroutine.
func (s *Store) Watch(name string, fn func(breaker.Snapshot)) {
	if name == "" || fn == nil {
		return
	}
	ch := s.channel(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	first := len(s.watchers[ch]) == 0
	s.watchers[ch] = append(s.watchers[ch], watcher{name: name, fn: fn})
	if !first {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if s.ps == nil {
		// Subscribing remembers the channel even if Redis does not answer
		// now: go-redis subscribes again on every reconnection.
		s.ps = s.client.Subscribe(ctx, ch)
		go s.receive(s.ps)
		return
	}
	_ = s.ps.Subscribe(ctx, ch)
}

// Close stops receiving changes and waits for the receiving goroutine to
// return, closes the spare client if there is one, and waits for the
// commands left running past their timeout on a client without
// ContextTimeoutEnabled (until that client's ReadTimeout at most; see
// [WithTimeout]). It does not close the client it was given. Operations
// begun after Close began fail at once with [ErrClosed] (so its breakers
// go on with their in-process state, and nothing Close waits for can start
// while it waits); Watch does nothing. Calling operations during Close is
// safe.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ps := s.ps
	close(s.stop)
	s.mu.Unlock()
	var err error
	if ps != nil {
		err = ps.Close()
		<-s.done
	}
	s.link.close()
	return err
}

// receive delivers the published changes until Close.
func (s *Store) receive(ps *redis.PubSub) {
	stopped := false
	defer func() {
		if stopped {
			close(s.done)
			return
		}
		// A watcher called runtime.Goexit, which cannot be stopped (deliver
		// reported it; a panic it recovers): carry on on a new goroutine.
		go s.receive(ps)
	}()
	backoff := 10 * time.Millisecond
	for {
		msg, err := ps.ReceiveMessage(context.Background())
		if err != nil {
			s.reload.Store(true) // the server may have restarted
			select {
			case <-s.stop:
				stopped = true
				return
			case <-time.After(backoff):
			}
			// Capped low: a change published before go-redis subscribes
			// again is not seen (the breakers learn it from their next
			// operation), so come back soon after Redis does.
			backoff = min(2*backoff, 100*time.Millisecond)
			continue
		}
		backoff = 10 * time.Millisecond
		snap, origin, ok := parseEvent(msg.Payload)
		if !ok || origin == s.id {
			// The breaker that made a change of its own learns of it from
			// the operation's reply, on the caller's goroutine, and runs
			// the hook there; its echo must not race that.
			continue
		}
		s.mu.Lock()
		fns := s.watchers[msg.Channel]
		s.mu.Unlock()
		for _, w := range fns {
			w.deliver(snap)
		}
	}
}

// watcher is a callback given to Watch, with the name it was given for.
type watcher struct {
	name string
	fn   func(breaker.Snapshot)
}

// deliver calls w.fn with snap on the receiving goroutine. A panic in it,
// or a runtime.Goexit, is user code (a breaker's OnStateChange hook)
// failing on a goroutine the Store owns, with no caller to return it to:
// it is reported through observe (see [Store.Watch]) rather than end the
// process. A panic is recovered; a Goexit goes on, to receive.
func (w watcher) deliver(snap breaker.Snapshot) {
	start := time.Now()
	returned := false
	defer func() {
		if returned {
			return
		}
		pe := safe.Recovered(recover()) // a Goexit when recover returns nil
		observe.Emit(context.Background(), observe.Fallback(nil), observe.Event{
			Kind: observe.TaskEnd, Outcome: observe.Panicked, Source: "redisstore", Name: w.name,
			Task: "watcher", Duration: time.Since(start), Err: pe,
		})
	}()
	w.fn(snap)
	returned = true
}

// parseEvent reads "generation from to openFor(us) origin".
func parseEvent(payload string) (snap breaker.Snapshot, origin string, ok bool) {
	f := strings.Fields(payload)
	if len(f) != 5 {
		return breaker.Snapshot{}, "", false
	}
	gen, err1 := strconv.ParseUint(f[0], 10, 64)
	from, err2 := strconv.Atoi(f[1])
	to, err3 := strconv.Atoi(f[2])
	left, err4 := strconv.ParseInt(f[3], 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return breaker.Snapshot{}, "", false
	}
	return breaker.Snapshot{
		State:      breaker.State(to),
		Generation: gen,
		OpenFor:    fromMicros(left),
		Changes:    []breaker.Change{{Generation: gen, From: breaker.State(from), To: breaker.State(to)}},
	}, f[4], true
}
