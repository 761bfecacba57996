package redisstore

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/breaker"
)

// DefaultTimeout bounds each store operation when [WithTimeout] is not
// given.
const DefaultTimeout = 100 * time.Millisecond

// DefaultPrefix starts every key and channel name when [WithPrefix] is not
// given.
const DefaultPrefix = "breaker:"

// ErrEmptyName is the error of an operation on a breaker without a name.
var ErrEmptyName = errors.New("redisstore: empty breaker name")

//go:embed script.lua
var scriptSource string

// script applies every transition; Run sends EVALSHA and falls back to
// EVAL once when the server does not have it cached (after a restart).
var script = redis.NewScript(scriptSource)

// Store is a [breaker.Store] on Redis. Every breaker's state is one hash,
// "<prefix>{<name>}", hash-tagged by the name so that a Redis Cluster keeps it
// on one slot; its changes are published on "<prefix>{<name>}:events".
//
// Create one with [New]; the zero value is not usable. A Store is safe for
// concurrent use and may serve any number of breakers (a [breaker.Group]
// too). It starts one goroutine, at the first [Store.Watch], which receives
// the changes published by every replica; [Store.Close] stops it and must
// be called when the breakers are no longer used.
//
// Each operation is one EVALSHA of one Lua script (one round trip),
// bounded by the timeout of [WithTimeout]; it allocates a few small
// values for the arguments and the reply.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	id      string // random; marks the changes this Store published

	mu       sync.Mutex                          // protects the fields below
	watchers map[string][]func(breaker.Snapshot) // channel -> callbacks
	ps       *redis.PubSub                       // nil until the first Watch
	closed   bool
	stop     chan struct{} // closed by Close
	done     chan struct{} // closed when the receiving goroutine returns
}

// An Option configures a [Store].
type Option func(*config)

type config struct {
	prefix  string
	timeout time.Duration
}

// WithPrefix sets the start of every key and channel name (default
// [DefaultPrefix]), to keep apart breakers of several services sharing one
// Redis. It must not contain "{" or "}", which would change the hash tag.
func WithPrefix(prefix string) Option {
	return func(c *config) {
		if strings.ContainsAny(prefix, "{}") {
			panic(fmt.Sprintf("redisstore: WithPrefix(%q): prefix must not contain { or }", prefix))
		}
		c.prefix = prefix
	}
}

// WithTimeout bounds each store operation (default [DefaultTimeout]); an
// operation that takes longer fails, and the breaker falls back to its
// in-process state (see [breaker.WithStore]). Keep it short: a call may
// wait this long twice (admit and record) while Redis is slow, and one
// call every [breaker.StoreRetryInterval] waits it (plus a dial) while Redis
// is down. go-redis enforces a context deadline on its connections only when
// the client is built with ContextTimeoutEnabled: true; without it a Redis
// that accepts connections but does not answer holds an operation for the
// client's ReadTimeout instead. d must be positive.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			panic(fmt.Sprintf("redisstore: WithTimeout(%v): d must be positive", d))
		}
		c.timeout = d
	}
}

