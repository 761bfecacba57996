package redislimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/async-patterns/async/internal/task"
	"github.com/async-patterns/async/observe"
	"github.com/redis/go-redis/v9"
)

// link carries a limiter's commands to Redis, bounds each one, and knows
// whether the limiter is on the shared limit (Redis answers) or on its
// local share (it does not).
//
// For a *redis.Client the link dials its own connections with that
// client's options (address, credentials, TLS, pool size), changed where
// the contract needs it: every command's context deadline enforced on the
// connection (ContextTimeoutEnabled), no retries (a decision that failed
// is taken locally; a retried EVALSHA could count twice), and the scripts
// loaded on every new connection, so that a decision is one EVALSHA even
// just after Redis restarted. While Redis is down, at most one probe every
// ProbeInterval dials a new client of its own; when it answers, that
// client replaces the old one (whose pool may still be waiting to dial
// again after its failures), so the limiter re-joins within a probe.
//
// Any other client (Cluster, Ring) is used as given: a command on one that
// does not enforce context deadlines runs on a goroutine of its own, and
// the caller stops waiting for it at the bound.
type link struct {
	kind     string           // "rate" or "semaphore", for reports
	name     string           // the limit's name
	timeout  time.Duration    // bound of each command
	logger   *slog.Logger     // WithLogger's; nil: report through the observer only
	obs      observe.Observer // WithObserver's, or nil for the default
	reg      *observe.Entry   // the limiter's place in the registry
	template *redis.Options   // the given *redis.Client's options; nil for another client
	scripts  []*redis.Script  // loaded on every connection of our own
	probeFn  func(context.Context, redis.UniversalClient) error
	share    func(replicas int) string // describes the local share, for reports
	id       string                    // this replica's id, random
	lastBeat atomic.Int64              // unix nanoseconds of the last report of this replica
	replicas atomic.Int64              // replicas seen at the last report; 0: none yet

	// state is 2*epoch + 1 while Redis is down: every change of status adds
	// one. A command notes it when it starts, and its failure changes the
	// status only if it did not change meanwhile, so that a command begun
	// before a re-join cannot undo it: one outage is one "down" and one "up".
	state atomic.Uint64
	cur   atomic.Pointer[carrier] // what carries the commands

	mu        sync.Mutex // protects the fields below
	lastProbe time.Time
	probing   bool
	closed    bool
	reports   []report // status changes not yet logged, in order
	draining  bool     // a goroutine is logging reports

	running sync.WaitGroup // probes, and commands left behind at their bound; Close waits
}

// carrier is a client with whether it enforces context deadlines itself.
type carrier struct {
	c       redis.UniversalClient
	honours bool
	own     bool // built by the link, closed by it
}

func newLink(kind, name string, client redis.UniversalClient, c *config, scripts ...*redis.Script) *link {
	var id [8]byte
	rand.Read(id[:])
	l := &link{kind: kind, name: name, timeout: c.timeout, logger: c.logger, obs: c.obs, scripts: scripts, id: hex.EncodeToString(id[:])}
	switch cl := client.(type) {
	case *redis.Client:
		opt := *cl.Options()
		l.template = &opt
		l.cur.Store(&carrier{c: l.newClient(), honours: true, own: true})
	case *redis.ClusterClient:
		l.cur.Store(&carrier{c: client, honours: cl.Options().ContextTimeoutEnabled})
	case *redis.Ring:
		l.cur.Store(&carrier{c: client, honours: cl.Options().ContextTimeoutEnabled})
	default:
		l.cur.Store(&carrier{c: client})
	}
	return l
}

// newClient builds a client of our own from the template.
func (l *link) newClient() *redis.Client {
	opt := *l.template
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	// Per client, not to be shared: each client makes its own processor of
	// push notifications; our scripts gain nothing from a client-side cache.
	opt.PushNotificationProcessor = nil
	opt.ClientSideCache, opt.ClientSideCacheConfig = nil, nil
	onConnect := opt.OnConnect
	opt.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		if onConnect != nil {
			if err := onConnect(ctx, cn); err != nil {
				return err
			}
		}
		// A failure here shows again in the command; a script not loaded
		// costs that command the NOSCRIPT fallback, nothing more.
		for _, s := range l.scripts {
			_ = s.Load(ctx, cn).Err()
		}
		return nil
	}
	return redis.NewClient(&opt)
}

