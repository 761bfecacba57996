package redislimit

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/async-patterns/async/observe"
)

// DefaultTimeout bounds each command a limiter sends to Redis when
// [WithTimeout] is not given.
const DefaultTimeout = 50 * time.Millisecond

// DefaultLease is how long a [Semaphore] permit is held before it is
// reclaimed, unless extended, when [WithLease] is not given.
const DefaultLease = 30 * time.Second

// DefaultPrefix starts every key when [WithPrefix] is not given.
const DefaultPrefix = "limit:"

// ProbeInterval is how often, at most, a limiter that has fallen back to
// its local share asks Redis whether it answers again; it re-joins as soon
// as one such probe succeeds.
const ProbeInterval = 50 * time.Millisecond

// ReplicaWindow is how long a replica counts in the share of the others
// after its last decision: a limiter reports itself to Redis once a second
// at most, with its decisions, and counts the replicas seen within this
// window.
const ReplicaWindow = 3 * time.Second

// An Option configures a [Rate] or a [Semaphore]. An option that does not
// apply to the limiter it is given to makes the constructor panic.
type Option func(*config)

type config struct {
	prefix  string
	timeout time.Duration
	lease   time.Duration
	maxWait time.Duration    // -1: no bound but ctx's
	logger  *slog.Logger     // WithLogger's; nil: the events only (observe.Fallback)
	obs     observe.Observer // WithObserver's, or nil for the default
	given   []string
}

func newConfig(kind string, allowed []string, opts []Option) config {
	c := config{prefix: DefaultPrefix, timeout: DefaultTimeout, lease: DefaultLease, maxWait: -1}
	for i, o := range opts {
		if o == nil {
			panic(fmt.Sprintf("redislimit: nil Option passed to New%s (option %d)", kind, i))
		}
		o(&c)
	}
	for _, g := range c.given {
		if !slices.Contains(allowed, g) {
			panic("redislimit: " + g + " does not apply to a " + strings.ToLower(kind))
		}
	}
	return c
}

// WithPrefix sets the start of every key (default [DefaultPrefix]), to
// keep apart the limits of several services sharing one Redis. It must not
// contain "{" or "}", which would change the hash tag.
func WithPrefix(prefix string) Option {
	if strings.ContainsAny(prefix, "{}") {
		panic(fmt.Sprintf("redislimit: WithPrefix(%q): prefix must not contain { or }", prefix))
	}
	return func(c *config) { c.prefix = prefix; c.given = append(c.given, "WithPrefix") }
}

// WithTimeout bounds each command sent to Redis (default [DefaultTimeout]),
// whatever the client's own timeouts: a command that takes longer counts
// as Redis being unreachable, and the limiter falls back to its local
// share. d must be positive.
func WithTimeout(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("redislimit: WithTimeout(%v): d must be positive", d))
	}
	return func(c *config) { c.timeout = d; c.given = append(c.given, "WithTimeout") }
}

// WithLease sets how long a [Semaphore] permit is held before Redis
// reclaims it (default [DefaultLease]), unless its holder extends it
// ([Semaphore.Extend]; [Semaphore.Do] does so on its own). A holder that
// crashes loses its permit when its lease ends. d must be at least a
// millisecond.
func WithLease(d time.Duration) Option {
	if d < time.Millisecond {
		panic(fmt.Sprintf("redislimit: WithLease(%v): d must be at least 1ms", d))
	}
	return func(c *config) { c.lease = d; c.given = append(c.given, "WithLease") }
}

// WithMaxWait bounds how long one call waits for admission: a [Rate] call
// whose slot would come later than d from now is refused at once; a
// [Semaphore] caller still without a permit after d is refused. 0 means
// no waiting. Default: no bound but ctx's. d < 0 panics.
func WithMaxWait(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("redislimit: WithMaxWait(%v): d must not be negative", d))
	}
	return func(c *config) { c.maxWait = d; c.given = append(c.given, "WithMaxWait") }
}

// WithLogger sets where the limiter reports that Redis stopped answering
// (it fell back to its local share) and that it answers again (it
// re-joined): one line each per outage, in that order. Default: no line of
// its own; the events go to the observer ([WithObserver]), or, with none
// set, to log/slog's default logger of the moment (observe.Fallback). A
// nil l panics.
func WithLogger(l *slog.Logger) Option {
	if l == nil {
		panic("redislimit: WithLogger(nil)")
	}
	return func(c *config) { c.logger = l; c.given = append(c.given, "WithLogger") }
}

// WithObserver makes o the observer of the limiter's events instead of the
// process's default ([observe.SetDefault]): a LimitRejected for each
// refusal of Wait, Do or Acquire (with the *limit.RejectedError and its
// RetryAfter), and a LimitSharedDown and then a LimitSharedUp for each
// outage of Redis, in that order (with no observer set at all, those two
// go to log/slog's default logger: an outage is never silent). A nil o
// panics.
func WithObserver(o observe.Observer) Option {
	if o == nil {
		panic("redislimit: nil Observer passed to WithObserver")
	}
	return func(c *config) { c.obs = o; c.given = append(c.given, "WithObserver") }
}
