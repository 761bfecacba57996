package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/breaker"
)

// Watch implements [breaker.Store]: it subscribes to the breaker's channel,
// starting the receiving goroutine on first use. Changes published while
// the subscription is down (Redis unreachable) are not seen; the breaker
// learns the state from its next operation instead. Changes made through
// this Store are not passed to fn (the breaker that made them had them in
// the reply), so two breakers of the same name should not share one Store:
// they would learn of each other's changes only at their next operation.
// After Close, Watch does nothing.
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
	s.watchers[ch] = append(s.watchers[ch], fn)
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
// after Close still work, on that client; Watch does nothing.
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
	defer close(s.done)
	backoff := 10 * time.Millisecond
	for {
		msg, err := ps.ReceiveMessage(context.Background())
		if err != nil {
			s.reload.Store(true) // the server may have restarted
			select {
			case <-s.stop:
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
		for _, fn := range fns {
			fn(snap)
		}
	}
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
		OpenFor:    time.Duration(left) * time.Microsecond,
		Changes:    []breaker.Change{{Generation: gen, From: breaker.State(from), To: breaker.State(to)}},
	}, f[4], true
}
