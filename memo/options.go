package memo

import (
	"fmt"
	"time"

	"github.com/async-patterns/async/observe"
)

// An Option configures a [Cache]. Options are checked when they are made and
// by [New]: a bad one panics with a message that starts with "memo: " and
// names the option.
type Option func(*config)

// config is the checked configuration of a Cache. It is immutable once New
// returns.
type config struct {
	ttl         time.Duration    // 0: entries never expire
	stale       time.Duration    // served this long past ttl while one refresh runs
	errorTTL    time.Duration    // 0: errors are not cached
	maxEntries  int              // 0: unbounded
	loadTimeout time.Duration    // 0: no bound beyond the waiters' refcount
	name        string           // observe.go
	obs         observe.Observer // observe.go
}

// WithTTL makes a loaded value fresh for d: a Get within d of the load is a
// hit, and the first Get after it loads again (or, with [WithStale], is
// served the old value while it is refreshed). d must not be negative; 0, the
// default, means values never expire, and so, in effect, does a d too long
// to add to the clock, such as math.MaxInt64: expiry times saturate rather
// than wrap round into the past.
func WithTTL(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("memo: WithTTL(%v): d must not be negative", d))
	}
	return func(c *config) { c.ttl = d }
}

// WithStale turns on stale-while-revalidate: for up to d past its TTL an
// entry is still served (counted in [Stats].Stale), and the first such Get
// starts exactly one background refresh of the key; Gets of the key share
// that refresh once the entry is past its stale window too. A refresh that
// fails leaves the old value in place until its stale window ends, and the
// next stale serve tries again. Refreshes are owned by the cache: [Cache.Close]
// starts no more of them and waits for those that run.
//
// d must be positive, and WithStale needs [WithTTL] with a positive TTL. A d
// of math.MaxInt64 serves a stale value until a refresh replaces it: the
// window's end saturates.
func WithStale(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("memo: WithStale(%v): d must be positive", d))
	}
	return func(c *config) { c.stale = d }
}

// WithErrorTTL caches a load's error for d: Gets within d of the failed load
// return the same error without loading again. d must not be negative; 0, the
// default, means errors are never cached and the next Get loads again. A
// panic (*[PanicError]) is never cached, nor is an error of a load that every
// waiter gave up on. A d of math.MaxInt64 caches an error until [Cache.Forget]
// or a new value replaces it (the expiry saturates).
func WithErrorTTL(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("memo: WithErrorTTL(%v): d must not be negative", d))
	}
	return func(c *config) { c.errorTTL = d }
}

// WithMaxEntries bounds the cache to n entries: storing one more evicts the
// least recently used (a hit, a stale serve or a store makes an entry the most
// recently used). Evictions count in [Stats].Evictions. n must be at least 1;
// without this option the cache is unbounded.
func WithMaxEntries(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("memo: WithMaxEntries(%d): n must be at least 1", n))
	}
	return func(c *config) { c.maxEntries = n }
}

// WithLoadTimeout bounds every load (and refresh) to d: its ctx is cancelled
// with context.DeadlineExceeded d after the load starts, whoever still waits.
// d must not be negative; 0, the default, means no bound (a load then ends
// when it returns, or is cancelled when every waiter has gone).
func WithLoadTimeout(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("memo: WithLoadTimeout(%v): d must not be negative", d))
	}
	return func(c *config) { c.loadTimeout = d }
}