// client returns what carries a command now and the status it was taken
// in, or ok false when the limiter is on its local share (and then starts
// a probe if one is due).
func (l *link) client() (cr *carrier, state uint64, ok bool) {
	state = l.state.Load()
	if state&1 == 0 {
		return l.cur.Load(), state, true
	}
	l.maybeProbe()
	return nil, state, false
}

// run runs script s, bounded by the link's timeout whatever ctx and the
// client say (ctx's cancellation is not passed on: a decision under way is
// finished, at most the timeout later). A failure to reach Redis, begun in
// status state, switches the limiter to its local share.
func (l *link) run(ctx context.Context, cr *carrier, state uint64, s *redis.Script, keys []string, args []any) ([]int64, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	defer cancel()
	v, err := l.do(ctx, cr, func(ctx context.Context, c redis.UniversalClient) ([]int64, error) {
		return s.Run(ctx, c, keys, args...).Int64Slice()
	})
	if err != nil && !isReply(err) {
		l.fail(state, err)
	}
	return v, err
}

// do calls fn with ctx, which has a deadline, and returns by it even if the
// client does not enforce it: fn is then left running on a goroutine of
// its own until the client's read timeout ends it. That goroutine keeps
// ctx (go-redis hooks read its values) past the caller's return, so ctx is
// retained first: an executor's fire-and-forget task ctx it derives from
// (through run's WithoutCancel, which the context package does not watch)
// is retired instead of rewritten for the worker's next task under it.
func (l *link) do(ctx context.Context, cr *carrier, fn func(context.Context, redis.UniversalClient) ([]int64, error)) ([]int64, error) {
	if cr.honours {
		return fn(ctx, cr.c)
	}
	type result struct {
		v   []int64
		err error
	}
	ch := make(chan result, 1)
	// Add under mu, refused once Close began: Close's Wait must not race
	// a new Add (a data race, or WaitGroup's "reused before previous Wait
	// has returned" panic).
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errClosed
	}
	l.running.Add(1)
	l.mu.Unlock()
	task.Retain(ctx)
	go func() {
		defer l.running.Done()
		v, err := fn(ctx, cr.c)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// beat returns this replica's id when it is time to report it to Redis
// again (once a second), else "".
func (l *link) beat() string {
	now := time.Now().UnixNano()
	last := l.lastBeat.Load()
	if now-last < int64(time.Second) || !l.lastBeat.CompareAndSwap(last, now) {
		return ""
	}
	return l.id
}

// seen records the replicas counted by a decision (n < 1: not counted).
func (l *link) seen(n int64) {
	if n > 0 && l.replicas.Load() != n {
		l.replicas.Store(n)
	}
}

// replicaCount is the replicas last seen, at least 1.
func (l *link) replicaCount() int { return int(max(1, l.replicas.Load())) }

// shared reports whether the limiter is on the shared limit.
func (l *link) shared() bool { return l.state.Load()&1 == 0 }

// close stops probing, waits for the probes and the commands left behind,
// and closes the clients the link built. It moves the limiter to its local
// share for good: client answers "down" from now on, and no probe starts.
// A command that took the client just before keeps it: on the link's own
// client it fails once that is closed; on a client that runs commands on a
// goroutine of their own, do refuses it (errClosed) once closed is set,
// so no Add can follow running.Wait.
func (l *link) close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.reg.Leave()
	if st := l.state.Load(); st&1 == 0 {
		l.state.Store(st + 1) // every status change is under mu
	}
	l.mu.Unlock()
	l.running.Wait()
	if cr := l.cur.Load(); cr.own {
		return cr.c.Close()
	}
	return nil
}

// errClosed is the error of a command begun after the limiter was closed;
// the call then decides on the local share.
var errClosed = errors.New("redislimit: limiter closed")

// isReply reports whether err is an error reply of Redis (which proves it
// answers), not a failure to reach it.
func isReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, redis.ErrClosed)
}

// micros is d in whole microseconds, rounded up, saturated at 0. It
// divides before rounding, so that a d near the largest Duration (Go's
// usual "forever") cannot wrap negative.
func micros(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	us := int64(d / time.Microsecond)
	if d%time.Microsecond != 0 {
		us++
	}
	return us
}
