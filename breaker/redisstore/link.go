package redisstore

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/internal/task"
)

// SpareLifetime is how long a [Store] on a *redis.Client keeps carrying
// its operations on its spare client after Redis answered again, before it
// goes back to the client it was given: longer than go-redis's pool waits
// (one second) before it dials again after a run of failed dials.
const SpareLifetime = 1500 * time.Millisecond

// link decides which client carries a Store's operations, and bounds each.
//
// Normally that is the client the Store was given. When an operation on it
// fails for want of a connection (Redis down, restarted or not answering),
// and that client is a *redis.Client, the operations go instead through a
// spare client the Store builds with the same options: go-redis's pool,
// after as many failed dials as its PoolSize, answers with the last dial
// error and dials again only once a second, so the given client may stay
// unusable for up to a second after Redis is back. The spare is new after
// every failure, so it has no such memory: one operation at a time tries
// it while Redis is down (the others fail at once with the last error),
// and once it has answered, every operation uses it until SpareLifetime
// has passed, then the given client again. The spare loads the script on
// every connection it makes (OnConnect), so the first operation after a
// restart is one EVALSHA, not EVALSHA, NOSCRIPT, EVAL.
type link struct {
	client   redis.UniversalClient
	template *redis.Options // the given client's options, for a spare; nil if it is not a *redis.Client
	honours  bool           // client enforces ctx deadlines on its connections (ContextTimeoutEnabled)

	mu      sync.Mutex // protects the fields below
	failed  bool       // an operation on client failed for want of a connection; the spare carries them
	spare   *spare     // nil until needed, and after it failed or retired
	since   time.Time  // when spare first answered; zero until it has
	probing bool       // an operation is trying a spare that has not answered yet
	lastErr error      // the last failure, for the operations that do not try
	closed  bool       // Close was called: no more spares

	running sync.WaitGroup // operations left running on client past their bound; Close waits
}

// spare is a client the Store built itself, with the number of operations
// using it; once retired, it is closed when the last of them is done.
type spare struct {
	c     *redis.Client
	users int // under link.mu
}

func newLink(client redis.UniversalClient) *link {
	l := &link{client: client}
	switch c := client.(type) {
	case *redis.Client:
		opt := *c.Options()
		l.template, l.honours = &opt, opt.ContextTimeoutEnabled
	case *redis.ClusterClient:
		l.honours = c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		l.honours = c.Options().ContextTimeoutEnabled
	}
	return l
}

// do runs call with ctx, which has a deadline, on the client that is to
// carry it now, and returns no later than the deadline.
func (l *link) do(ctx context.Context, call func(context.Context, redis.Scripter) ([]int64, error)) ([]int64, error) {
	sp, probe, err := l.acquire()
	if err != nil {
		return nil, err
	}
	if sp == nil {
		v, err := l.bounded(ctx, call)
		if err == nil || isReply(err) || l.template == nil {
			return v, err
		}
		l.fail(err)
		if !isDial(err) || ctx.Err() != nil {
			return v, err
		}
		// Nothing was sent: the spare may carry it within the same bound.
		if sp, probe, _ = l.acquire(); sp == nil {
			return v, err
		}
	}
	v, err := call(ctx, sp.c)
	l.release(sp, probe, err)
	return v, err
}

// bounded runs call on l.client and returns by ctx's deadline even if the
// client does not enforce it: the command is then left running on a
// goroutine of its own, until the client's own read timeout ends it. That
// goroutine keeps ctx (go-redis hooks read its values) past the caller's
// return, so ctx is retained first: an executor's fire-and-forget task ctx
// it derives from is retired instead of rewritten for the worker's next
// task under it. The context package does not see to that here: the
// breaker passes the store context.WithoutCancel of its caller's ctx, and
// a ctx derived from one (Done nil) never touches the task's.
func (l *link) bounded(ctx context.Context, call func(context.Context, redis.Scripter) ([]int64, error)) ([]int64, error) {
	if l.honours {
		return call(ctx, l.client)
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
		return nil, ErrClosed
	}
	l.running.Add(1)
	l.mu.Unlock()
	task.Retain(ctx)
	go func() {
		defer l.running.Done()
		v, err := call(ctx, l.client)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// acquire returns the spare to run an operation on, or nil for l.client,
// or the error to fail the operation with at once ([ErrClosed] after
// close). probe is true for the one operation trying a spare that has not
// answered yet.
func (l *link) acquire() (sp *spare, probe bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, false, ErrClosed
	}
	if !l.failed {
		return nil, false, nil
	}
	if l.spare == nil {
		opt := *l.template
		opt.ContextTimeoutEnabled = true
		opt.DialerRetries = 1 // the operation's bound leaves no time for more
		onConnect := opt.OnConnect
		opt.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
			if onConnect != nil {
				if err := onConnect(ctx, cn); err != nil {
					return err
				}
			}
			// An error here shows again in the operation; a script that is
			// not loaded only costs EVALSHA its NOSCRIPT fallback.
			_ = script.Load(ctx, cn)
			return nil
		}
		l.spare, l.since = &spare{c: redis.NewClient(&opt)}, time.Time{}
	}
	switch {
	case l.since.IsZero() && l.probing:
		return nil, false, l.lastErr
	case l.since.IsZero():
		l.probing, probe = true, true
	case time.Since(l.since) >= SpareLifetime:
		l.failed = false
		if c := l.retireLocked(); c != nil {
			c.Close()
		}
		return nil, false, nil
	}
	l.spare.users++
	return l.spare, probe, nil
}

// release ends an operation run on sp with err.
func (l *link) release(sp *spare, probe bool, err error) {
	l.mu.Lock()
	sp.users--
	var done *redis.Client // to close
	switch {
	case sp != l.spare:
		if sp.users == 0 {
			done = sp.c // retired while in use; this was the last operation
		}
	case err == nil || isReply(err):
		if probe {
			l.probing = false
		}
		if l.since.IsZero() {
			l.since = time.Now()
		}
	default:
		l.lastErr = err
		done = l.retireLocked() // the next operation tries a new one
	}
	l.mu.Unlock()
	if done != nil {
		done.Close()
	}
}

// fail notes that an operation on l.client failed with err, not a reply of
// Redis.
func (l *link) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.failed {
		l.failed, l.lastErr = true, err
	}
}

// retireLocked lets go of the spare, which is to be closed once no
// operation uses it: it returns the spare's client if that is now, for
// the caller to close. l.mu is held.
func (l *link) retireLocked() *redis.Client {
	sp := l.spare
	if sp == nil {
		return nil
	}
	l.spare, l.since, l.probing = nil, time.Time{}, false
	if sp.users > 0 {
		return nil // the last one closes it (release)
	}
	return sp.c
}

// close retires the spare and waits for the operations left running past
// their bound. Once closed is set, no operation starts (acquire and
// bounded refuse with ErrClosed), so no Add can follow running.Wait; one
// that began before runs on, on l.client or on the spare, which its
// release then closes.
func (l *link) close() {
	l.mu.Lock()
	l.closed = true
	done := l.retireLocked()
	l.mu.Unlock()
	if done != nil {
		done.Close()
	}
	l.running.Wait()
}

// isReply reports whether err is an error reply of Redis (which proves the
// connection works), not a failure to reach it.
func isReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// isDial reports whether err is a failure to connect, before anything was
// sent (go-redis's pool also returns its last dial error while it waits
// to dial again).
func isDial(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}
