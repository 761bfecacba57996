package breaker

import "sync"

// Group holds one [Breaker] per key, such as a host or a tenant, so that one
// failing dependency does not cut off the healthy ones. Every breaker is
// configured by the Group's options and named after its key (a [WithName]
// option is overridden), so one [WithOnStateChange] hook can tell them apart.
// With [WithStore], each key's breaker shares its state with the breakers of
// the same key on every replica (an empty key then panics, like a breaker
// with a store and no name).
//
// Create one with [NewGroup]; the zero value is not usable. A Group must not
// be copied after first use. It is safe for concurrent use; [Group.Get] of a
// key already seen is a lock-free map read. It never forgets a key: its memory grows with the
// number of distinct keys (a few hundred bytes each), so keys should come
// from a bounded set (the hosts you talk to), not from unbounded input. The
// Group does not evict, because dropping a breaker would silently close an
// open circuit; build a new Group to start over.
type Group struct {
	cfg      config
	breakers sync.Map   // string -> *Breaker; written only under mu
	mu       sync.Mutex // serializes the creation of breakers
}

// NewGroup returns an empty Group whose breakers are configured by opts.
// Like [New], it panics at once if an option is bad.
func NewGroup(opts ...Option) *Group {
	return &Group{cfg: newConfig(opts, "NewGroup")}
}

// Get returns key's breaker, creating it on first use. Concurrent calls
// with the same key create it once and all return the same *Breaker.
//
// With [WithStore], the call that creates the breaker then calls the
// store's Watch for it, outside the Group's lock, so a Store whose Watch
// calls back into the Group does not deadlock. A concurrent Get of the
// same key may return the breaker before that Watch has returned: it works
// (every store operation returns the shared state), but a change another
// replica makes in that moment reaches its [WithOnStateChange] hook only
// through the breaker's next operation.
func (g *Group) Get(key string) *Breaker {
	if b, ok := g.breakers.Load(key); ok {
		return b.(*Breaker)
	}
	b, created := g.create(key)
	if created {
		b.watchStore()
	}
	return b
}

// create returns key's breaker under g.mu, building it if it is not there
// yet (created true), but does not call the store's Watch for it.
func (g *Group) create(key string) (b *Breaker, created bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if b, ok := g.breakers.Load(key); ok {
		return b.(*Breaker), false
	}
	cfg := g.cfg
	cfg.name = key
	b = buildBreaker(cfg)
	g.breakers.Store(key, b)
	return b, true
}