// New returns a Store on client, which may be a single-node, Sentinel
// (failover) or Cluster client. It panics, with a message that starts with
// "redisstore: ", if client is nil or an option is bad.
func New(client redis.UniversalClient, opts ...Option) *Store {
	if client == nil {
		panic("redisstore: New called with a nil client")
	}
	c := config{prefix: DefaultPrefix, timeout: DefaultTimeout}
	for i, opt := range opts {
		if opt == nil {
			panic(fmt.Sprintf("redisstore: nil Option passed to New (option %d)", i))
		}
		opt(&c)
	}
	var id [8]byte
	rand.Read(id[:])
	return &Store{
		id:       hex.EncodeToString(id[:]),
		client:   client,
		prefix:   c.prefix,
		timeout:  c.timeout,
		watchers: make(map[string][]func(breaker.Snapshot)),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// Admit implements [breaker.Store].
func (s *Store) Admit(ctx context.Context, name string, p *breaker.Policy) (breaker.Ticket, breaker.Snapshot, error) {
	t, snap, err := s.run(ctx, name, p, "admit")
	return t, snap, err
}

// Record implements [breaker.Store].
func (s *Store) Record(ctx context.Context, name string, p *breaker.Policy, t breaker.Ticket, o breaker.Outcome) (breaker.Snapshot, error) {
	var out string
	switch o {
	case breaker.Success:
		out = "s"
	case breaker.Failure:
		out = "f"
	case breaker.Excluded:
		out = "x"
	default:
		return breaker.Snapshot{}, fmt.Errorf("redisstore: Record: bad outcome %d", int(o))
	}
	own, ago := "0", "0"
	if t.Local {
		own, ago = "1", strconv.FormatInt(max(time.Since(t.Started), 0).Microseconds(), 10)
	}
	_, snap, err := s.run(ctx, name, p, "record",
		strconv.FormatUint(t.Generation, 10), strconv.FormatInt(t.Bucket, 10), out, own, ago)
	return snap, err
}

// Load implements [breaker.Store].
func (s *Store) Load(ctx context.Context, name string, p *breaker.Policy) (breaker.Snapshot, error) {
	_, snap, err := s.run(ctx, name, p, "load")
	return snap, err
}

// Force implements [breaker.Store].
func (s *Store) Force(ctx context.Context, name string, p *breaker.Policy, to breaker.State) (breaker.Snapshot, error) {
	if to != breaker.Open && to != breaker.Closed {
		return breaker.Snapshot{}, fmt.Errorf("redisstore: Force: to must be open or closed, not %v", to)
	}
	_, snap, err := s.run(ctx, name, p, "force", strconv.Itoa(int(to)))
	return snap, err
}

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
// return. It does not close the client. Operations after Close still work;
// Watch does nothing.
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
	if ps == nil {
		return nil
	}
	err := ps.Close()
	<-s.done
	return err
}

// receive delivers the published changes until Close.
func (s *Store) receive(ps *redis.PubSub) {
	defer close(s.done)
	backoff := 10 * time.Millisecond
	for {
		msg, err := ps.ReceiveMessage(context.Background())
		if err != nil {
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

// micros formats d in whole microseconds, the script's unit, rounding a
// positive d up so that it stays positive.
func micros(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return strconv.FormatInt(int64((d+time.Microsecond-1)/time.Microsecond), 10)
}

func (s *Store) key(name string) string     { return s.prefix + "{" + name + "}" }
func (s *Store) channel(name string) string { return s.prefix + "{" + name + "}:events" }

// run runs the script for op and decodes its reply.
func (s *Store) run(ctx context.Context, name string, p *breaker.Policy, op string, extra ...string) (breaker.Ticket, breaker.Snapshot, error) {
	if name == "" {
		return breaker.Ticket{}, breaker.Snapshot{}, ErrEmptyName
	}
	if p == nil {
		return breaker.Ticket{}, breaker.Snapshot{}, errors.New("redisstore: nil policy")
	}
	args := make([]any, 0, 10+len(extra))
	args = append(args, op,
		strconv.FormatUint(uint64(p.ConsecutiveFailures), 10),
		strconv.FormatFloat(p.FailureRatio, 'g', -1, 64),
		strconv.FormatUint(uint64(p.MinRequests), 10),
		micros(p.Window), micros(p.Bucket), micros(p.OpenTimeout),
		strconv.FormatUint(uint64(p.HalfOpenRequests), 10),
		s.channel(name), s.id)
	for _, e := range extra {
		args = append(args, e)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	v, err := script.Run(ctx, s.client, []string{s.key(name)}, args...).Int64Slice()
	if err != nil {
		return breaker.Ticket{}, breaker.Snapshot{}, fmt.Errorf("redisstore: %s %q: %w", op, name, err)
	}
	if len(v) < 11 || (len(v)-11)%3 != 0 {
		return breaker.Ticket{}, breaker.Snapshot{}, fmt.Errorf("redisstore: %s %q: malformed reply of %d values", op, name, len(v))
	}
	snap := breaker.Snapshot{
		State:      breaker.State(v[2]),
		Generation: uint64(v[3]),
		OpenFor:    time.Duration(v[4]) * time.Microsecond,
		Counts: breaker.Counts{
			Requests:             uint32(v[5]),
			TotalSuccesses:       uint32(v[6]),
			TotalFailures:        uint32(v[7]),
			TotalExclusions:      uint32(v[8]),
			ConsecutiveSuccesses: uint32(v[9]),
			ConsecutiveFailures:  uint32(v[10]),
		},
	}
	for i := 11; i < len(v); i += 3 {
		snap.Changes = append(snap.Changes, breaker.Change{Generation: uint64(v[i]), From: breaker.State(v[i+1]), To: breaker.State(v[i+2])})
	}
	t := breaker.Ticket{Admitted: v[0] == 1, Generation: snap.Generation, Bucket: v[1]}
	return t, snap, nil
}
