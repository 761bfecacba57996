package retryhttp

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/retry"
)

// PanicError is the error of a request whose base transport panicked. It is
// the module's one panic type, shared with every other package. A panic is
// never retried.
type PanicError = safe.PanicError

// Transport is an http.RoundTripper that sends each request through a base
// transport and retries it with the retry package's policy; see the package
// doc for what it retries and how.
//
// A request is retryable when its method is idempotent (GET, HEAD, OPTIONS,
// TRACE, PUT, DELETE), or it carries an Idempotency-Key (or
// X-Idempotency-Key) header, or the Transport was built [WithAllMethods];
// and when its body can be rewound: no body, or a GetBody function, which
// http.NewRequest sets for the usual in-memory bodies. Any other request is
// sent once, still under the per-attempt timeout and the breaker.
//
// A request refused before sending is the caller's bug, never retried and
// never counted against its host. Two checks recognise it, decided before
// the first attempt rather than by reading the base's errors, whose text
// is not a contract. An http or https request that net/http's Transport
// would refuse before dialing is not sent at all: RoundTrip returns an
// error matching [ErrInvalidRequest] that names the fault (a nil Header, a
// header or trailer name that is not a token, a value holding a control
// character other than a tab, a method that is not a token, a URL without
// a host). A request of any other scheme (ftp, an empty one, one the base
// was taught with http.Transport.RegisterProtocol) is not HTTP as far as
// the Transport knows: it is handed to the base once, unhedged and outside
// the breakers, and what the base returns comes back (http.Transport's
// "unsupported protocol scheme", for one it does not speak).
//
// Create one with [New]; the zero value is not usable. A Transport is safe
// for concurrent use and keeps no state between requests but the breakers
// it was given. It starts no goroutine except for hedging (see [WithHedge]).
// A first-try success without a per-attempt timeout, breaker or hedge
// allocates nothing beyond what the base transport does.
type Transport struct {
	base          http.RoundTripper
	policy        []retry.Option // for a retryable request
	once          []retry.Option // policy with a single attempt, for any other
	retryIf       func(*http.Response, error) bool
	allMethods    bool
	breakers      *breaker.Group
	hedge         time.Duration
	maxRetryAfter time.Duration
	limiters      *hostLimiters    // nil: no limiters (limiter.go)
	budget        *retry.Budget    // nil: no budget; hedged copies spend from it
	obs           observe.Observer // WithObserver's, or nil for the default (observe.go)
}

// New returns a Transport configured by opts. It panics, with a message that
// starts with "retryhttp: " and names the option, if an option is bad.
func New(opts ...Option) *Transport {
	return newTransport(newConfig("New", opts))
}

// NewClient returns an *http.Client whose Transport is New(opts...). It
// panics as New does.
func NewClient(opts ...Option) *http.Client {
	return &http.Client{Transport: newTransport(newConfig("NewClient", opts))}
}

func newTransport(c config) *Transport {
	t := &Transport{
		base:          c.base,
		policy:        c.policy,
		retryIf:       c.retryIf,
		allMethods:    c.allMethods,
		breakers:      c.breakers,
		hedge:         c.hedge,
		maxRetryAfter: c.maxRetryAfter,
		limiters:      c.limiters,
		budget:        c.budget,
		obs:           c.obs,
	}
	if c.budget != nil {
		t.policy = append(t.policy[:len(t.policy):len(t.policy)], retry.WithBudget(c.budget))
	}
	t.once = append(append(make([]retry.Option, 0, len(t.policy)+1), t.policy...), retry.WithMaxAttempts(1))
	return t
}

