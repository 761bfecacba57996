package redisstore

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultTimeout bounds each store operation when [WithTimeout] is not
// given.
const DefaultTimeout = 100 * time.Millisecond

// DefaultPrefix starts every key and channel name when [WithPrefix] is not
// given.
const DefaultPrefix = "breaker:"

// ErrEmptyName is the error of an operation on a breaker without a name.
var ErrEmptyName = errors.New("redisstore: empty breaker name")

// ErrClosed is the error of an operation begun after [Store.Close] began.
// A breaker on the Store treats it as it treats Redis being down: it goes
// on with its in-process state (see [breaker.WithStore]), so a breaker, or
// a guard built on one, keeps working after its Store is closed.
var ErrClosed = errors.New("redisstore: store closed")

// Store is a [breaker.Store] on Redis. Every breaker's state is one hash,
// "<prefix>{<name>}", hash-tagged by the name so that a Redis Cluster keeps it
// on one slot; its changes are published on "<prefix>{<name>}:events".
//
// Create one with [New]; the zero value is not usable. A Store is safe for
// concurrent use and may serve any number of breakers (a [breaker.Group]
// too). It starts one goroutine, at the first [Store.Watch], which receives
// the changes published by every replica (and, on a client without
// ContextTimeoutEnabled, one per operation; see [WithTimeout]);
// [Store.Close] stops them and must be called when the breakers are no
// longer used.
//
// Each operation is one EVALSHA of one Lua script (one round trip; EVAL,
// carrying the script, for the first one after Redis was lost), bounded by
// the timeout of [WithTimeout]; it allocates a few small values for the
// arguments and the reply. While it recovers from an outage, a Store on a
// *redis.Client also owns a spare client (see [SpareLifetime]); [Store.Close]
// closes it.
type Store struct {
	client  redis.UniversalClient
	link    *link // carries the operations
	prefix  string
	timeout time.Duration
	id      string // random; marks the changes this Store published
	// reload is set when Redis may have lost the script (an operation or
	// the subscription lost its connection): the next operation sends it.
	reload atomic.Bool

	mu       sync.Mutex           // protects the fields below
	watchers map[string][]watcher // channel -> callbacks
	ps       *redis.PubSub        // nil until the first Watch
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
// call every [breaker.StoreRetryInterval] waits it while Redis is down.
//
// The bound holds whatever the client's settings. go-redis enforces a ctx
// deadline on its connections only when the client is built with
// ContextTimeoutEnabled: true; for a client without it (go-redis's default),
// or of a type the Store does not know, each operation runs on a goroutine
// of its own and the caller stops waiting for it at the timeout: the
// command then stays on its connection until the client's ReadTimeout ends
// it, and [Store.Close] waits for that. So ContextTimeoutEnabled: true is
// still the better setting (no goroutine per operation, and a connection
// freed at once). d must be positive.
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
		link:     newLink(client),
		prefix:   c.prefix,
		timeout:  c.timeout,
		watchers: make(map[string][]watcher),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
}

func (s *Store) key(name string) string     { return s.prefix + "{" + name + "}" }
func (s *Store) channel(name string) string { return s.prefix + "{" + name + "}:events" }