// RoundTrip sends req, retrying as the Transport's policy says, and returns
// the response of the first attempt that is not retried, or, when the
// retries run out on a response that would have been retried (a 503, say),
// that last response with a nil error and its body unread, so that the
// caller can read what the server said. [AttemptsOf] tells how many
// attempts a response took.
//
// It returns an error when the last attempt failed without a response (a
// transport error, a breaker rejection, a panic in the base transport), or
// when the request's ctx ended: the error is a *retry.Error, carrying the
// number of attempts, that matches the last attempt's error and, when ctx
// ended, context.Cause(ctx). A request that cannot be hedged
// ([WithHedge]) or is invalid ([ErrInvalidRequest]) gets an error without
// being sent. When the retries end on a response, [StopOf] tells why.
//
// The request's ctx bounds the whole, waits included. Between attempts,
// every response not returned is read (up to 64 KiB) and closed, so that
// its connection can be reused. RoundTrip does not modify req; it closes
// req.Body, as a RoundTripper must, even on error. When it returns, every
// goroutine and timer it started has ended, and the only context left alive
// is the one bounding the returned response's body, which Close ends.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req == nil {
		return nil, errors.New("retryhttp: RoundTrip: nil *http.Request")
	}
	if req.URL == nil {
		closeBody(req)
		return nil, errors.New("retryhttp: RoundTrip: req.URL is nil")
	}
	c := call{t: t, req: req, ctx: req.Context()}
	opts := t.policy
	if !isHTTP(req.URL.Scheme) {
		opts = t.once // and neither hedged nor guarded: see Transport
	} else if err := validate(req); err != nil {
		closeBody(req)
		return nil, err
	} else if !t.retryable(req) {
		if t.hedge > 0 {
			closeBody(req)
			return nil, t.hedgeError(req)
		}
		opts = t.once
	}
	err := retry.Do(c.ctx, c.attempt, t.retryOptions(req, opts)...)
	return c.finish(err)
}

// CloseIdleConnections closes the idle connections of the base transport,
// if it has such a method; http.Client.CloseIdleConnections calls it.
func (t *Transport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// roundTrip sends r through the base transport, admitted by its host's
// limiter if there are limiters (see limitedRoundTrip). A request whose
// scheme is not HTTP goes to the base alone: no limiter, no breaker (see
// Transport).
func (t *Transport) roundTrip(ctx context.Context, r *http.Request) (*http.Response, error) {
	if !isHTTP(r.URL.Scheme) {
		return t.safeRoundTrip(r)
	}
	if t.limiters != nil {
		return t.limitedRoundTrip(ctx, r)
	}
	return t.guardedRoundTrip(ctx, r)
}

// guardedRoundTrip sends r through the base transport, guarded by its
// host's breaker if there are breakers. A panic in the base becomes a
// *PanicError.
func (t *Transport) guardedRoundTrip(ctx context.Context, r *http.Request) (*http.Response, error) {
	if t.breakers == nil {
		return t.safeRoundTrip(r)
	}
	var resp *http.Response
	sent := false
	err := t.breakers.Get(r.URL.Host).Do(ctx, func(context.Context) error {
		sent = true
		var err error
		resp, err = t.safeRoundTrip(r)
		if err == nil && resp.StatusCode >= 500 {
			return statusError(resp)
		}
		return err
	})
	if !sent {
		closeBody(r) // rejected: the base never had it
	}
	if resp != nil {
		return resp, nil
	}
	return nil, err
}

// safeRoundTrip calls the base transport, turning a panic (or a Goexit)
// into a *PanicError.
func (t *Transport) safeRoundTrip(r *http.Request) (resp *http.Response, err error) {
	returned := false
	defer func() {
		if !returned {
			resp, err = nil, safe.Recovered(recover())
		}
	}()
	resp, err = t.base.RoundTrip(r)
	returned = true
	if err == nil && resp == nil {
		err = errors.New("retryhttp: the base transport returned neither a response nor an error")
	}
	if err != nil && resp != nil {
		if resp.Body != nil {
			resp.Body.Close()
		}
		resp = nil
	}
	if resp != nil && resp.Body == nil {
		resp.Body = http.NoBody // as http.Client does
	}
	return resp, err
}
